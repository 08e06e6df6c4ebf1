/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rpm package database, read through librpm (shared, stable API).
 *
 * The facts behind this file are those of rpm 4.18 (Debian bookworm): the
 * configuration and the macros, among them %_dbpath, are process-global;
 * rpmlog() goes through one process-global callback; the database is opened
 * at ROOTDIR + %_dbpath by a transaction set whose root is ROOTDIR, the way
 * `rpm --root=ROOT --dbpath=/var/lib/rpm` does it. On Debian %_dbpath
 * defaults to ~/.rpmdb, so it is always set here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rpm/header.h>
#include <rpm/rpmdb.h>
#include <rpm/rpmfiles.h>
#include <rpm/rpmlib.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmmacro.h>
#include <rpm/rpmtag.h>
#include <rpm/rpmts.h>

#include "pkguard/context.h"
#include "pkguard/error.h"
#include "pkguard/pkgdb.h"
#include "hold.h"
#include "rpmdb.h"

#define RPM_ERROR_MAX 1024

/* Where rpm keeps its database, relative to the root, in order of preference. */
static const char *const db_dirs[] = {"/var/lib/rpm", "/usr/lib/sysimage/rpm"};

/* The database files of rpm's backends: sqlite, bdb (read-only since 4.16), ndb. */
static const char *const db_files[] = {"rpmdb.sqlite", "Packages", "Packages.db"};

struct pkguard_pkgdb {
	struct pkguard_ctx *ctx;       /* borrowed: outlives the database */
	char *root;		       /* as the context gave it, for messages */
	rpmts ts;		       /* the transaction set that holds the open database */
	bool logging;		       /* our rpmlog callback is installed */
	bool attached;		       /* the caller's transaction set (rpm plugin) */
	char rpm_error[RPM_ERROR_MAX]; /* librpm's last error in this call; "" if none */
};

/* The header instances owners() has reported, each once. */
struct instance_set {
	unsigned int *ids;
	size_t n;
	size_t size;
};

/* Set while a database is open: librpm's logger and macros are per process. */
static atomic_flag rpm_busy = ATOMIC_FLAG_INIT;

/* rpm's configuration files have been read in this process (under rpm_busy). */
static bool rpm_configured;

/* "PREFIX without trailing '/'" + SUFFIX; "/" + "/x" gives "/x". */
static char *path_join(const char *prefix, const char *suffix)
{
	size_t len = strlen(prefix);
	char *path;

	while (len > 0 && prefix[len - 1] == '/')
		len--;
	if (asprintf(&path, "%.*s%s", (int)len, prefix, suffix) < 0)
		return NULL;
	return path;
}

/* true when ROOT + DIR holds one of rpm's database files. */
static bool has_db(const char *root, const char *dir)
{
	char path[64];
	struct stat st;
	bool found = false;
	char *full;
	size_t i;

	for (i = 0; i < sizeof(db_files) / sizeof(db_files[0]) && !found; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, db_files[i]);
		full = path_join(root, path);
		if (full == NULL)
			return false;
		found = stat(full, &st) == 0 && S_ISREG(st.st_mode);
		free(full);
	}
	return found;
}

/* The database directory of ROOT relative to it (static), or NULL. */
static const char *find_db_dir(const char *root)
{
	size_t i;

	for (i = 0; i < sizeof(db_dirs) / sizeof(db_dirs[0]); i++) {
		if (has_db(root, db_dirs[i]))
			return db_dirs[i];
	}
	return NULL;
}

static bool rpm_manages(const char *root)
{
	return find_db_dir(root) != NULL;
}

/*
 * librpm's messages while a database is open: errors are kept for the
 * failure detail (the call that hit them fails), the rest goes to the
 * context's logger. Returning 0 keeps rpm from printing them on stderr.
 */
static int log_to_ctx(rpmlogRec rec, rpmlogCallbackData data)
{
	struct pkguard_pkgdb *db = data;
	const char *msg = rpmlogRecMessage(rec);
	rpmlogLvl pri = rpmlogRecPriority(rec);
	int len;

	if (msg == NULL)
		return 0;
	len = (int)strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		len--;
	if (pri <= RPMLOG_ERR)
		snprintf(db->rpm_error, sizeof(db->rpm_error), "%.*s", len, msg);
	else if (pri == RPMLOG_WARNING)
		pkguard_log(db->ctx, PKGUARD_LOG_WARN, "librpm: %.*s", len, msg);
	else
		pkguard_log(db->ctx, PKGUARD_LOG_DEBUG, "librpm: %.*s", len, msg);
	return 0;
}

/* Fail with WHAT, completed by librpm's last error when it logged one. */
__attribute__((format(printf, 2, 3))) static int rpm_fail(struct pkguard_pkgdb *db, const char *fmt,
							  ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (db->rpm_error[0] != '\0')
		return pkguard_fail(db->ctx, -PKGUARD_EBACKEND, "%s: librpm: %s", what,
				    db->rpm_error);
	return pkguard_fail(db->ctx, -PKGUARD_EBACKEND, "%s", what);
}

/*
 * Describe the installed header H for a callback: *evr is rpm's
 * "[EPOCH:]VERSION-RELEASE", malloc'ed (the caller frees it).
 */
static int describe(struct pkguard_pkgdb *db, Header h, struct pkguard_pkginfo *info, char **evr)
{
	info->name = headerGetString(h, RPMTAG_NAME);
	/* gpg-pubkey pseudo-packages have no architecture. */
	info->arch = headerGetString(h, RPMTAG_ARCH);
	*evr = headerGetAsString(h, RPMTAG_EVR);
	if (info->name == NULL || *evr == NULL) {
		free(*evr);
		*evr = NULL;
		return rpm_fail(db, "cannot read package header #%u in the rpm database of '%s'",
				headerGetInstance(h), db->root);
	}
	info->version = *evr;
	return 0;
}

struct walk_arg {
	pkguard_path_fn path_fn; /* files() */
	pkguard_pkg_fn pkg_fn;	 /* lookup() */
	void *userdata;
};

/* files(): yield the paths rpm installed for H. */
static int walk_files(struct pkguard_pkgdb *db, Header h, const struct walk_arg *a)
{
	struct pkguard_pkginfo info;
	rpmfiles files = NULL;
	char *evr = NULL;
	char *path;
	int rc, i, n;

	rc = describe(db, h, &info, &evr);
	if (rc < 0)
		return rc;
	/* A package without files (a meta-package) has no file tags at all. */
	if (!headerIsEntry(h, RPMTAG_BASENAMES)) {
		rc = 0;
		goto out;
	}
	files = rpmfilesNew(NULL, h, RPMTAG_BASENAMES, RPMFI_KEEPHEADER);
	if (files == NULL) {
		rc = rpm_fail(db, "cannot read the files of package '%s' in '%s'", info.name,
			      db->root);
		goto out;
	}
	n = rpmfilesFC(files);
	for (i = 0; i < n; i++) {
		/* The states rpm's own file index counts as installed: not
		 * --excludedocs, another colour, or replaced by another package. */
		if (!RPMFILE_IS_INSTALLED(rpmfilesFState(files, i)))
			continue;
		path = rpmfilesFN(files, i);
		if (path == NULL) {
			rc = pkguard_fail(db->ctx, -ENOMEM, "cannot read the files of package '%s'",
					  info.name);
			goto out;
		}
		rc = a->path_fn(a->userdata, &info, path);
		free(path);
		if (rc != 0)
			goto out;
	}
	rc = 0;
out:
	rpmfilesFree(files);
	free(evr);
	return rc;
}

/* lookup(): yield H. */
static int walk_pkg(struct pkguard_pkgdb *db, Header h, const struct walk_arg *a)
{
	struct pkguard_pkginfo info;
	char *evr;
	int rc;

	rc = describe(db, h, &info, &evr);
	if (rc < 0)
		return rc;
	rc = a->pkg_fn(a->userdata, &info);
	free(evr);
	return rc;
}

typedef int (*instance_fn)(struct pkguard_pkgdb *db, Header h, const struct walk_arg *a);

/* Run EACH on the installed instances called NAME (of ARCH unless NULL). */
static int walk_instances(struct pkguard_pkgdb *db, const char *name, const char *arch,
			  instance_fn each, const struct walk_arg *a, bool *found)
{
	rpmdbMatchIterator mi;
	const char *h_arch;
	Header h;
	int rc = 0;

	/* NULL: no instance, or an error that librpm logged. */
	mi = rpmtsInitIterator(db->ts, RPMDBI_NAME, name, 0);
	while (mi != NULL && (h = rpmdbNextIterator(mi)) != NULL) {
		h_arch = headerGetString(h, RPMTAG_ARCH);
		if (arch != NULL && (h_arch == NULL || strcmp(h_arch, arch) != 0))
			continue;
		*found = true;
		rc = each(db, h, a);
		if (rc != 0)
			break;
	}
	rpmdbFreeIterator(mi);
	if (rc == 0 && db->rpm_error[0] != '\0')
		rc = rpm_fail(db, "cannot look up package '%s' in the rpm database of '%s'", name,
			      db->root);
	return rc;
}

/*
 * Walk the instances NAME means: every installed instance called NAME, or,
 * when there is none and NAME is "BASE.ARCH", those of BASE built for ARCH.
 */
static int walk_name(struct pkguard_pkgdb *db, const char *name, instance_fn each,
		     const struct walk_arg *a)
{
	const char *dot = strrchr(name, '.');
	bool found = false;
	char *base;
	int rc;

	db->rpm_error[0] = '\0';
	/* rpm takes an empty key for "no key": every package. */
	if (name[0] == '\0')
		return pkguard_fail(db->ctx, -PKGUARD_ENOPKG, "cannot find package '' in '%s'",
				    db->root);
	rc = walk_instances(db, name, NULL, each, a, &found);
	if (rc != 0 || found)
		return rc;
	if (dot != NULL && dot != name && dot[1] != '\0') {
		base = strndup(name, dot - name);
		if (base == NULL)
			return pkguard_fail(db->ctx, -ENOMEM, "cannot look up package '%s'", name);
		rc = walk_instances(db, base, dot + 1, each, a, &found);
		free(base);
		if (rc != 0 || found)
			return rc;
	}
	return pkguard_fail(db->ctx, -PKGUARD_ENOPKG, "cannot find package '%s' in '%s'", name,
			    db->root);
}

static int rpm_files(struct pkguard_pkgdb *db, const char *name, pkguard_path_fn fn, void *userdata)
{
	struct walk_arg arg = {fn, NULL, userdata};

	return walk_name(db, name, walk_files, &arg);
}

static int rpm_lookup(struct pkguard_pkgdb *db, const char *name, pkguard_pkg_fn fn, void *userdata)
{
	struct walk_arg arg = {NULL, fn, userdata};

	return walk_name(db, name, walk_pkg, &arg);
}

/* Add ID; returns 1 when it was there already, 0 when added, -ENOMEM. */
static int instance_set_add(struct instance_set *set, unsigned int id)
{
	unsigned int *grown;
	size_t i;

	for (i = 0; i < set->n; i++) {
		if (set->ids[i] == id)
			return 1;
	}
	if (set->n == set->size) {
		grown = reallocarray(set->ids, set->size ? 2 * set->size : 8, sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		set->ids = grown;
		set->size = set->size ? 2 * set->size : 8;
	}
	set->ids[set->n++] = id;
	return 0;
}

/* true when H installed PATH, as spelt (see owners_of()). */
static int installs(struct pkguard_pkgdb *db, Header h, const char *path, bool *yes)
{
	rpmfiles files;
	int i;

	*yes = false;
	files = rpmfilesNew(NULL, h, RPMTAG_BASENAMES, RPMFI_KEEPHEADER);
	if (files == NULL)
		return rpm_fail(db, "cannot read the files of package header #%u in '%s'",
				headerGetInstance(h), db->root);
	i = rpmfilesFindFN(files, path);
	*yes = i >= 0 && RPMFILE_IS_INSTALLED(rpmfilesFState(files, i));
	rpmfilesFree(files);
	return 0;
}

/*
 * Yield the installed packages whose file is PATH, as spelt, not in SEEN
 * yet. librpm's RPMDBI_INSTFILENAMES lookup matches by fingerprint, and
 * resolves directories with stat() against our own "/", not the database's
 * root (rpm 4.18 rpmdbFindByFile()): on a merged-/usr host "/bin/x" finds
 * the owner of "/usr/bin/x" even in a root whose /bin is a directory. A
 * path spelt alike always gets the same fingerprint, so what the lookup
 * returns holds every exact owner: keep those only. pkguard_usr_alias() does the
 * merged-/usr part, against the right root.
 */
static int owners_of(struct pkguard_pkgdb *db, const char *path, struct instance_set *seen,
		     pkguard_pkg_fn fn, void *userdata)
{
	struct pkguard_pkginfo info;
	rpmdbMatchIterator mi;
	bool yes;
	char *evr;
	Header h;
	int rc = 0;

	/* NULL: nobody owns PATH, or an error that librpm logged. */
	mi = rpmtsInitIterator(db->ts, RPMDBI_INSTFILENAMES, path, 0);
	while (mi != NULL && (h = rpmdbNextIterator(mi)) != NULL) {
		rc = installs(db, h, path, &yes);
		if (rc < 0)
			break;
		if (!yes)
			continue;
		rc = instance_set_add(seen, headerGetInstance(h));
		if (rc < 0) {
			rc = pkguard_fail(db->ctx, rc, "cannot look up '%s'", path);
			break;
		}
		/* Reported under the other spelling already. */
		if (rc == 1) {
			rc = 0;
			continue;
		}
		rc = describe(db, h, &info, &evr);
		if (rc < 0)
			break;
		rc = fn(userdata, &info);
		free(evr);
		if (rc != 0)
			break;
	}
	rpmdbFreeIterator(mi);
	if (rc == 0 && db->rpm_error[0] != '\0')
		rc = rpm_fail(db, "cannot look up '%s' in the rpm database of '%s'", path,
			      db->root);
	return rc;
}

static int rpm_owners(struct pkguard_pkgdb *db, const char *path, pkguard_pkg_fn fn, void *userdata)
{
	struct instance_set seen = {NULL, 0, 0};
	char *alias = NULL;
	int rc;

	db->rpm_error[0] = '\0';
	if (path[0] != '/')
		return pkguard_fail(db->ctx, -EINVAL, "cannot look up '%s': not an absolute path",
				    path);
	rc = pkguard_usr_alias(db->ctx, path, &alias);
	if (rc < 0)
		goto out;
	rc = owners_of(db, path, &seen, fn, userdata);
	if (rc == 0 && alias != NULL)
		rc = owners_of(db, alias, &seen, fn, userdata);
out:
	free(alias);
	free(seen.ids);
	return rc;
}

/* Free DB (NULL is fine), give rpm its own logger back and let the next open() in. */
static void release_db(struct pkguard_pkgdb *db)
{
	if (db != NULL && db->attached) {
		/* The caller's: only our reference goes, and rpm_busy was never ours. */
		rpmtsFree(db->ts);
		free(db->root);
		free(db);
		return;
	}
	if (db != NULL) {
		/* Closes the database too. */
		rpmtsFree(db->ts);
		if (db->logging) {
			rpmlogSetCallback(NULL, NULL);
			/* rpmlog() keeps a copy of every warning and error. */
			rpmlogClose();
		}
		free(db->root);
		free(db);
	}
	atomic_flag_clear(&rpm_busy);
}

static void rpm_close(struct pkguard_pkgdb *db)
{
	if (db == NULL)
		return;
	release_db(db);
}

static int rpm_open(struct pkguard_ctx *ctx, struct pkguard_pkgdb **out)
{
	const char *root = pkguard_ctx_root(ctx);
	struct pkguard_pkgdb *db = NULL;
	char *root_dir = NULL;
	const char *db_dir;
	int rc;

	*out = NULL;
	if (atomic_flag_test_and_set(&rpm_busy))
		return pkguard_fail(ctx, -EBUSY,
				    "cannot open the rpm database in '%s': librpm's logger and "
				    "macros are per process and another database is open",
				    root);

	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot open the rpm database in '%s'", root);
		goto out;
	}
	db->ctx = ctx;
	db->root = strdup(root);
	if (db->root == NULL) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot open the rpm database in '%s'", root);
		goto out;
	}
	/* librpm would create an empty database, or report a missing one in
	 * terms of files the user never named. */
	db_dir = find_db_dir(root);
	if (db_dir == NULL) {
		rc = pkguard_fail(ctx, -PKGUARD_EBACKEND,
				  "no rpm database in '%s': no rpmdb.sqlite, Packages or "
				  "Packages.db in '%s' or '%s'",
				  root, db_dirs[0], db_dirs[1]);
		goto out;
	}
	/* rpmtsSetRootDir() wants an absolute path. */
	root_dir = realpath(root, NULL);
	if (root_dir == NULL) {
		rc = pkguard_fail(ctx, -errno, "cannot resolve the root '%s'", root);
		goto out;
	}

	rpmlogSetCallback(log_to_ctx, db);
	db->logging = true;
	if (!rpm_configured) {
		/* NULL, NULL: rpm's default rpmrc and macro files, as rpm reads them. */
		if (rpmReadConfigFiles(NULL, NULL) != 0) {
			rc = rpm_fail(db, "cannot read rpm's configuration");
			goto out;
		}
		rpm_configured = true;
	}
	db->ts = rpmtsCreate();
	if (db->ts == NULL) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot open the rpm database in '%s'", root);
		goto out;
	}
	if (rpmtsSetRootDir(db->ts, root_dir) != 0) {
		rc = rpm_fail(db, "cannot open the rpm database in '%s': cannot use it as root",
			      root);
		goto out;
	}
	/* Reading, not installing: no keyring to load, no signature to check. */
	rpmtsSetVSFlags(db->ts, rpmtsVSFlags(db->ts) | RPMVSF_MASK_NOSIGNATURES);

	/* The database is opened at ROOT + %_dbpath; rpm reads the macro only
	 * here, so it is set for this call alone and the next open() of
	 * another root starts from rpm's own value. */
	if (rpmPushMacro(NULL, "_dbpath", NULL, db_dir, RMIL_CMDLINE) != 0) {
		rc = rpm_fail(db, "cannot open the rpm database in '%s': cannot set %%_dbpath",
			      root);
		goto out;
	}
	rc = rpmtsOpenDB(db->ts, O_RDONLY);
	rpmPopMacro(NULL, "_dbpath");
	if (rc != 0) {
		rc = rpm_fail(db, "cannot open the rpm database in '%s%s'", root_dir,
			      strcmp(root_dir, "/") == 0 ? db_dir + 1 : db_dir);
		goto out;
	}
	*out = db;
	rc = 0;
out:
	free(root_dir);
	if (rc < 0)
		release_db(db);
	return rc;
}

int pkguard_rpm_attach(struct pkguard_ctx *ctx, rpmts ts, struct pkguard_pkgdb **out)
{
	struct pkguard_pkgdb *db = calloc(1, sizeof(*db));

	*out = NULL;
	if (db == NULL || (db->root = strdup(pkguard_ctx_root(ctx))) == NULL) {
		free(db);
		return pkguard_fail(ctx, -ENOMEM, "cannot read the rpm database");
	}
	db->ctx = ctx;
	db->ts = rpmtsLink(ts);
	db->attached = true;
	*out = db;
	return 0;
}

const struct pkguard_pkgdb_ops pkguard_rpm_ops = {
	.name = "rpm",
	.manages = rpm_manages,
	.open = rpm_open,
	.close = rpm_close,
	.files = rpm_files,
	.owners = rpm_owners,
	.lookup = rpm_lookup,
	/* rpm itself has none: dnf's versionlock and zypper's locks (hold.c). */
	.hold = pkguard_rpm_hold,
};
