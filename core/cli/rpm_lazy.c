/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rpm backend, loaded on first use: backend-rpm.so (backends/rpm)
 * holds it with librpm and its libraries, which cost every run 1.5 ms to
 * load (pkguard --version, perf stat -r 100), though a Debian system never
 * needs them. Dpkg is detected first, so on a dpkg root nothing is loaded.
 * The path is fixed at build time: this build's file when the program runs
 * from its build tree (the tests), else the installed one; both are as
 * trusted as the program itself. One thread at a time, as the backends are.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pkguard/context.h"
#include "pkguard/error.h"
#include "pkguard/pkgdb.h"

#include "backend.h"

static const struct pkguard_pkgdb_ops *loaded;
static char why[512]; /* why it did not load, once it did not */

/* The real backend, loading it the first time; NULL with WHY set where it cannot be. */
static const struct pkguard_pkgdb_ops *real(void)
{
	const struct pkguard_pkgdb_ops *(*get)(const char *version);
	char self[PATH_MAX];
	const char *path = PKGUARD_RPM_BACKEND;
	ssize_t n;
	void *so;

	if (loaded || why[0])
		return loaded;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if (strcmp(self, PKGUARD_PROGRAM_BUILT) == 0)
			path = PKGUARD_RPM_BACKEND_BUILT;
	}
	so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!so) {
		snprintf(why, sizeof(why), "cannot load the rpm backend: %s", dlerror());
		return NULL;
	}
	*(void **)&get = dlsym(so, PKGUARD_RPM_BACKEND_SYMBOL);
	loaded = get ? get(PKGUARD_VERSION) : NULL;
	if (!loaded) {
		snprintf(why, sizeof(why), "%s is not the rpm backend of pkguard %s", path,
			 PKGUARD_VERSION);
		dlclose(so);
	}
	return loaded;
}

/* A root dpkg does not manage: if the backend cannot load, say so when it opens. */
static bool lazy_manages(const char *root)
{
	return !real() || loaded->manages(root);
}

static int lazy_open(struct pkguard_ctx *ctx, struct pkguard_pkgdb **out)
{
	*out = NULL;
	if (!real())
		return pkguard_fail(ctx, -PKGUARD_EBACKEND, "%s", why);
	return loaded->open(ctx, out);
}

/* A database is open: the backend is loaded. */
static void lazy_close(struct pkguard_pkgdb *db)
{
	loaded->close(db);
}

static int lazy_files(struct pkguard_pkgdb *db, const char *name, pkguard_path_fn fn,
		      void *userdata)
{
	return loaded->files(db, name, fn, userdata);
}

static int lazy_owners(struct pkguard_pkgdb *db, const char *path, pkguard_pkg_fn fn,
		       void *userdata)
{
	return loaded->owners(db, path, fn, userdata);
}

static int lazy_lookup(struct pkguard_pkgdb *db, const char *name, pkguard_pkg_fn fn,
		       void *userdata)
{
	return loaded->lookup(db, name, fn, userdata);
}

static int lazy_hold(struct pkguard_ctx *ctx, const char *name, const char *version, bool on)
{
	if (!real())
		return pkguard_fail(ctx, -PKGUARD_EBACKEND, "%s", why);
	return loaded->hold(ctx, name, version, on);
}

/* As pkguard_rpm_ops, which has no owners_many. */
const struct pkguard_pkgdb_ops pkguard_rpm_lazy_ops = {
	.name = "rpm",
	.manages = lazy_manages,
	.open = lazy_open,
	.close = lazy_close,
	.files = lazy_files,
	.owners = lazy_owners,
	.lookup = lazy_lookup,
	.hold = lazy_hold,
};
