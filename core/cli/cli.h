/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The pkguard program's shared declarations. */
#ifndef PKGUARD_CLI_H
#define PKGUARD_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "pkguard/context.h"
#include "pkguard/detect.h"
#include "pkguard/fileset.h"
#include "pkguard/pkgdb.h"
#include "pkguard/policy.h"
#include "pkguard/proc.h"
#include "pkguard/run.h"
#include "pkguard/state.h"
#include "pkguard/table.h"

/* Exit statuses, mapped from command results in main() only. */
enum pkguard_exit {
	PKGUARD_EXIT_OK = 0,	   /* nothing in use (check), done (others) */
	PKGUARD_EXIT_IN_USE = 1,   /* something is in use (check) */
	PKGUARD_EXIT_USAGE = 2,	   /* usage error, unknown package, bad configuration */
	PKGUARD_EXIT_INTERNAL = 3, /* pkguard itself failed */
};

/* A command's result: 0 done or nothing in use, 1 in use, <0 an error code. */
#define CLI_IN_USE 1

struct cli {
	struct pkguard_ctx *ctx;
	const struct pkguard_pkgdb_ops *backend; /* NULL when none manages the root */
	bool json;
	const char *config_path; /* --config FILE, or NULL for the installed locations */
	const char *state_path;	 /* --state FILE, or NULL for PKGUARD_STATE_DEFAULT_PATH */
	const char *format;	 /* --format NAME, or NULL */
};

/* The options of a run as the global options name them; ENTRY may be NULL. */
struct pkguard_run_opts cli_run_opts(struct cli *cli, enum pkguard_run_mode mode,
				     const char *entry);

/* Load the configuration named by --config (or the installed one). */
int cli_load_config(struct cli *cli, struct pkguard_config **cfg);

/*
 * Open the state database named by --state (or the default). A quarantined
 * corrupt database is logged; the fresh one is used.
 */
int cli_open_state(struct cli *cli, struct pkguard_state **st);

struct pkguard_command {
	const char *name;
	const char *args;    /* "PKG..." */
	const char *summary; /* one line for --help */
	int (*run)(struct cli *cli, int argc, char **argv);
	/*
	 * It loads the package database through libdpkg while other threads of
	 * ours run (pkguard_run_execute()): see start_prefault() in main.c.
	 */
	bool prefault;
};

extern const struct pkguard_command cmd_check;
extern const struct pkguard_command cmd_scan;
extern const struct pkguard_command cmd_status;
extern const struct pkguard_command cmd_needs_restart;
extern const struct pkguard_command cmd_allow;
extern const struct pkguard_command cmd_resume;
extern const struct pkguard_command cmd_hook;
extern const struct pkguard_command cmd_post;

/* inspect.c: the work shared by check and scan. */

/* Open the backend's database, or fail with a message naming the root. */
int cli_open_pkgdb(struct cli *cli, struct pkguard_pkgdb **db);

/*
 * Scan every process and build INS->fs from the packages owning what they
 * use. The findings are left to the caller (pkguard_detect() or, counting
 * only, pkguard_detect_each()).
 */
int inspection_run_all(struct cli *cli, struct pkguard_pkgdb *db, struct pkguard_inspection *ins);

/* output.c */

/* Escape process-controlled text; the result lives until the next call with the same slot. */
const char *esc(unsigned slot, const char *s);

/* "root", or the uid as digits when it has no name. Static buffer per call slot. */
const char *user_name(uid_t uid);

/* Print a JSON object to stdout, pretty, with a final newline; frees it. */
struct json_object;
int json_print(struct json_object *obj);

/* A finding's process as a JSON object (escaped strings). */
struct json_object *cli_json_process(const struct pkguard_inspection *ins,
				     const struct pkguard_finding *f);

/* "1 instance", "2 instances" */
const char *plural(char *buf, size_t size, size_t n, const char *one, const char *many);

#endif
