/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Configuration and policy: what pkguard does with a package that is in use.
 *
 * INI files read with inih: the main file (/etc/pkguard/pkguard.conf), then
 * the "*.conf" drop-ins of the vendor directory (/usr/share/pkguard/policy.d)
 * and of the admin directory (/etc/pkguard/policy.d), merged by file
 * name: a file in the admin directory shadows the vendor file of the same
 * name, and all are read in name order. Later settings override earlier ones
 * key by key; lockfiles accumulate. Every diagnostic names "file:line".
 *
 *	[pkguard]                      global settings (main file or drop-ins)
 *	action = warn                  default action for a package in use
 *	helpers = warn                 for an instance of a package that ships helpers
 *	unprivileged = ignore          findings from non-system users: ignore|warn
 *	denied = in-use                a process that cannot be read: in-use|warn|ignore
 *	on-error = allow               when pkguard itself fails: allow|block
 *	deadline = 10s                 budget of one whole run
 *	wait-timeout = 5m
 *	then = block                   after a wait that timed out
 *	max-defer = 7d
 *	hold = yes                     hold deferred packages with the package manager
 *	system-uid-max = 999           uids above this are unprivileged users
 *	service-manager = auto         auto|systemd|openrc|/abs/path/to/program
 *	history = 90d                  how long runs and findings are kept
 *
 *	[package NAME GLOB...]         a policy for matching package names
 *	action = wait                  and then, wait-timeout, max-defer, helpers,
 *	lockfile = /abs/path           message; lockfile may repeat
 *
 * An unknown section, an unknown key, a duplicate key or a bad value is an
 * error, so a typo cannot silently disable a block.
 */
#ifndef PKGUARD_POLICY_H
#define PKGUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pkguard/context.h"

enum pkguard_action {
	PKGUARD_ACTION_ALLOW,
	PKGUARD_ACTION_WARN,
	PKGUARD_ACTION_WAIT,
	PKGUARD_ACTION_RESTART,
	PKGUARD_ACTION_DEFER,
	PKGUARD_ACTION_BLOCK,
};

/* "allow", "warn", ... */
const char *pkguard_action_name(enum pkguard_action action);

/* Parse an action name. Returns 0, or -PKGUARD_EPARSE. */
int pkguard_action_parse(const char *name, enum pkguard_action *out);

/*
 * Parse a duration with a unit: "500ms", "30s", "5m", "2h", "7d"; "0" alone
 * is allowed. Returns 0 with *MS set, or -PKGUARD_EPARSE (no unit, junk,
 * negative, more than 10 years).
 */
int pkguard_duration_parse(const char *text, uint64_t *ms);

/* Where a setting came from: a file (borrowed from the config) and line. */
struct pkguard_origin {
	const char *file; /* NULL: the built-in default */
	unsigned line;
};

enum pkguard_unprivileged { PKGUARD_UNPRIV_IGNORE, PKGUARD_UNPRIV_WARN };
enum pkguard_on_error { PKGUARD_ON_ERROR_ALLOW, PKGUARD_ON_ERROR_BLOCK };
enum pkguard_denied { PKGUARD_DENIED_IN_USE, PKGUARD_DENIED_WARN, PKGUARD_DENIED_IGNORE };

/* The settings that a [package] section can override, resolved for one package. */
struct pkguard_policy {
	enum pkguard_action action;
	struct pkguard_origin action_origin;
	enum pkguard_action then; /* after a timed-out wait, or a restart without a unit */
	struct pkguard_origin then_origin;
	enum pkguard_action helpers;
	struct pkguard_origin helpers_origin;
	uint64_t wait_timeout_ms;
	uint64_t max_defer_ms;
	const char *message;	/* NULL if none; borrowed from the config */
	const char **lockfiles; /* absolute paths (borrowed); the array is owned */
	size_t n_lockfiles;
	const char *section; /* "package certbot python3-certbot", or NULL for [pkguard] only */
};

struct pkguard_config {
	/* [pkguard] */
	struct pkguard_policy defaults;
	enum pkguard_unprivileged unprivileged;
	enum pkguard_denied denied;
	enum pkguard_on_error on_error;
	uint64_t deadline_ms;
	uint64_t history_ms;
	bool hold;
	uid_t system_uid_max;
	char *service_manager; /* "auto", "systemd", "openrc" or an absolute path */
	enum pkguard_maps_source scan_mappings; /* AUTO, QUERY or TEXT */
	/* The files read, in order; origins point at these strings. */
	char **files;
	size_t n_files;
	/* private: the [package] sections */
	struct pkguard_section *sections;
	size_t n_sections;
};

struct pkguard_config_paths {
	const char *main;	/* NULL: none; a missing main file is not an error */
	const char *vendor_dir; /* NULL: none */
	const char *admin_dir;	/* NULL: none */
};

/* The installed locations: /etc/pkguard/pkguard.conf and the two policy.d directories. */
extern const struct pkguard_config_paths pkguard_config_default_paths;

/*
 * Read the configuration. Files must be regular, owned by root (or by the
 * caller) and not writable by group or others: an unsafe file is an error.
 * On any error the message in ctx names "file:line: ..."; every error found
 * is also logged (not only the first). Returns 0 with *out set (free with
 * pkguard_config_free()), or <0 with no configuration.
 */
int pkguard_config_load(struct pkguard_ctx *ctx, const struct pkguard_config_paths *paths,
			struct pkguard_config **out);

/* The built-in defaults alone (what a hook uses when the configuration is broken). */
int pkguard_config_defaults(struct pkguard_ctx *ctx, struct pkguard_config **out);

void pkguard_config_free(struct pkguard_config *cfg);

/*
 * The policy for package NAME: the [pkguard] defaults, overridden key by key
 * by every [package] section whose globs match NAME (fnmatch), in reading
 * order; lockfiles of all matching sections accumulate. Strings are borrowed
 * from CFG; the lockfiles array is owned: release with pkguard_policy_release().
 * Returns 0 or -ENOMEM.
 */
int pkguard_config_resolve(const struct pkguard_config *cfg, const char *name,
			   struct pkguard_policy *out);

void pkguard_policy_release(struct pkguard_policy *policy);

#endif
