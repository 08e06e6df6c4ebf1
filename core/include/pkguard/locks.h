/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File locks: /proc/locks, the "lock:" lines of /proc/PID/fdinfo, and a safe
 * probe of a named lockfile.
 *
 * Kernel facts behind this module (verified on 6.18):
 *  - /proc/locks lists POSIX, FLOCK, OFDLCK and LEASE locks; a blocked waiter
 *    is printed under its holder with "->"; the device is hex MAJ:MIN and the
 *    inode decimal ("fe:00:10978747").
 *  - OFD locks show pid -1. flock and OFD locks belong to the open file
 *    description, so after a fork the pid shown can be a dead parent's: their
 *    real holders are the processes whose fdinfo carries the "lock:" line.
 *  - F_GETLK/F_OFD_GETLK see POSIX and OFD locks, never flock locks.
 */
#ifndef PKGUARD_LOCKS_H
#define PKGUARD_LOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pkguard/context.h"
#include "pkguard/fileset.h"

enum pkguard_lock_kind {
	PKGUARD_LOCK_POSIX,
	PKGUARD_LOCK_FLOCK,
	PKGUARD_LOCK_OFD,
	PKGUARD_LOCK_LEASE,
};

#define PKGUARD_LOCK_EOF UINT64_MAX

struct pkguard_lock {
	unsigned ordinal;
	enum pkguard_lock_kind kind;
	bool waiter;	/* a "->" line: blocked, waiting for the lock above it */
	bool write;	/* WRITE (exclusive) rather than READ */
	bool mandatory; /* MANDATORY rather than ADVISORY (or a lease state) */
	pid_t pid;	/* -1 for OFD locks; may be stale for FLOCK and OFD */
	struct pkguard_fileid id;
	uint64_t start;
	uint64_t end; /* PKGUARD_LOCK_EOF for "EOF" */
};

/*
 * Parse one line of /proc/locks, or the text after "lock:" in fdinfo, e.g.
 * "2: -> POSIX  ADVISORY  WRITE 9362 fe:00:10978773 0 EOF". Whitespace is
 * split freely (column widths vary). LEN excludes any newline.
 * Returns 0, or -PKGUARD_EPARSE for a malformed line.
 */
int pkguard_lock_parse(const char *line, size_t len, struct pkguard_lock *out);

struct pkguard_locktab {
	struct pkguard_lock *locks;
	size_t n_locks;
	size_t n_bad; /* lines that did not parse (skipped, logged) */
};

/*
 * Read /proc/locks from the context's /proc. A missing /proc/locks
 * (procfs mounted with subset=pid) is -PKGUARD_ENOPROC: lock state unknown,
 * never "unlocked". Free the result with pkguard_locktab_free().
 */
int pkguard_locktab_read(struct pkguard_ctx *ctx, struct pkguard_locktab **out);

/*
 * As pkguard_locktab_read(), from what reading /proc/locks gave: READ_RC 0
 * and its TEXT, or READ_RC a negative errno. For a read made on another
 * thread (pkguard_scan_early_start()).
 */
int pkguard_locktab_from_read(struct pkguard_ctx *ctx, int read_rc, const char *text, size_t len,
			      struct pkguard_locktab **out);

/* Parse TEXT (the whole of /proc/locks) into a table; for tests and fuzzing. */
int pkguard_locktab_parse(struct pkguard_ctx *ctx, const char *text, size_t len,
			  struct pkguard_locktab **out);

void pkguard_locktab_free(struct pkguard_locktab *tab);

/*
 * Call FN for each "lock:" line in the text of one /proc/PID/fdinfo/N file.
 * Returns 0, FN's non-zero value, or -PKGUARD_EPARSE.
 */
int pkguard_fdinfo_locks(const char *text, size_t len,
			 int (*fn)(void *userdata, const struct pkguard_lock *lock),
			 void *userdata);

struct pkguard_lock_probe {
	struct pkguard_fileid id;
	uid_t uid;
	mode_t mode;
	bool held;	 /* a POSIX or OFD lock conflicts with a write lock */
	bool held_write; /* ... and it is a write lock */
	pid_t pid;	 /* the POSIX holder's pid, -1 for OFD, 0 if not held */
};

/*
 * Probe the lockfile PATH (absolute, on the live system) safely: opened with
 * O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_NOCTTY|O_CLOEXEC, so a symlink, a FIFO or a
 * device cannot make the caller follow, hang or read; fstat() must show a
 * regular file; then F_OFD_GETLK asks whether a write lock would conflict.
 * flock() locks are invisible to F_OFD_GETLK: look them up in /proc/locks by
 * out->id. Returns 0, -ENOENT when PATH does not exist, -PKGUARD_EUNSAFE for a
 * symlink or non-regular file, or another negative errno, with detail in ctx.
 */
int pkguard_lock_probe(struct pkguard_ctx *ctx, const char *path, struct pkguard_lock_probe *out);

#endif
