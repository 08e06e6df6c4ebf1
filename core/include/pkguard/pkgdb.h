/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The package-database adapter interface.
 *
 * The core knows nothing about any package manager. Each backend fills in one
 * struct pkguard_pkgdb_ops (dpkg through libdpkg, later rpm, pacman, Portage),
 * and the CLI and the hooks reach the package database only through it.
 */
#ifndef PKGUARD_PKGDB_H
#define PKGUARD_PKGDB_H

#include <stdbool.h>
#include <stddef.h>

#include "pkguard/context.h"

struct pkguard_pkgdb;

/* An installed package instance, as the callbacks below see it. */
struct pkguard_pkginfo {
	const char *name;    /* "bash" */
	const char *arch;    /* "amd64", "all", or NULL where the backend has none */
	const char *version; /* installed version */
};

/* Called once per installed path; a non-zero return stops the walk and is returned. */
typedef int (*pkguard_path_fn)(void *userdata, const struct pkguard_pkginfo *pkg, const char *path);

/* Called once per installed package; a non-zero return stops the walk and is returned. */
typedef int (*pkguard_pkg_fn)(void *userdata, const struct pkguard_pkginfo *pkg);

/* Called once per owner of the INDEX'th path of owners_many(); as pkguard_pkg_fn otherwise. */
typedef int (*pkguard_owner_fn)(void *userdata, size_t index, const struct pkguard_pkginfo *pkg);

struct pkguard_pkgdb_ops {
	const char *name; /* "dpkg" */

	/* true when this package manager manages ROOT (e.g. ROOT/var/lib/dpkg/status exists). */
	bool (*manages)(const char *root);

	/*
	 * Open the package database of ctx's root read-only.
	 * Returns 0 with *out set (free with close), or <0 with the detail in ctx.
	 */
	int (*open)(struct pkguard_ctx *ctx, struct pkguard_pkgdb **out);

	/*
	 * open() for files() and lookup() of the N packages NAMES only (as
	 * those take them, "name" or "name:arch"), for a backend that opens
	 * that much faster than all of it: every other package may look not
	 * installed, and owners() and owners_many() may refuse with -EINVAL.
	 * NULL where a backend has none: open().
	 */
	int (*open_for)(struct pkguard_ctx *ctx, const char *const *names, size_t n,
			struct pkguard_pkgdb **out);

	/* Close; NULL is a no-op. */
	void (*close)(struct pkguard_pkgdb *db);

	/*
	 * Walk the installed files of package NAME (every installed architecture
	 * instance when NAME has no ":arch"; only that one when it has), as absolute
	 * paths relative to the root ("/usr/bin/bash"), directories included.
	 * Returns 0, the callback's non-zero value, -PKGUARD_ENOPKG when no
	 * instance of NAME is installed, or another <0 code with detail in ctx.
	 */
	int (*files)(struct pkguard_pkgdb *db, const char *name, pkguard_path_fn fn,
		     void *userdata);

	/*
	 * Walk the installed packages that own PATH (absolute, relative to the
	 * root). Merged-/usr aware: "/usr/bin/bash" finds the owner of "/bin/bash"
	 * and the other way round. Returns 0 (also when nobody owns PATH), the
	 * callback's non-zero value, or <0 with detail in ctx.
	 */
	int (*owners)(struct pkguard_pkgdb *db, const char *path, pkguard_pkg_fn fn,
		      void *userdata);

	/*
	 * owners() for N paths at once, for a backend that answers them faster
	 * in one pass over its database than in N lookups (and without holding
	 * every files list in memory): FN gets, path after path in the order of
	 * PATHS, the packages that owners() of that path would give. NULL where
	 * a backend has none: call owners() for each.
	 * Returns as owners().
	 */
	int (*owners_many)(struct pkguard_pkgdb *db, const char *const *paths, size_t n,
			   pkguard_owner_fn fn, void *userdata);

	/*
	 * Walk the installed instances of package NAME (as for files()).
	 * Returns 0, the callback's value, -PKGUARD_ENOPKG, or <0 with detail in ctx.
	 */
	int (*lookup)(struct pkguard_pkgdb *db, const char *name, pkguard_pkg_fn fn,
		      void *userdata);

	/*
	 * Put package NAME, installed at VERSION, on hold with the package
	 * manager's own mechanism (ON), or lift that hold (not ON; VERSION may
	 * be NULL), so that the next full upgrade goes
	 * on without it: dpkg selections, dnf versionlock, zypper locks.
	 * NULL while a backend has none; then a deferral is recorded only.
	 * Returns 0; 1 when there was nothing to do (ON: the package was held
	 * already, by the admin: pkguard must not record that hold as its own,
	 * nor ever lift it; not ON: it was not held); or <0 with detail in ctx.
	 */
	int (*hold)(struct pkguard_ctx *ctx, const char *name, const char *version, bool on);
};

/*
 * For the backends' owners(): on a merged-/usr root, /bin, /sbin and /lib*
 * are symlinks to their /usr counterparts, so "/usr/bin/x" and "/bin/x" name
 * one file while a package database holds only the name the package shipped.
 * Returns 1 with *ALIAS set to PATH's other name (owned: free()), 0 when PATH
 * has none on the context's root (not merged there, or not below such a
 * directory), or <0 with detail in ctx. The root's links are read, never
 * followed.
 */
int pkguard_usr_alias(struct pkguard_ctx *ctx, const char *path, char **alias);

/* The backends built into this program, NULL-terminated. */
extern const struct pkguard_pkgdb_ops *const pkguard_pkgdb_backends[];

/* The backend called NAME, or NULL. */
const struct pkguard_pkgdb_ops *pkguard_pkgdb_find(const char *name);

/* The first backend that manages ROOT, or NULL. */
const struct pkguard_pkgdb_ops *pkguard_pkgdb_detect(const char *root);

#endif
