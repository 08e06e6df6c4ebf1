/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The inspection a run makes: a package's files, then the processes that use them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkguard/run.h"

struct version_of {
	char *version;
	char *arch;
	size_t count;
};

static int remember_version(void *userdata, const struct pkguard_pkginfo *pkg)
{
	struct version_of *v = userdata;

	/* Several instances (multi-arch): keep the first, count them. */
	if (v->count++ == 0) {
		v->version = pkg->version ? strdup(pkg->version) : NULL;
		v->arch = pkg->arch ? strdup(pkg->arch) : NULL;
	}
	return 0;
}

struct add_paths {
	struct pkguard_fileset *fs;
	size_t target;
};

static int add_path(void *userdata, const struct pkguard_pkginfo *pkg, const char *path)
{
	struct add_paths *a = userdata;

	(void)pkg;
	return pkguard_fileset_add_path(a->fs, a->target, path);
}

int pkguard_pkgdb_open(struct pkguard_ctx *ctx, const struct pkguard_pkgdb_ops *backend,
		       struct pkguard_pkgdb **db)
{
	*db = NULL;
	if (!backend)
		return pkguard_fail(ctx, -PKGUARD_EUSAGE,
				    "no package manager of this build manages '%s' (try --backend)",
				    pkguard_ctx_root(ctx));
	return backend->open(ctx, db);
}

int pkguard_pkgdb_open_for(struct pkguard_ctx *ctx, const struct pkguard_pkgdb_ops *backend,
			   const char *const *names, size_t n, struct pkguard_pkgdb **db)
{
	if (!backend || !backend->open_for)
		return pkguard_pkgdb_open(ctx, backend, db);
	return backend->open_for(ctx, names, n, db);
}

int pkguard_fileset_add_package(const struct pkguard_pkgdb_ops *backend, struct pkguard_pkgdb *db,
				struct pkguard_fileset *fs, const char *name,
				const char *new_version)
{
	struct version_of v = {0};
	struct add_paths a = {fs, 0};
	int rc;

	rc = backend->lookup(db, name, remember_version, &v);
	if (rc == 0)
		rc = pkguard_fileset_add_target(fs, name, v.count == 1 ? v.arch : NULL, v.version,
						new_version, &a.target);
	if (rc == 0)
		rc = backend->files(db, name, add_path, &a);
	free(v.version);
	free(v.arch);
	return rc;
}

/* The lock table, into INS->locks; without it, exe and maps still answer. */
static void take_locks(struct pkguard_ctx *ctx, struct pkguard_inspection *ins)
{
	if (pkguard_scan_early_locks(ctx, ins->early, &ins->locks) < 0)
		pkguard_log(ctx, PKGUARD_LOG_WARN, "%s; lock holders are not reported",
			    pkguard_ctx_errmsg(ctx));
}

/* Does the policy name a lockfile among FS's files? */
static bool names_lockfiles(const struct pkguard_fileset *fs)
{
	size_t i, n = pkguard_fileset_n_files(fs);

	for (i = 0; i < n; i++) {
		if (pkguard_fileset_file(fs, i)->flags & PKGUARD_FILE_LOCKFILE)
			return true;
	}
	return false;
}

int pkguard_inspect(struct pkguard_ctx *ctx, struct pkguard_inspection *ins)
{
	struct pkguard_scan_opts opts = {.want = ins->fs, .early = ins->early};
	uint64_t t0 = pkguard_now_ns();
	bool later;
	int rc;

	/*
	 * Reading /proc/locks waits for an RCU grace period (about 10 ms
	 * here), longer than the rest of a check's start: unless it is done
	 * already, the scan goes first. The locks matter only when a file of
	 * the targets is locked; then the scan runs again with them. Where the
	 * policy names lockfiles, their holders are what it looks for, and the
	 * scan waits for the table instead.
	 */
	later = ins->locks_later ||
		(!pkguard_scan_early_locks_ready(ins->early) && !names_lockfiles(ins->fs));
	if (!later) {
		take_locks(ctx, ins);
		opts.locks = ins->locks;
	}
	rc = pkguard_proc_scan(ctx, &opts, &ins->procs);
	if (rc == 0 && later) {
		take_locks(ctx, ins);
		opts.locks = ins->locks;
		if (pkguard_scan_locks_matter(&opts)) {
			pkguard_log(
				ctx, PKGUARD_LOG_DEBUG,
				"a file of the targets is locked: scanning again with the locks");
			pkguard_proctab_free(ins->procs);
			ins->procs = NULL;
			rc = pkguard_proc_scan(ctx, &opts, &ins->procs);
		}
	}
	if (rc == 0)
		rc = pkguard_detect(ctx, ins->fs, ins->procs, &ins->findings);
	ins->seconds = (double)(pkguard_now_ns() - t0) / 1e9;
	return rc;
}

void pkguard_inspection_release(struct pkguard_inspection *ins)
{
	pkguard_findings_free(ins->findings);
	pkguard_proctab_free(ins->procs);
	pkguard_locktab_free(ins->locks);
	pkguard_fileset_free(ins->fs);
	pkguard_scan_early_free(ins->early);
	memset(ins, 0, sizeof(*ins));
}
