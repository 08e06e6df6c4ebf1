/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Acting on a decision: waiting for processes and locks, and stopping and
 * starting service units around a transaction.
 *
 * Waiting uses a pidfd per process and poll(): no busy loop, and a pid that
 * is reused while we wait cannot fool it (the pidfd names the process, and
 * its start time is checked when it is opened). Lockfiles have no event to
 * wait on, so they are re-probed a few times a second (F_OFD_GETLK for POSIX
 * and OFD locks, /proc/locks for flock ones).
 *
 * Services are stopped and started through the service manager, never by
 * signalling processes: systemd (`systemctl stop|start UNIT`), OpenRC
 * (`rc-service NAME stop|start`), or a program given as an absolute path,
 * run as `PROGRAM stop|start UNIT` (tests use one that records its calls).
 * Commands run with an empty environment but PATH, stdin on /dev/null, and a
 * timeout; the caller must not ignore SIGCHLD.
 */
#ifndef PKGUARD_ACT_H
#define PKGUARD_ACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pkguard/context.h"
#include "pkguard/fileset.h"

struct pkguard_wait_proc {
	pid_t pid;
	uint64_t start_time; /* from /proc/PID/stat: a reused pid has another */
	const char *comm;    /* raw, for progress messages (escaped there) */
};

struct pkguard_wait_lock {
	const char *path; /* absolute, on the live system */
	struct pkguard_fileid id;
};

/* Called about once a second while waiting; WHAT is escaped, one line. */
typedef void (*pkguard_wait_progress_fn)(void *userdata, const char *what, uint64_t left_ms);

struct pkguard_wait_spec {
	const struct pkguard_wait_proc *procs;
	size_t n_procs;
	const struct pkguard_wait_lock *locks;
	size_t n_locks;
	uint64_t deadline_ns;		   /* absolute CLOCK_MONOTONIC time to give up */
	pkguard_wait_progress_fn progress; /* may be NULL */
	void *userdata;
};

/*
 * Wait until every process has exited and no lockfile is locked, or until
 * the deadline. Returns 0 when all are gone, 1 on timeout (the context's
 * message then names what is still there), <0 on error.
 */
int pkguard_wait(struct pkguard_ctx *ctx, const struct pkguard_wait_spec *spec);

/* true when a POSIX, OFD or flock lock is held on the lockfile. Returns 1, 0, or <0. */
int pkguard_lockfile_held(struct pkguard_ctx *ctx, const struct pkguard_wait_lock *lock);

/*
 * Resolve the configured service manager ("auto", "systemd", "openrc" or an
 * absolute path) to a program to run. "auto" picks systemd when
 * /run/systemd/system exists, else OpenRC when /sbin/rc-service exists.
 * Returns 0 with PROGRAM (size bytes) and *KIND set, 1 when there is none, or
 * -PKGUARD_EUSAGE for a bad value.
 */
enum pkguard_service_kind {
	PKGUARD_SERVICE_SYSTEMD,
	PKGUARD_SERVICE_OPENRC,
	PKGUARD_SERVICE_PROGRAM,
};

int pkguard_service_manager(struct pkguard_ctx *ctx, const char *configured, char *program,
			    size_t size, enum pkguard_service_kind *kind);

/* true for a unit name that is safe to hand to the service manager. */
bool pkguard_unit_name_valid(const char *unit);

/*
 * Run the service manager to stop or start UNIT (START false: stop), waiting
 * at most TIMEOUT_MS. Returns 0 when it exited 0, or <0 with the detail
 * (exit status, signal, timeout) in ctx.
 */
int pkguard_service_run(struct pkguard_ctx *ctx, const char *program,
			enum pkguard_service_kind kind, const char *unit, bool start,
			uint64_t timeout_ms);

#endif
