/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One run, as every entry point makes it: targets → fileset → scan →
 * decision → (acting) → record. The pkguard program's check makes a dry run,
 * its hooks and the rpm transaction plugin make real ones. The caller brings
 * the targets and shows the outcome (pkguard_run_report() renders what a
 * package manager's user reads); everything between is here, so that every
 * package manager gets the same decision and the same safety rules.
 */
#ifndef PKGUARD_RUN_H
#define PKGUARD_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pkguard/context.h"
#include "pkguard/decide.h"
#include "pkguard/detect.h"
#include "pkguard/fileset.h"
#include "pkguard/locks.h"
#include "pkguard/pkgdb.h"
#include "pkguard/policy.h"
#include "pkguard/proc.h"
#include "pkguard/state.h"

/* A finished inspection: the files looked for, the processes, and what matched. */
struct pkguard_inspection {
	struct pkguard_fileset *fs;
	struct pkguard_proctab *procs;
	struct pkguard_findings *findings;
	struct pkguard_locktab *locks;
	double seconds;
	/* Started before the package database is read (may be NULL): see pkguard/proc.h. */
	struct pkguard_scan_early *early;
	/* For tests: scan before taking the lock table, as when its read is late. */
	bool locks_later;
};

/*
 * Open BACKEND's database of the context's root, or fail with a message
 * naming the root when no backend manages it (BACKEND NULL).
 */
int pkguard_pkgdb_open(struct pkguard_ctx *ctx, const struct pkguard_pkgdb_ops *backend,
		       struct pkguard_pkgdb **db);

/* pkguard_pkgdb_open() for lookup() and files() of the N packages NAMES only (see open_for). */
int pkguard_pkgdb_open_for(struct pkguard_ctx *ctx, const struct pkguard_pkgdb_ops *backend,
			   const char *const *names, size_t n, struct pkguard_pkgdb **db);

/* Add every installed file of package NAME, as BACKEND knows it, to FS as a new target. */
int pkguard_fileset_add_package(const struct pkguard_pkgdb_ops *backend, struct pkguard_pkgdb *db,
				struct pkguard_fileset *fs, const char *name,
				const char *new_version);

/* Scan /proc (and /proc/locks) for the files of INS->fs and collect the findings. */
int pkguard_inspect(struct pkguard_ctx *ctx, struct pkguard_inspection *ins);

void pkguard_inspection_release(struct pkguard_inspection *ins);

/* A package the transaction replaces or removes. */
struct pkguard_run_target {
	const char *name;
	const char *new_version; /* NULL: unknown, or a removal */
	/*
	 * With FILES the caller knows the installed version's files (paths
	 * under the context's root) and its version; without, the backend's
	 * database is asked for them.
	 */
	const char *old_version;
	const char *arch;
	const char *const *files;
	size_t n_files;
};

enum pkguard_run_mode {
	PKGUARD_RUN_DRY,  /* decide and report only: no waiting, no state written */
	PKGUARD_RUN_TEST, /* a test transaction: decide, record, defer; never wait or stop */
	PKGUARD_RUN_ACT,  /* wait, stop units, defer, record */
};

struct pkguard_run_opts {
	enum pkguard_run_mode mode;
	const char *entry;	 /* "check", "hook apt", "rpm plugin", ... */
	const char *config_path; /* the main file, its policy.d beside it; NULL: installed */
	const char *state_path;	 /* NULL: PKGUARD_STATE_DEFAULT_PATH */
	const struct pkguard_pkgdb_ops *backend; /* NULL: none manages the root */
	struct pkguard_pkgdb *db; /* open already (the plugin's); NULL: opened here */
	/* Called about once a second while waiting; may be NULL. */
	void (*wait_progress)(void *userdata, const char *what, uint64_t left_ms);
	void *userdata;
};

/* What became of one target. */
struct pkguard_run_outcome {
	enum pkguard_action action; /* allow, warn, defer or block after acting */
	char note[256];		    /* what acting did, for the report */
	char **units;		    /* units stopped for the transaction (owned) */
	size_t n_units;
};

struct pkguard_run {
	struct pkguard_ctx *ctx;
	struct pkguard_run_opts opts;
	struct pkguard_config *cfg;
	struct pkguard_state *st; /* NULL when dry and there is no database */
	int64_t run_id;
	struct pkguard_inspection ins;
	struct pkguard_target_state *tstate;
	struct pkguard_decisions *dec;
	struct pkguard_run_outcome *out; /* one per target */
	enum pkguard_action verdict;
	bool failed_open; /* an internal error was turned into "allow" */
};

/*
 * Run the decision for TARGETS into R (zeroed by the caller). In the real
 * modes an internal error (config, state, /proc, deadline) fails open: the
 * verdict is allow (or block with on-error = block), the error is logged
 * loudly and recorded, and 0 is returned. A dry run returns errors (<0,
 * detail in ctx); a configuration error is -PKGUARD_EPARSE or
 * -PKGUARD_EUNSAFE. A target that is not installed is skipped in the real
 * modes (nothing of it can be replaced) and an error in a dry run.
 * Messages go to the context's logger.
 */
int pkguard_run_execute(struct pkguard_run *r, struct pkguard_ctx *ctx,
			const struct pkguard_run_opts *opts,
			const struct pkguard_run_target *targets, size_t n);

/* True when the run's verdict refuses the transaction (block or defer). */
bool pkguard_run_refuses(const struct pkguard_run *r);

void pkguard_run_release(struct pkguard_run *r);

/*
 * An entry point that cannot even find its targets fails open like any
 * internal error: the context's message and STAGE are logged loudly and
 * recorded, and the upgrade goes on unless the configuration says
 * on-error = block. Returns true for block.
 */
bool pkguard_run_fail_open(struct pkguard_ctx *ctx, const struct pkguard_run_opts *opts,
			   const char *stage);

/*
 * PKGUARD_DISABLE=1 in the environment of the package manager: the admin's
 * way to let one transaction through unchecked, where the package manager
 * has no switch that skips pkguard. Returns true when it is set to "1":
 * MSG ("disabled by PKGUARD_DISABLE=1 for this apt run: ...") is logged as a
 * warning and recorded as a run of its own (verdict allow), so that a
 * skipped check stays visible. Any other value is warned about and ignored
 * (false). The environment is only read.
 */
bool pkguard_run_disabled(struct pkguard_ctx *ctx, const struct pkguard_run_opts *opts,
			  const char *msg);

/*
 * What a package manager's user reads about the run, one message per line
 * on OUT, each starting "pkguard: ": refusals in full (processes, policy,
 * the way out), warnings and what acting did in short.
 */
void pkguard_run_report(const struct pkguard_run *r, FILE *out);

/* Pieces of the report, for a program's own: */

/* "file:line" of ORIGIN, or "built-in default". */
const char *pkguard_origin_text(const struct pkguard_origin *origin, char *buf, size_t size);

/* Which setting a decision took: "action" or "helpers". */
const char *pkguard_decision_setting(const struct pkguard_decision *d);

/* "name old -> new (arch)" of target T, escaped. */
void pkguard_run_target_title(const struct pkguard_run *r, size_t t, char *buf, size_t size);

/* The findings of target T (PKGUARD_TARGET_ANY: the unreadable processes) as a table. */
void pkguard_run_findings(const struct pkguard_run *r, size_t t, FILE *out, const char *indent);

/* The helper programs target T ships, one per line. */
void pkguard_run_helpers(const struct pkguard_run *r, size_t t, FILE *out, const char *indent);

/*
 * Load the configuration: FILE and FILE's directory's policy.d, or the installed one.
 * Its scan-mappings becomes the context's (pkguard_ctx_set_maps()).
 */
int pkguard_config_load_file(struct pkguard_ctx *ctx, const char *file,
			     struct pkguard_config **cfg);

/* Open the state at PATH (NULL: the default); a quarantined corrupt file was logged. */
int pkguard_run_open_state(struct pkguard_ctx *ctx, const char *path, struct pkguard_state **st);

/*
 * Start every unit pkguard stopped for an upgrade and has not started again:
 * after the transaction, after a failed one, and after a crash (resume).
 * Returns the number that failed to start (they stay pending), or <0.
 */
int pkguard_start_stopped_units(struct pkguard_ctx *ctx, struct pkguard_state *st);

/*
 * The post step after a transaction, also a failed one: start the units
 * stopped for it, record what now runs replaced files (through BACKEND and
 * DB, or a database opened here when DB is NULL) and close a run of its own
 * called ENTRY. It never refuses anything: errors are logged, not returned.
 */
void pkguard_post(struct pkguard_ctx *ctx, const struct pkguard_run_opts *opts);

#endif
