/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state database: every run and decision, deferrals and the holds pkguard
 * placed, units stopped for an upgrade, processes that need a restart, and
 * one-shot overrides. SQLite, at /var/lib/pkguard/state.db by default.
 *
 * Safety (threats.md #14-#16): the directory is 0700 and the file is created
 * 0600 on purpose (O_CREAT|O_EXCL|O_NOFOLLOW) before SQLite opens it; the
 * journal is WAL with synchronous=NORMAL, a busy_timeout, and every write
 * transaction starts with BEGIN IMMEDIATE (retried whole on SQLITE_BUSY). The
 * schema version is in PRAGMA user_version with ordered migrations; a newer
 * schema is refused. A corrupt file is moved aside with its -wal and -shm to
 * state.db.corrupt-<unix time>, reported, and a fresh database is created:
 * nothing is ever silently reset.
 *
 * Times are Unix seconds. Process-controlled text (comm, file labels) is
 * stored escaped.
 */
#ifndef PKGUARD_STATE_H
#define PKGUARD_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pkguard/context.h"

#define PKGUARD_STATE_DEFAULT_PATH "/var/lib/pkguard/state.db"

struct pkguard_state;

/*
 * Open (creating if needed) the database at PATH. The parent directory is
 * created 0700 if missing; an existing one must be a directory owned by the
 * caller's euid and not writable by group or others (else -PKGUARD_EUNSAFE).
 * A file that is not a database, or fails the quick integrity check, is
 * quarantined as described above: then 1 is returned (with the new database
 * open and the quarantined file's path in the ctx message) so the caller can
 * report it loudly. Returns 0, 1, or <0 with detail in ctx.
 */
int pkguard_state_open(struct pkguard_ctx *ctx, const char *path, struct pkguard_state **out);

/* Close; NULL is a no-op. */
void pkguard_state_close(struct pkguard_state *st);

/* ---- runs ---- */

struct pkguard_run_info {
	const char *entry;   /* "check", "hook apt", "post apt", "resume", ... */
	const char *backend; /* "dpkg", ... or NULL */
	const char *root;    /* the target root */
};

/* Record the start of a run. Returns 0 with *RUN_ID set, or <0. */
int pkguard_state_run_begin(struct pkguard_state *st, const struct pkguard_run_info *info,
			    int64_t *run_id);

/* Record a run's verdict ("allow", "warn", "block", ..., or "error") and an optional error text. */
int pkguard_state_run_end(struct pkguard_state *st, int64_t run_id, const char *verdict,
			  const char *error);

struct pkguard_state_target {
	const char *name;
	const char *old_version; /* may be NULL */
	const char *new_version; /* may be NULL */
	const char *action;	 /* decided action name */
	const char *origin;	 /* "file:line" that chose it, or "default" */
	const char *detail;	 /* one line: why, may be NULL */
};

int pkguard_state_add_target(struct pkguard_state *st, int64_t run_id,
			     const struct pkguard_state_target *t);

struct pkguard_state_finding {
	const char *package;
	pid_t pid;
	uint64_t start_time;
	uid_t uid;
	const char *comm; /* raw; stored escaped */
	const char *unit; /* may be NULL */
	const char *reason;
	const char *file; /* may be NULL */
};

int pkguard_state_add_finding(struct pkguard_state *st, int64_t run_id,
			      const struct pkguard_state_finding *f);

/* Record an event (fail-open, released deferral, quarantine, ...): level "error"|"warning"|"info".
 */
int pkguard_state_add_event(struct pkguard_state *st, int64_t run_id, const char *level,
			    const char *message);

/* ---- deferrals and holds ---- */

struct pkguard_deferral {
	char package[256];
	char version[256]; /* the version deferred (the new one), may be "" */
	int64_t first;	   /* first deferred */
	int64_t last;	   /* last deferred */
	unsigned count;	   /* how many runs deferred it */
};

/*
 * Record that PACKAGE was deferred now: creates the deferral or bumps it (a
 * non-empty VERSION replaces the recorded one; first and count carry on).
 * *OUT (may be NULL) receives the deferral as it stands after the call.
 * -ENAMETOOLONG when PACKAGE or VERSION does not fit struct pkguard_deferral.
 */
int pkguard_state_defer(struct pkguard_state *st, int64_t run_id, const char *package,
			const char *version, struct pkguard_deferral *out);

/* The active deferral of PACKAGE: 0 with *OUT set, 1 when there is none, <0. */
int pkguard_state_deferral(struct pkguard_state *st, const char *package,
			   struct pkguard_deferral *out);

/* End the active deferral of PACKAGE with a reason ("released", "expired", ...). 1 if none. */
int pkguard_state_deferral_end(struct pkguard_state *st, const char *package, const char *reason);

/* Record that pkguard placed a native hold on PACKAGE with BACKEND ("dpkg", "dnf", ...). */
int pkguard_state_hold_add(struct pkguard_state *st, const char *package, const char *backend);

/* Forget the hold on PACKAGE (pkguard lifted it). 1 if pkguard had none recorded. */
int pkguard_state_hold_remove(struct pkguard_state *st, const char *package);

/* 0 if pkguard placed a hold on PACKAGE (only those may be lifted), 1 if not, <0. */
int pkguard_state_hold_placed(struct pkguard_state *st, const char *package);

/* ---- units stopped for an upgrade ---- */

/* Record that UNIT was stopped with MANAGER ("systemd", "openrc", or a program path). */
int pkguard_state_unit_stopped(struct pkguard_state *st, int64_t run_id, const char *unit,
			       const char *manager);

/* Mark UNIT started again (ERROR NULL) or its start failed (ERROR set: it stays pending). */
int pkguard_state_unit_started(struct pkguard_state *st, const char *unit, const char *error);

/* ---- needs-restart ---- */

/*
 * Replace the needs-restart list with these entries, in one transaction. A
 * process already listed (same package, pid and start time) keeps its
 * original "since". RUN_ID 0 means "outside any run" (needs-restart itself).
 */
int pkguard_state_needs_restart_set(struct pkguard_state *st, int64_t run_id,
				    const struct pkguard_state_finding *items, size_t n);

/* ---- overrides ---- */

/* Let the next upgrade of PACKAGE through: 0, or <0. A second call keeps one override. */
int pkguard_state_override_add(struct pkguard_state *st, const char *package, uid_t by);

/* Use up the override of PACKAGE in RUN_ID: 0 if there was one (now consumed), 1 if none. */
int pkguard_state_override_consume(struct pkguard_state *st, const char *package, int64_t run_id);

/* ---- reading, for status and resume ---- */

enum pkguard_state_list {
	PKGUARD_STATE_DEFERRALS,     /* active: package, version, first, last, count */
	PKGUARD_STATE_HOLDS,	     /* package, backend, placed */
	PKGUARD_STATE_STOPPED_UNITS, /* pending: unit, manager, stopped, run_id, error */
	PKGUARD_STATE_NEEDS_RESTART, /* package, pid, start_time, uid, comm, unit, file, since */
	PKGUARD_STATE_OVERRIDES,     /* pending: package, created, by_uid */
	PKGUARD_STATE_RUNS, /* newest first: id, started, finished, entry, backend, root, verdict,
			       error */
	PKGUARD_STATE_TARGETS, /* of the newest runs: run_id, name, old, new, action, origin, detail
				*/
	PKGUARD_STATE_EVENTS,  /* newest first: time, run_id, level, message */
};

/*
 * One row as column name/value pairs. Values are text (NULL for SQL NULL);
 * integers are given as decimal text. Borrowed for the callback's duration.
 */
struct pkguard_state_row {
	size_t n;
	const char *const *names;
	const char *const *values;
};

/*
 * Call FN for each row of LIST, at most LIMIT rows (0: no limit), in one read
 * transaction. Returns 0, FN's non-zero value, or <0.
 */
int pkguard_state_list(struct pkguard_state *st, enum pkguard_state_list list, unsigned limit,
		       int (*fn)(void *userdata, const struct pkguard_state_row *row),
		       void *userdata);

/*
 * Delete runs (with their targets, findings and events) older than MAX_AGE_S
 * seconds, and ended deferrals, consumed overrides and started units as old.
 */
int pkguard_state_prune(struct pkguard_state *st, uint64_t max_age_s);

#endif
