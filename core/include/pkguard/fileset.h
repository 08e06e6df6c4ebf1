/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fileset: the files of the packages in a transaction, by identity.
 *
 * A backend adds its targets (package name, versions) and their installed
 * paths, relative to the context's root. Each path is looked up once under the
 * root, without following a final symlink and with absolute symlinks resolved
 * inside the root; regular files are indexed by (st_dev, st_ino), which is how
 * the scan matches processes to packages. Path text is never used to match.
 */
#ifndef PKGUARD_FILESET_H
#define PKGUARD_FILESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pkguard/context.h"

/* A file's identity. */
struct pkguard_fileid {
	dev_t dev;
	ino_t ino;
};

enum pkguard_file_flags {
	PKGUARD_FILE_EXEC = 1 << 0,	/* some execute bit is set */
	PKGUARD_FILE_HELPER = 1 << 1,	/* executable outside the PATH directories (see below) */
	PKGUARD_FILE_LOCKFILE = 1 << 2, /* a lockfile the policy names for the target */
};

struct pkguard_file {
	char *path;    /* as the package database lists it, e.g. "/usr/bin/foo" */
	size_t target; /* index of the owning target */
	struct pkguard_fileid id;
	mode_t mode;
	uid_t uid;
	unsigned flags; /* enum pkguard_file_flags */
};

struct pkguard_target {
	char *name;
	char *arch;	   /* NULL if unknown */
	char *old_version; /* the installed version; NULL if unknown */
	char *new_version; /* NULL for a removal or if unknown */
	size_t n_files;	   /* regular files indexed */
	size_t n_helpers;  /* of those, helpers */
	size_t n_missing;  /* listed paths that do not exist under the root */
};

struct pkguard_fileset;

/* Create an empty fileset bound to CTX (borrowed; must outlive the fileset). */
int pkguard_fileset_new(struct pkguard_ctx *ctx, struct pkguard_fileset **out);

/* Free; NULL is a no-op. */
void pkguard_fileset_free(struct pkguard_fileset *fs);

/*
 * Add a target. ARCH, OLD_VERSION and NEW_VERSION may be NULL. The strings are
 * copied. *INDEX receives the target's index. Returns 0 or -ENOMEM.
 */
int pkguard_fileset_add_target(struct pkguard_fileset *fs, const char *name, const char *arch,
			       const char *old_version, const char *new_version, size_t *index);

/*
 * Add one installed path of target TARGET and look it up under the root.
 * Regular files are indexed; directories, symlinks and other types are
 * skipped; a missing path is counted in n_missing. A file is a helper when it
 * is executable, lives outside /bin, /sbin, /usr/bin, /usr/sbin,
 * /usr/local/bin, /usr/local/sbin, /usr/games and /etc, and is not a shared
 * object ("*.so", "*.so.*"): a program that another program of the package
 * may exec later, like lightningd's subdaemons in /usr/libexec/c-lightning/.
 * Returns 0, or <0 for errors other than "missing" with detail in ctx.
 */
int pkguard_fileset_add_path(struct pkguard_fileset *fs, size_t target, const char *path);

/*
 * Add a lockfile that the policy names for target TARGET (absolute, relative
 * to the root like package paths). It is looked up the same way, never
 * opened; only a regular file is indexed, flagged PKGUARD_FILE_LOCKFILE, with
 * its owner and mode kept so that the policy can tell a trustworthy lockfile
 * (root's, not writable by others) from one anybody could lock. A missing
 * lockfile is fine: nobody holds a lock on it. Returns 0 or <0 with detail.
 */
int pkguard_fileset_add_lockfile(struct pkguard_fileset *fs, size_t target, const char *path);

size_t pkguard_fileset_n_targets(const struct pkguard_fileset *fs);
/* Borrowed, valid until the fileset is changed or freed. */
const struct pkguard_target *pkguard_fileset_target(const struct pkguard_fileset *fs, size_t i);

size_t pkguard_fileset_n_files(const struct pkguard_fileset *fs);
/* Borrowed, valid until the fileset is changed or freed. */
const struct pkguard_file *pkguard_fileset_file(const struct pkguard_fileset *fs, size_t i);

/*
 * Iterate the files with identity ID (several targets may list one inode).
 * Start with *CURSOR = 0. Returns 0 with *FILE set, or 1 when done.
 */
int pkguard_fileset_lookup(const struct pkguard_fileset *fs, struct pkguard_fileid id,
			   size_t *cursor, const struct pkguard_file **file);

/* true when some indexed file is on DEV: a cheap pre-filter for maps lines. */
bool pkguard_fileset_has_dev(const struct pkguard_fileset *fs, dev_t dev);

/* true when some indexed file has inode INO, whatever its device (btrfs, see proc.h). */
bool pkguard_fileset_has_ino(const struct pkguard_fileset *fs, ino_t ino);

#endif
