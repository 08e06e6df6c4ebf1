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
#include "pkguard/state.h"

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
};

extern const struct pkguard_command cmd_check;
extern const struct pkguard_command cmd_scan;
extern const struct pkguard_command cmd_status;
extern const struct pkguard_command cmd_needs_restart;
extern const struct pkguard_command cmd_allow;
extern const struct pkguard_command cmd_resume;
extern const struct pkguard_command cmd_hook;
extern const struct pkguard_command cmd_post;

/*
 * Start every unit pkguard stopped for an upgrade and has not started again:
 * after the transaction, after a failed one, and after a crash (resume).
 * Returns the number that failed to start (they stay pending), or <0.
 */
int cli_start_stopped_units(struct cli *cli, struct pkguard_state *st);

/*
 * Find the processes that run replaced package files (see needs-restart) and
 * store them as the state's needs-restart list, for RUN_ID. *N_PROCESSES
 * receives how many there are. Returns 0 or <0 with detail in ctx.
 */
int cli_needs_restart_record(struct cli *cli, struct pkguard_state *st, int64_t run_id,
			     size_t *n_processes);

/* inspect.c: the work shared by check and scan. */

/* A finished inspection: the files looked for, the processes, and what matched. */
struct inspection {
	struct pkguard_fileset *fs;
	struct pkguard_proctab *procs;
	struct pkguard_findings *findings;
	struct pkguard_locktab *locks;
	double seconds;
};

/* Open the backend's database, or fail with a message naming the root. */
int cli_open_pkgdb(struct cli *cli, struct pkguard_pkgdb **db);

/* Add every installed file of package NAME to FS as a new target. */
int inspection_add_package(struct cli *cli, struct pkguard_pkgdb *db, struct pkguard_fileset *fs,
			   const char *name, const char *new_version);

/* Scan /proc (and /proc/locks) for the files of INS->fs and collect the findings. */
int inspection_run(struct cli *cli, struct inspection *ins);

/* Scan every process and build INS->fs from the packages owning what they use. */
int inspection_run_all(struct cli *cli, struct pkguard_pkgdb *db, struct inspection *ins);

void inspection_release(struct inspection *ins);

/* output.c */

/* An aligned text table. Cells are copied; process-controlled text must be escaped first. */
struct table {
	size_t ncols;
	const char *const *headers;
	char **cells;
	size_t nrows, cap;
};

void table_init(struct table *t, size_t ncols, const char *const *headers);
int table_add(struct table *t, const char *const *row);
void table_print(const struct table *t, FILE *out, const char *indent);
void table_release(struct table *t);

/* Escape process-controlled text; the result lives until the next call with the same slot. */
const char *esc(unsigned slot, const char *s);

/* "root", or the uid as digits when it has no name. Static buffer per call slot. */
const char *user_name(uid_t uid);

/* Print a JSON object to stdout, pretty, with a final newline; frees it. */
struct json_object;
int json_print(struct json_object *obj);

/* A finding's process as a JSON object (escaped strings). */
struct json_object *cli_json_process(const struct inspection *ins, const struct pkguard_finding *f);

/* "1 instance", "2 instances" */
const char *plural(char *buf, size_t size, size_t n, const char *one, const char *many);

#endif
