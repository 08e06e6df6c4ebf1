/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dpkg package database, read through libdpkg (static, volatile API).
 *
 * The facts behind this file are those of dpkg 1.21 (Debian bookworm):
 * libdpkg keeps the package and file hashes, the database paths and several
 * caches in process-global variables, and reports every error by ohshit(),
 * which longjmp()s to the innermost error context or, without one, exits.
 */
#define LIBDPKG_VOLATILE_API 1

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dpkg/dpkg.h>
#include <dpkg/dpkg-db.h>
#include <dpkg/arch.h>
#include <dpkg/db-ctrl.h>
#include <dpkg/db-fsys.h>
#include <dpkg/ehandle.h>
#include <dpkg/fsys.h>
#include <dpkg/pkg-list.h>
#include <dpkg/progname.h>

#include "pkguard/context.h"
#include "pkguard/error.h"
#include "pkguard/pkgdb.h"
#include "dpkgdb.h"

#define ADMINDIR_REL "var/lib/dpkg"

/* One line of ADMINDIR/diversions each: FROM, TO, and the package or ":". */
struct diversion {
	char *from; /* the path packages ship */
	char *to;   /* where the other packages' file goes instead */
	char *pkg;  /* the diverting package, whose file stays at FROM; NULL: none */
};

struct pkguard_pkgdb {
	struct pkguard_ctx *ctx; /* borrowed: outlives the database */
	char *root;		 /* as the context gave it, for messages */
	char *instdir;		 /* the root without trailing '/': "" for "/" */
	char *admindir;		 /* dpkg_db_set_dir() keeps this pointer, not a copy */
	struct diversion *diversions;
	size_t n_diversions;
	bool all_files_loaded;
	bool dpkg_failed; /* libdpkg bombed out: its state is unknown */
	char buf[65536];  /* read buffer for checking files lists */
};

/* The installed packages gathered by owners(), each once. */
struct pkg_vec {
	struct pkginfo **pkgs;
	size_t n;
	size_t size;
};

/* Set while a database is open: libdpkg can hold only one per process. */
static atomic_flag dpkg_busy = ATOMIC_FLAG_INIT;

/* The printer of our error context: keep libdpkg's message, print nothing. */
static void store_dpkg_error(const char *emsg, const void *data)
{
	const struct pkguard_pkgdb *db = data;
	char msg[4096];
	size_t len = 0;

	/* libdpkg continues long messages on a new line indented by one space. */
	for (; *emsg != '\0' && len + 1 < sizeof(msg); emsg++) {
		if (*emsg == '\n') {
			msg[len++] = ' ';
			while (emsg[1] == ' ')
				emsg++;
		} else {
			msg[len++] = *emsg;
		}
	}
	msg[len] = '\0';
	pkguard_fail(db->ctx, -PKGUARD_EBACKEND, "libdpkg: %s", msg);
}

/*
 * Run BODY inside a libdpkg error context, so that an ohshit() comes back
 * here as -PKGUARD_EBACKEND instead of exiting. BODY must not hold memory or
 * fds of its own across a libdpkg call that can ohshit(): the longjmp()
 * skips its cleanup. The jmp_buf lives in this frame, so the context is
 * pushed and popped around each call, never left pushed between calls.
 */
static int run_guarded(struct pkguard_pkgdb *db, int (*body)(struct pkguard_pkgdb *, void *),
		       void *arg)
{
	jmp_buf jump;
	int rc;

	if (setjmp(jump) != 0) {
		/* Our context is still the innermost: popping it as a bomb-out
		 * runs the cleanups libdpkg pushed and store_dpkg_error(). */
		pop_error_context(ehflag_bombout);
		db->dpkg_failed = true;
		return -PKGUARD_EBACKEND;
	}
	push_error_context_jump(&jump, store_dpkg_error, db);
	rc = body(db, arg);
	pop_error_context(ehflag_normaltidy);
	return rc;
}

/*
 * Run a query. libdpkg leaves half-done work behind when it bombs out (it
 * caches a bogus info database format, for one), so after that the database
 * answers nothing but this error until it is closed.
 */
static int run_query(struct pkguard_pkgdb *db, int (*body)(struct pkguard_pkgdb *, void *),
		     void *arg)
{
	if (db->dpkg_failed)
		return pkguard_fail(db->ctx, -PKGUARD_EBACKEND,
				    "cannot query the dpkg database in '%s' after a libdpkg error",
				    db->root);
	return run_guarded(db, body, arg);
}

/*
 * Half-installed onwards: a half-installed instance may have files on disk
 * from an interrupted unpack or removal. A config-files instance has nothing
 * left but conffiles, which no process runs.
 */
static bool is_installed(const struct pkginfo *pkg)
{
	return pkg->status >= PKG_STAT_HALFINSTALLED;
}

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

static bool dpkg_manages(const char *root)
{
	struct stat st;
	char *status;
	bool manages;

	status = path_join(root, "/" ADMINDIR_REL "/" STATUSFILE);
	if (status == NULL)
		return false;
	manages = stat(status, &st) == 0 && S_ISREG(st.st_mode);
	free(status);
	return manages;
}

static const struct diversion *diversion_from(const struct pkguard_pkgdb *db, const char *path)
{
	size_t i;

	/* A dpkg system carries a few dozen diversions: a scan beats an index. */
	for (i = 0; i < db->n_diversions; i++) {
		if (strcmp(db->diversions[i].from, path) == 0)
			return &db->diversions[i];
	}
	return NULL;
}

static const struct diversion *diversion_to(const struct pkguard_pkgdb *db, const char *path)
{
	size_t i;

	for (i = 0; i < db->n_diversions; i++) {
		if (strcmp(db->diversions[i].to, path) == 0)
			return &db->diversions[i];
	}
	return NULL;
}

/* true when DIV sends PKG's file away from DIV->from to DIV->to. */
static bool is_diverted(const struct diversion *div, const struct pkginfo *pkg)
{
	return div != NULL && (div->pkg == NULL || strcmp(div->pkg, pkg->set->name) != 0);
}

static void diversion_release(struct diversion *div)
{
	free(div->from);
	free(div->to);
	free(div->pkg);
}

/*
 * Read ADMINDIR/diversions ourselves rather than through ensure_diversions():
 * libdpkg 1.21 computes that file's path once per process and keeps its
 * parsed list in pool memory that pkg_hash_reset() frees, so a second
 * database would get the first one's diversions through dangling pointers.
 */
static int load_diversions(struct pkguard_pkgdb *db)
{
	struct diversion div = {NULL, NULL, NULL};
	struct diversion *grown;
	char **field;
	char *path = NULL;
	char *line = NULL;
	size_t line_size = 0;
	unsigned int lineno = 0;
	size_t size = 0;
	ssize_t len;
	FILE *fp = NULL;
	int rc;

	path = path_join(db->admindir, "/" DIVERSIONSFILE);
	if (path == NULL) {
		rc = pkguard_fail(db->ctx, -ENOMEM, "cannot read the diversions of '%s'", db->root);
		goto out;
	}
	fp = fopen(path, "re");
	if (fp == NULL) {
		/* dpkg creates the file with the first diversion. */
		if (errno == ENOENT) {
			rc = 0;
			goto out;
		}
		rc = pkguard_fail(db->ctx, -errno, "cannot open '%s'", path);
		goto out;
	}
	for (;;) {
		errno = 0;
		len = getline(&line, &line_size, fp);
		if (len < 0) {
			if (errno != 0) {
				rc = pkguard_fail(db->ctx, -errno, "cannot read '%s'", path);
				goto out;
			}
			break;
		}
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';

		field = lineno % 3 == 1 ? &div.from : lineno % 3 == 2 ? &div.to : &div.pkg;
		if (field != &div.pkg || strcmp(line, ":") != 0) {
			*field = strdup(line);
			if (*field == NULL) {
				rc = pkguard_fail(db->ctx, -ENOMEM, "cannot read '%s'", path);
				goto out;
			}
		}
		if (lineno % 3 != 0)
			continue;

		if (db->n_diversions == size) {
			grown = reallocarray(db->diversions, size ? 2 * size : 16, sizeof(*grown));
			if (grown == NULL) {
				rc = pkguard_fail(db->ctx, -ENOMEM, "cannot read '%s'", path);
				goto out;
			}
			db->diversions = grown;
			size = size ? 2 * size : 16;
		}
		db->diversions[db->n_diversions++] = div;
		div = (struct diversion){NULL, NULL, NULL};
	}
	if (lineno % 3 != 0) {
		rc = pkguard_fail(db->ctx, -PKGUARD_EBACKEND,
				  "cannot parse '%s': entry at line %u is cut short", path,
				  lineno - lineno % 3 + 1);
		goto out;
	}
	rc = 0;
out:
	diversion_release(&div);
	free(line);
	if (fp != NULL)
		fclose(fp);
	free(path);
	return rc;
}

/*
 * Check a files list the way libdpkg will parse it (db-fsys-files.c): a final
 * newline, and no line left empty once one trailing '/' is stripped. libdpkg
 * parses with onerr_abort raised, so its ohshit() on a malformed list would
 * exit the process instead of jumping back to run_guarded().
 */
static int check_files_list(struct pkguard_pkgdb *db, const char *path)
{
	unsigned int lineno = 1;
	size_t line_len = 0;
	char first = '\0';
	ssize_t n, i;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* libdpkg takes a missing list for an empty one (and warns). */
		if (errno == ENOENT)
			return 0;
		return pkguard_fail(db->ctx, -errno, "cannot open '%s'", path);
	}
	for (;;) {
		n = read(fd, db->buf, sizeof(db->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pkguard_fail(db->ctx, -errno, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (db->buf[i] != '\n') {
				if (line_len++ == 0)
					first = db->buf[i];
				continue;
			}
			if (line_len == 0 || (line_len == 1 && first == '/')) {
				rc = pkguard_fail(db->ctx, -PKGUARD_EBACKEND,
						  "cannot parse '%s' line %u: empty file name",
						  path, lineno);
				goto out;
			}
			line_len = 0;
			lineno++;
		}
	}
	if (line_len != 0) {
		rc = pkguard_fail(db->ctx, -PKGUARD_EBACKEND,
				  "cannot parse '%s' line %u: missing final newline", path, lineno);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Load PKG's files list, checked first. Call from inside run_guarded(). */
static int load_files(struct pkguard_pkgdb *db, struct pkginfo *pkg)
{
	int rc;

	if (pkg->files_list_valid || pkg->status == PKG_STAT_NOTINSTALLED)
		return 0;
	rc = check_files_list(db, pkg_infodb_get_file(pkg, &pkg->installed, LISTFILE));
	if (rc < 0)
		return rc;
	ensure_packagefiles_available(pkg);
	return 0;
}

static void free_pkg_iter(int argc, void **argv)
{
	pkg_hash_iter_free(argv[0]);
}

/*
 * Load every files list once per database: owners() needs the whole file
 * hash, and pkguard scan asks for hundreds of paths per run.
 */
static int load_all_files(struct pkguard_pkgdb *db)
{
	struct pkg_hash_iter *iter;
	struct pkginfo *pkg;
	int rc = 0;

	if (db->all_files_loaded)
		return 0;
	/* Checking a list can ohshit() (pkg_infodb_get_file() reads the info
	 * database format): a libdpkg cleanup frees the iterator then too. */
	iter = pkg_hash_iter_new();
	push_cleanup(free_pkg_iter, ~0, 1, iter);
	while ((pkg = pkg_hash_iter_next_pkg(iter)) != NULL) {
		rc = load_files(db, pkg);
		if (rc < 0)
			break;
	}
	pop_cleanup(ehflag_normaltidy);
	if (rc < 0)
		return rc;
	/* Quiet: the plain one prints "(Reading database ..." on stdout. */
	ensure_allinstfiles_available_quiet();
	db->all_files_loaded = true;
	return 0;
}

/*
 * On a merged-/usr root, /bin, /sbin and /lib* are symlinks to their /usr
 * counterparts, so "/usr/bin/bash" and "/bin/bash" name one file, while dpkg
 * lists only the name the package shipped. Returns 1 with *alias set to the
 * other name (the caller frees it), 0 when PATH has none on this root, <0.
 */
static int usr_alias(struct pkguard_pkgdb *db, const char *path, char **alias)
{
	char link_name[NAME_MAX + 5];
	char target[NAME_MAX + 6];
	const char *rest;
	size_t top_len;
	ssize_t len;
	bool in_usr;

	*alias = NULL;
	in_usr = strncmp(path, "/usr/", 5) == 0;
	rest = in_usr ? path + 5 : path + 1;
	top_len = strcspn(rest, "/");
	if (top_len == 0 || top_len > NAME_MAX)
		return 0;
	if (!((top_len == 3 && strncmp(rest, "bin", 3) == 0) ||
	      (top_len == 4 && strncmp(rest, "sbin", 4) == 0) || strncmp(rest, "lib", 3) == 0))
		return 0;

	/* usrmerge links "bin" to "usr/bin"; accept "/usr/bin" as well. The
	 * link is read, not followed: an absolute target would resolve
	 * against our own root, not ROOT. */
	snprintf(link_name, sizeof(link_name), "usr/%.*s", (int)top_len, rest);
	len = readlinkat(pkguard_ctx_root_fd(db->ctx), link_name + 4, target, sizeof(target) - 1);
	if (len < 0) {
		if (errno == ENOENT || errno == EINVAL || errno == ENOTDIR)
			return 0;
		return pkguard_fail(db->ctx, -errno, "cannot read the link '%s/%s'", db->instdir,
				    link_name + 4);
	}
	target[len] = '\0';
	if (strcmp(target, link_name) != 0 &&
	    !(target[0] == '/' && strcmp(target + 1, link_name) == 0))
		return 0;

	if (in_usr)
		*alias = strdup(path + 4);
	else if (asprintf(alias, "/usr%s", path) < 0)
		*alias = NULL;
	if (*alias == NULL)
		return pkguard_fail(db->ctx, -ENOMEM, "cannot look up '%s'", path);
	return 1;
}

static int pkg_vec_add(struct pkg_vec *vec, struct pkginfo *pkg)
{
	struct pkginfo **grown;
	size_t i;

	for (i = 0; i < vec->n; i++) {
		if (vec->pkgs[i] == pkg)
			return 0;
	}
	if (vec->n == vec->size) {
		grown = reallocarray(vec->pkgs, vec->size ? 2 * vec->size : 8, sizeof(*grown));
		if (grown == NULL)
			return -ENOMEM;
		vec->pkgs = grown;
		vec->size = vec->size ? 2 * vec->size : 8;
	}
	vec->pkgs[vec->n++] = pkg;
	return 0;
}

/*
 * Add the installed packages that list PATH and whose copy DIV (the
 * diversion of PATH, or NULL) sends away (DIVERTED) or leaves in place.
 */
static int add_listers(struct pkg_vec *vec, const char *path, const struct diversion *div,
		       bool diverted)
{
	struct fsys_namenode *node;
	struct pkg_list *pl;
	int rc;

	/* FHFF_NONE: return NULL for an unknown path instead of adding it. */
	node = fsys_hash_find_node(path, FHFF_NONE);
	if (node == NULL)
		return 0;
	for (pl = node->packages; pl != NULL; pl = pl->next) {
		if (!is_installed(pl->pkg) || is_diverted(div, pl->pkg) != diverted)
			continue;
		rc = pkg_vec_add(vec, pl->pkg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Add the installed packages whose file is at PATH, as spelt. */
static int add_owners(struct pkguard_pkgdb *db, struct pkg_vec *vec, const char *path)
{
	const struct diversion *div;
	int rc;

	rc = add_listers(vec, path, diversion_from(db, path), false);
	if (rc < 0)
		return rc;
	/* PATH is where a diversion puts the other packages' FROM. */
	div = diversion_to(db, path);
	if (div != NULL)
		rc = add_listers(vec, div->from, div, true);
	return rc;
}

/*
 * Describe PKG for a callback. versiondescribe() returns a buffer it reuses,
 * so *version is a copy the caller frees.
 */
static int describe(struct pkguard_pkgdb *db, const struct pkginfo *pkg,
		    struct pkguard_pkginfo *info, char **version)
{
	const char *arch = pkg->installed.arch->name;

	*version = strdup(versiondescribe(&pkg->installed.version, vdew_nonambig));
	if (*version == NULL)
		return pkguard_fail(db->ctx, -ENOMEM, "cannot describe package '%s'",
				    pkg->set->name);
	info->name = pkg->set->name;
	/* Architecture-less packages from before dpkg 1.16 have arch "". */
	info->arch = arch[0] != '\0' ? arch : NULL;
	info->version = *version;
	return 0;
}

struct owners_arg {
	const char *path;
	pkguard_pkg_fn fn;
	void *userdata;
};

static int owners_body(struct pkguard_pkgdb *db, void *arg)
{
	const struct owners_arg *a = arg;
	struct pkg_vec vec = {NULL, 0, 0};
	struct pkguard_pkginfo info;
	char *alias = NULL;
	char *version;
	size_t i;
	int rc;

	rc = load_all_files(db);
	if (rc < 0)
		return rc;
	/* Nothing below calls into libdpkg where it can ohshit(). */
	rc = usr_alias(db, a->path, &alias);
	if (rc < 0)
		goto out;
	rc = add_owners(db, &vec, a->path);
	if (rc == 0 && alias != NULL)
		rc = add_owners(db, &vec, alias);
	if (rc < 0) {
		rc = pkguard_fail(db->ctx, rc, "cannot look up '%s'", a->path);
		goto out;
	}
	for (i = 0; i < vec.n; i++) {
		rc = describe(db, vec.pkgs[i], &info, &version);
		if (rc < 0)
			goto out;
		rc = a->fn(a->userdata, &info);
		free(version);
		if (rc != 0)
			goto out;
	}
	rc = 0;
out:
	free(alias);
	free(vec.pkgs);
	return rc;
}

static int dpkg_owners(struct pkguard_pkgdb *db, const char *path, pkguard_pkg_fn fn,
		       void *userdata)
{
	struct owners_arg arg = {path, fn, userdata};

	if (path[0] != '/')
		return pkguard_fail(db->ctx, -EINVAL, "cannot look up '%s': not an absolute path",
				    path);
	return run_query(db, owners_body, &arg);
}

/*
 * The package set of NAME ("name" or "name:arch"); *arch is the ":arch"
 * part or NULL. libdpkg returns a fresh, empty set for an unknown name.
 */
static int find_set(struct pkguard_pkgdb *db, const char *name, struct pkgset **set,
		    const char **arch)
{
	const char *colon = strchr(name, ':');
	char *base;

	*set = NULL;
	*arch = NULL;
	if (colon == NULL) {
		*set = pkg_hash_find_set(name);
		return 0;
	}
	base = strndup(name, colon - name);
	if (base == NULL)
		return pkguard_fail(db->ctx, -ENOMEM, "cannot look up package '%s'", name);
	*set = pkg_hash_find_set(base);
	free(base);
	*arch = colon + 1;
	return 0;
}

static bool instance_matches(const struct pkginfo *pkg, const char *arch)
{
	return is_installed(pkg) && (arch == NULL || strcmp(pkg->installed.arch->name, arch) == 0);
}

static int not_installed(struct pkguard_pkgdb *db, const char *name)
{
	return pkguard_fail(db->ctx, -PKGUARD_ENOPKG, "cannot find package '%s' in '%s'", name,
			    db->root);
}

struct walk_arg {
	const char *name;
	pkguard_path_fn path_fn; /* files() */
	pkguard_pkg_fn pkg_fn;	 /* lookup() */
	void *userdata;
};

/* Yield PKG's files (loaded) where they are on disk. */
static int walk_files(struct pkguard_pkgdb *db, const struct pkginfo *pkg, const struct walk_arg *a)
{
	const struct fsys_namenode_list *file;
	const struct diversion *div;
	struct pkguard_pkginfo info;
	const char *path;
	char *version;
	int rc;

	rc = describe(db, pkg, &info, &version);
	if (rc < 0)
		return rc;
	for (file = pkg->files; file != NULL; file = file->next) {
		path = file->namenode->name;
		/* Every list starts with the root directory, as "/.". */
		if (strcmp(path, "/.") == 0)
			continue;
		div = diversion_from(db, path);
		if (is_diverted(div, pkg))
			path = div->to;
		rc = a->path_fn(a->userdata, &info, path);
		if (rc != 0)
			break;
	}
	free(version);
	return rc;
}

static int files_body(struct pkguard_pkgdb *db, void *arg)
{
	const struct walk_arg *a = arg;
	struct pkgset *set;
	struct pkginfo *pkg;
	const char *arch;
	bool found = false;
	int rc;

	rc = find_set(db, a->name, &set, &arch);
	if (rc < 0)
		return rc;
	for (pkg = &set->pkg; pkg != NULL; pkg = pkg->arch_next) {
		if (!instance_matches(pkg, arch))
			continue;
		found = true;
		rc = load_files(db, pkg);
		if (rc < 0)
			return rc;
		rc = walk_files(db, pkg, a);
		if (rc != 0)
			return rc;
	}
	return found ? 0 : not_installed(db, a->name);
}

static int dpkg_files(struct pkguard_pkgdb *db, const char *name, pkguard_path_fn fn,
		      void *userdata)
{
	struct walk_arg arg = {name, fn, NULL, userdata};

	return run_query(db, files_body, &arg);
}

static int lookup_body(struct pkguard_pkgdb *db, void *arg)
{
	const struct walk_arg *a = arg;
	struct pkguard_pkginfo info;
	struct pkgset *set;
	struct pkginfo *pkg;
	const char *arch;
	char *version;
	bool found = false;
	int rc;

	rc = find_set(db, a->name, &set, &arch);
	if (rc < 0)
		return rc;
	for (pkg = &set->pkg; pkg != NULL; pkg = pkg->arch_next) {
		if (!instance_matches(pkg, arch))
			continue;
		found = true;
		rc = describe(db, pkg, &info, &version);
		if (rc < 0)
			return rc;
		rc = a->pkg_fn(a->userdata, &info);
		free(version);
		if (rc != 0)
			return rc;
	}
	return found ? 0 : not_installed(db, a->name);
}

static int dpkg_lookup(struct pkguard_pkgdb *db, const char *name, pkguard_pkg_fn fn,
		       void *userdata)
{
	struct walk_arg arg = {name, NULL, fn, userdata};

	return run_query(db, lookup_body, &arg);
}

static int open_body(struct pkguard_pkgdb *db, void *arg)
{
	struct pkg_hash_iter *iter;
	struct pkginfo *pkg;

	/* Not dpkg_program_init(): it sets umask(022), calls setvbuf() on
	 * stdout and pushes an error context that exits. The name prefixes
	 * the warnings libdpkg prints. */
	dpkg_set_progname("pkguard");
	dpkg_db_set_dir(db->admindir);
	dpkg_fsys_set_dir(db->instdir);
	/* libdpkg caches the info directory and its format: forget those of
	 * the previous database. */
	pkg_infodb_reset_dir();
	pkg_infodb_set_format(PKG_INFODB_FORMAT_UNKNOWN);

	modstatdb_open(msdbrw_readonly);

	/* ensure_allinstfiles_available() does nothing once it has run in this
	 * process, until a package is marked for rereading. */
	iter = pkg_hash_iter_new();
	pkg = pkg_hash_iter_next_pkg(iter);
	pkg_hash_iter_free(iter);
	if (pkg != NULL)
		note_must_reread_files_inpackage(pkg);
	return 0;
}

static int shutdown_body(struct pkguard_pkgdb *db, void *arg)
{
	modstatdb_shutdown();
	return 0;
}

/* Free DB (NULL is fine) and let the next open() in. */
static void release_db(struct pkguard_pkgdb *db)
{
	size_t i;

	if (db != NULL) {
		for (i = 0; i < db->n_diversions; i++)
			diversion_release(&db->diversions[i]);
		free(db->diversions);
		free(db->admindir);
		free(db->instdir);
		free(db->root);
		free(db);
	}
	atomic_flag_clear(&dpkg_busy);
}

/*
 * Leave libdpkg as a fresh process has it, so that the next open() reads
 * its own database: modstatdb_shutdown() frees only the database paths, not
 * the package and file hashes.
 */
static void dpkg_close(struct pkguard_pkgdb *db)
{
	if (db == NULL)
		return;
	run_guarded(db, shutdown_body, NULL);
	/* The file nodes live in libdpkg's pool, which pkg_hash_reset() frees. */
	fsys_hash_reset();
	pkg_hash_reset();
	/* libdpkg would point at freed memory otherwise. */
	dpkg_db_set_dir(NULL);
	dpkg_fsys_set_dir(NULL);
	release_db(db);
}

static int dpkg_open(struct pkguard_ctx *ctx, struct pkguard_pkgdb **out)
{
	const char *root = pkguard_ctx_root(ctx);
	struct pkguard_pkgdb *db = NULL;
	bool dpkg_used = false;
	char *status = NULL;
	struct stat st;
	int rc;

	*out = NULL;
	if (atomic_flag_test_and_set(&dpkg_busy))
		return pkguard_fail(ctx, -EBUSY,
				    "cannot open the dpkg database in '%s': libdpkg holds one "
				    "database per process and another is open",
				    root);

	db = calloc(1, sizeof(*db));
	if (db == NULL) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot open the dpkg database in '%s'", root);
		goto out;
	}
	db->ctx = ctx;
	db->root = strdup(root);
	db->instdir = path_join(root, "");
	db->admindir = path_join(root, "/" ADMINDIR_REL);
	status = path_join(root, "/" ADMINDIR_REL "/" STATUSFILE);
	if (db->root == NULL || db->instdir == NULL || db->admindir == NULL || status == NULL) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot open the dpkg database in '%s'", root);
		goto out;
	}
	/* libdpkg would take a missing database for an empty one. */
	if (stat(status, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			rc = pkguard_fail(ctx, -PKGUARD_EBACKEND, "no dpkg database in '%s'", root);
		else
			rc = pkguard_fail(ctx, -errno, "cannot stat '%s'", status);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = pkguard_fail(ctx, -PKGUARD_EBACKEND,
				  "no dpkg database in '%s': '%s' is not a regular file", root,
				  status);
		goto out;
	}

	dpkg_used = true;
	rc = run_guarded(db, open_body, NULL);
	if (rc < 0)
		goto out;
	rc = load_diversions(db);
	if (rc < 0)
		goto out;
	*out = db;
	rc = 0;
out:
	free(status);
	if (rc < 0 && dpkg_used)
		dpkg_close(db);
	else if (rc < 0)
		release_db(db);
	return rc;
}

const struct pkguard_pkgdb_ops pkguard_dpkg_ops = {
	.name = "dpkg",
	.manages = dpkg_manages,
	.open = dpkg_open,
	.close = dpkg_close,
	.files = dpkg_files,
	.owners = dpkg_owners,
	.lookup = dpkg_lookup,
};
