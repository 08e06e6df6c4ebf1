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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dpkg/dpkg.h>
#include <dpkg/dpkg-db.h>
#include <dpkg/arch.h>
#include <dpkg/db-ctrl.h>
#include <dpkg/db-fsys.h>
#include <dpkg/ehandle.h>
#include <dpkg/fsys.h>
#include <dpkg/parsedump.h>
#include <dpkg/pkg-list.h>
#include <dpkg/progname.h>
#include <dpkg/triglib.h>

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
	bool some;	  /* open_for(): only the named packages were read */
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
 * Read files list PATH, checked the way libdpkg will parse it
 * (db-fsys-files.c): a final newline, and no line left empty once one
 * trailing '/' is stripped. libdpkg parses with onerr_abort raised, so its
 * ohshit() on a malformed list would exit the process instead of jumping back
 * to run_guarded(). Each line, without its newline, goes to LINE (if not
 * NULL), which may write one byte past it. The list is read in db->buf-sized
 * pieces: the longest (thousands of kernel modules, a cloud SDK) never sits
 * in memory whole. A line longer than the buffer is no path (PATH_MAX is far
 * below), so it is skipped.
 */
static int read_files_list(struct pkguard_pkgdb *db, const char *path,
			   int (*line)(void *arg, char *text, size_t len), void *arg)
{
	size_t have = 0, start, i;
	unsigned int lineno = 1;
	bool skipping = false;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* libdpkg takes a missing list for an empty one (and warns). */
		if (errno == ENOENT)
			return 0;
		return pkguard_fail(db->ctx, -errno, "cannot open '%s'", path);
	}
	for (;;) {
		n = read(fd, db->buf + have, sizeof(db->buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pkguard_fail(db->ctx, -errno, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		for (start = 0, i = 0; i < have; i++) {
			if (db->buf[i] != '\n')
				continue;
			if (!skipping &&
			    (i == start || (i == start + 1 && db->buf[start] == '/'))) {
				rc = pkguard_fail(db->ctx, -PKGUARD_EBACKEND,
						  "cannot parse '%s' line %u: empty file name",
						  path, lineno);
				goto out;
			}
			if (!skipping && line && (rc = line(arg, db->buf + start, i - start)) < 0) {
				rc = pkguard_fail(db->ctx, rc, "cannot read '%s'", path);
				goto out;
			}
			skipping = false;
			start = i + 1;
			lineno++;
		}
		if (start == 0 && have == sizeof(db->buf) - 1) {
			skipping = true; /* a line longer than the buffer: drop what we have */
			have = 0;
			continue;
		}
		memmove(db->buf, db->buf + start, have - start);
		have -= start;
	}
	if (have != 0 || skipping) {
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
	rc = read_files_list(db, pkg_infodb_get_file(pkg, &pkg->installed, LISTFILE), NULL, NULL);
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
	rc = pkguard_usr_alias(db->ctx, a->path, &alias);
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

/* Owners are anyone's files: a database of some packages cannot say. */
static int some_only(struct pkguard_pkgdb *db)
{
	return pkguard_fail(db->ctx, -EINVAL,
			    "cannot look up owners in the dpkg database in '%s': it was opened "
			    "for some packages only",
			    db->root);
}

static int dpkg_owners(struct pkguard_pkgdb *db, const char *path, pkguard_pkg_fn fn,
		       void *userdata)
{
	struct owners_arg arg = {path, fn, userdata};

	if (path[0] != '/')
		return pkguard_fail(db->ctx, -EINVAL, "cannot look up '%s': not an absolute path",
				    path);
	if (db->some)
		return some_only(db);
	return run_query(db, owners_body, &arg);
}

/*
 * owners_many(): one pass over the files lists of the installed packages,
 * looking each line up among the names wanted, instead of loading every
 * list into libdpkg's file hash (tens of MiB for a desktop's 150k paths).
 * The answers are owners()'s: the same names are looked up (the path, its
 * merged-/usr alias, and the FROM of a diversion to either), with the same
 * diversion rules, and the packages that list a name come in the order of
 * libdpkg's file hash, which prepends each package as it loads the lists in
 * package-hash order: last loaded first (owners()'s order, unless files()
 * loaded some lists before).
 */

/* One name looked up in the files lists, for one path of owners_many(). */
struct want_name {
	char *name; /* as spelt for owners(); the key skips leading "/" and "./" */
	const char *key;
	const struct diversion *div;
	bool diverted;		/* add_listers()'s DIVERTED */
	size_t path;		/* index into the paths */
	size_t next;		/* next wanted name in the same hash chain, + 1; 0: none */
	struct pkg_vec listers; /* installed packages whose list has the name, in list order */
};

struct owners_many {
	struct want_name *names;
	size_t n_names, cap_names;
	size_t *heads; /* hash -> first name + 1 */
	size_t n_heads;
	/* The installed packages and their files lists, in package-hash order. */
	struct pkginfo **pkgs;
	char **lists;
	size_t n_pkgs, cap_pkgs;
};

/* The key libdpkg's file hash uses for NAME (path_skip_slash_dotslash()). */
static const char *hash_key(const char *name)
{
	while (name[0] == '/' || (name[0] == '.' && name[1] == '/'))
		name++;
	return name;
}

static size_t key_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 32));
}

static int want_add(struct owners_many *m, size_t path, const char *name,
		    const struct diversion *div, bool diverted)
{
	struct want_name *w;

	if (m->n_names == m->cap_names) {
		size_t cap = m->cap_names ? 2 * m->cap_names : 64;
		struct want_name *grown = reallocarray(m->names, cap, sizeof(*grown));

		if (grown == NULL)
			return -ENOMEM;
		m->names = grown;
		m->cap_names = cap;
	}
	w = &m->names[m->n_names];
	memset(w, 0, sizeof(*w));
	w->name = strdup(name);
	if (w->name == NULL)
		return -ENOMEM;
	w->key = hash_key(w->name);
	w->div = div;
	w->diverted = diverted;
	w->path = path;
	m->n_names++;
	return 0;
}

/* add_owners()'s lookups of PATH, as spelt. */
static int want_owners(struct pkguard_pkgdb *db, struct owners_many *m, size_t index,
		       const char *path)
{
	const struct diversion *div;
	int rc;

	rc = want_add(m, index, path, diversion_from(db, path), false);
	div = diversion_to(db, path);
	if (rc == 0 && div != NULL)
		rc = want_add(m, index, div->from, div, true);
	return rc;
}

static int index_wanted(struct owners_many *m)
{
	size_t i, h;

	m->n_heads = 1;
	while (m->n_heads < 2 * m->n_names)
		m->n_heads *= 2;
	m->heads = calloc(m->n_heads, sizeof(*m->heads));
	if (m->heads == NULL)
		return -ENOMEM;
	for (i = 0; i < m->n_names; i++) {
		h = key_hash(m->names[i].key, strlen(m->names[i].key)) & (m->n_heads - 1);
		m->names[i].next = m->heads[h];
		m->heads[h] = i + 1;
	}
	return 0;
}

/* Every installed package and the path of its files list. Call from inside run_guarded(). */
static int list_installed_body(struct pkguard_pkgdb *db, void *arg)
{
	struct owners_many *m = arg;
	struct pkg_hash_iter *iter;
	struct pkginfo *pkg;
	int rc = 0;

	/* pkg_infodb_get_file() can ohshit() (it reads the info database
	 * format): what was gathered so far hangs off M, freed by the caller. */
	iter = pkg_hash_iter_new();
	push_cleanup(free_pkg_iter, ~0, 1, iter);
	while ((pkg = pkg_hash_iter_next_pkg(iter)) != NULL) {
		char *list;

		if (!is_installed(pkg))
			continue;
		if (m->n_pkgs == m->cap_pkgs) {
			size_t cap = m->cap_pkgs ? 2 * m->cap_pkgs : 256;
			struct pkginfo **pkgs = reallocarray(m->pkgs, cap, sizeof(*pkgs));
			char **lists;

			if (pkgs != NULL)
				m->pkgs = pkgs;
			lists = pkgs ? reallocarray(m->lists, cap, sizeof(*lists)) : NULL;
			if (lists == NULL) {
				rc = -ENOMEM;
				break;
			}
			m->lists = lists;
			m->cap_pkgs = cap;
		}
		list = strdup(pkg_infodb_get_file(pkg, &pkg->installed, LISTFILE));
		if (list == NULL) {
			rc = -ENOMEM;
			break;
		}
		m->pkgs[m->n_pkgs] = pkg;
		m->lists[m->n_pkgs++] = list;
	}
	pop_cleanup(ehflag_normaltidy);
	return rc;
}

/* One line of a files list, without its newline: note PKG on the wanted names it spells. */
static int list_line(struct owners_many *m, struct pkginfo *pkg, char *line, size_t len)
{
	const char *key;
	size_t i, klen;

	/* As libdpkg reads it: one trailing '/' goes, then the hash key. */
	if (len > 0 && line[len - 1] == '/')
		len--;
	line[len] = '\0';
	key = hash_key(line);
	klen = len - (size_t)(key - line);
	for (i = m->heads[key_hash(key, klen) & (m->n_heads - 1)]; i; i = m->names[i - 1].next) {
		struct want_name *w = &m->names[i - 1];

		if (strcmp(w->key, key) == 0 && pkg_vec_add(&w->listers, pkg) < 0)
			return -ENOMEM;
	}
	return 0;
}

struct list_owner {
	struct owners_many *m;
	struct pkginfo *pkg;
};

static int owner_line(void *arg, char *line, size_t len)
{
	struct list_owner *o = arg;

	return list_line(o->m, o->pkg, line, len);
}

static void owners_many_release(struct owners_many *m)
{
	size_t i;

	for (i = 0; i < m->n_names; i++) {
		free(m->names[i].name);
		free(m->names[i].listers.pkgs);
	}
	for (i = 0; i < m->n_pkgs; i++)
		free(m->lists[i]);
	free(m->names);
	free(m->heads);
	free(m->pkgs);
	free(m->lists);
}

static int dpkg_owners_many(struct pkguard_pkgdb *db, const char *const *paths, size_t n,
			    pkguard_owner_fn fn, void *userdata)
{
	struct owners_many m = {0};
	struct pkg_vec vec = {NULL, 0, 0};
	struct pkguard_pkginfo info;
	size_t i, w, k;
	char *version;
	int rc;

	if (db->some)
		return some_only(db);
	if (db->dpkg_failed)
		return pkguard_fail(db->ctx, -PKGUARD_EBACKEND,
				    "cannot query the dpkg database in '%s' after a libdpkg error",
				    db->root);
	for (i = 0; i < n; i++) {
		char *alias = NULL;

		if (paths[i][0] != '/') {
			rc = pkguard_fail(db->ctx, -EINVAL,
					  "cannot look up '%s': not an absolute path", paths[i]);
			goto out;
		}
		rc = pkguard_usr_alias(db->ctx, paths[i], &alias);
		if (rc < 0)
			goto out;
		rc = want_owners(db, &m, i, paths[i]);
		if (rc == 0 && alias != NULL)
			rc = want_owners(db, &m, i, alias);
		free(alias);
		if (rc < 0) {
			rc = pkguard_fail(db->ctx, rc, "cannot look up '%s'", paths[i]);
			goto out;
		}
	}
	rc = index_wanted(&m);
	if (rc == 0)
		rc = run_query(db, list_installed_body, &m);
	if (rc == -ENOMEM)
		rc = pkguard_fail(db->ctx, rc, "cannot read the files lists in '%s'", db->root);
	for (i = 0; rc == 0 && i < m.n_pkgs; i++)
		rc = read_files_list(db, m.lists[i], owner_line,
				     &(struct list_owner){&m, m.pkgs[i]});
	if (rc < 0)
		goto out;
	/* The names of a path follow one another, in add_owners()'s order. */
	for (w = 0; w < m.n_names;) {
		size_t path = m.names[w].path;

		vec.n = 0;
		for (; w < m.n_names && m.names[w].path == path; w++) {
			const struct want_name *name = &m.names[w];

			for (k = name->listers.n; k-- > 0;) {
				struct pkginfo *pkg = name->listers.pkgs[k];

				if (is_diverted(name->div, pkg) != name->diverted)
					continue;
				if (pkg_vec_add(&vec, pkg) < 0) {
					rc = pkguard_fail(db->ctx, -ENOMEM, "cannot look up '%s'",
							  paths[path]);
					goto out;
				}
			}
		}
		for (k = 0; k < vec.n; k++) {
			rc = describe(db, vec.pkgs[k], &info, &version);
			if (rc < 0)
				goto out;
			rc = fn(userdata, path, &info);
			free(version);
			if (rc != 0)
				goto out;
		}
	}
	rc = 0;
out:
	free(vec.pkgs);
	owners_many_release(&m);
	return rc;
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

/*
 * open_for(): the database with only the named packages read. libdpkg's
 * modstatdb_open() parses every stanza of the status file, and each Depends
 * and Provides field builds its links: about 10 ms of CPU for 1000 packages
 * here, on the way of every check, where a check of one package needs one
 * stanza (or one per architecture). So the stanzas whose Package field names
 * a target are picked out of the file and libdpkg parses those, from a
 * memfd, as it would have parsed the file; likewise the update files of an
 * interrupted run, in their order. A check of libc6: 12.5 ms -> 1.7 ms
 * (modstatdb_open() against this, a harness, 1000 processes running).
 *
 * The picking follows libdpkg's parse_stanza(): a stanza ends at an empty
 * line; a line starting with a space or tab continues a field; a field's
 * name ends at a space or ':', compared without case; its value starts after
 * the ':' and blanks, its trailing blanks dropped; package names compare
 * without case (pkg_hash_find_set()). Whatever the picking cannot read with
 * certainty (odd_bytes() anywhere, a stanza without a Package field or
 * final newline, an update file libdpkg would refuse) makes it hand
 * everything to modstatdb_open() after all, which then parses or refuses
 * the file as before. Stanzas not picked are not checked: a malformed one
 * that modstatdb_open() would refuse goes unnoticed unless it is a target's.
 */
struct pick {
	const char *const *names; /* package names, ":arch" ignored */
	size_t n;
	const char *status; /* the status file's path, for libdpkg's messages */
	bool everything;    /* modstatdb_open() it all */
	int fd;		    /* memfd of the status file's picked stanzas */
	char **updates;	    /* the picked update files, in libdpkg's order */
	size_t n_updates;
};

/* Is VALUE (LEN bytes) one of PICK's names, without its ":arch"? */
static bool picked_name(const struct pick *pick, const char *value, size_t len)
{
	size_t i, n;

	for (i = 0; i < pick->n; i++) {
		const char *colon = strchr(pick->names[i], ':');

		n = colon ? (size_t)(colon - pick->names[i]) : strlen(pick->names[i]);
		if (n == len && strncasecmp(pick->names[i], value, len) == 0)
			return true;
	}
	return false;
}

/*
 * The first empty line's newline after P ("\n\n"), or NULL. memchr() per
 * line rather than memmem(), whose two-byte search goes a byte at a time:
 * 1% of a check's CPU over this host's 900 KB status file.
 */
static const char *empty_line(const char *p, const char *end)
{
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) && p + 1 < end) {
		if (p[1] == '\n')
			return p;
		p++;
	}
	return NULL;
}

/*
 * The stanza at P, after any empty lines, up to the next empty line (or
 * END): where it starts and ends (*START, and *NEXT after the newline of
 * its last line), and whether its Package field names a target. Returns -1
 * for a stanza without a Package field or a final newline (libdpkg's to
 * judge); 0 with *START at END when only empty lines are left.
 */
static int pick_stanza(const struct pick *pick, const char *p, const char *end, const char **start,
		       const char **next)
{
	const char *stop, *line, *eol, *v, *ve;
	int found = -1;

	while (p < end && *p == '\n')
		p++;
	*start = *next = p;
	if (p == end)
		return 0;
	stop = empty_line(p, end);
	stop = stop ? stop + 1 : end;
	*next = stop;
	if (stop[-1] != '\n')
		return -1;
	for (line = p; line < stop; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(stop - line));
		if (*line == ' ' || *line == '\t')
			continue; /* a continuation */
		for (v = line; v < eol && *v != ':' && *v != ' ' && *v != '\t'; v++)
			;
		if (v - line != 7 || strncasecmp(line, "Package", 7) != 0)
			continue;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		if (v == eol || *v != ':')
			continue; /* libdpkg refuses it: the whole parse says so */
		for (v++; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		found = picked_name(pick, v, (size_t)(ve - v));
		break;
	}
	return found;
}

/*
 * Bytes that libdpkg reads in ways the picking does not follow: a NUL, ^Z
 * (its end of file), and the blanks other than space and tab (\r \v \f,
 * which end a field name there).
 */
static bool odd_bytes(const char *data, size_t len)
{
	static const char odd[] = {'\0', 0x1a, '\r', '\v', '\f'};
	size_t i;

	for (i = 0; i < sizeof(odd); i++) {
		if (memchr(data, odd[i], len))
			return true;
	}
	return false;
}

/* Copy the picked stanzas of the status file into a memfd (pick->fd). */
static int pick_status(struct pkguard_pkgdb *db, struct pick *pick)
{
	const char *data, *p, *end, *start, *next;
	struct stat st;
	int fd, rc = 0, found;

	fd = open(pick->status, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pkguard_fail(db->ctx, -errno, "cannot open '%s'", pick->status);
	if (fstat(fd, &st) < 0) {
		rc = pkguard_fail(db->ctx, -errno, "cannot stat '%s'", pick->status);
		close(fd);
		return rc;
	}
	pick->fd = memfd_create("pkguard-status", MFD_CLOEXEC);
	if (pick->fd < 0) {
		rc = pkguard_fail(db->ctx, -errno, "cannot read '%s'", pick->status);
		close(fd);
		return rc;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (data == MAP_FAILED)
		return pkguard_fail(db->ctx, -errno, "cannot read '%s'", pick->status);
	end = data + st.st_size;
	if (odd_bytes(data, (size_t)st.st_size))
		pick->everything = true;
	for (p = data; !pick->everything && p < end; p = next) {
		found = pick_stanza(pick, p, end, &start, &next);
		if (found < 0)
			pick->everything = true;
		else if (found && (write(pick->fd, start, (size_t)(next - start)) != next - start ||
				   write(pick->fd, "\n", 1) != 1)) {
			rc = pkguard_fail(db->ctx, -errno, "cannot read '%s'", pick->status);
			break;
		}
	}
	munmap((void *)data, (size_t)st.st_size);
	if (rc == 0 && lseek(pick->fd, 0, SEEK_SET) < 0)
		rc = pkguard_fail(db->ctx, -errno, "cannot read '%s'", pick->status);
	return rc;
}

/* An update file's name as libdpkg takes it: digits only, at most IMPORTANTMAXLEN. */
static int update_name(const struct dirent *de)
{
	const char *c;

	for (c = de->d_name; *c >= '0' && *c <= '9'; c++)
		;
	return *c == '\0' && c != de->d_name;
}

/*
 * Pick the update files (one stanza each) that name a target, in the order
 * libdpkg parses them. Any name libdpkg would refuse (too long, lengths
 * that differ) leaves it to modstatdb_open().
 */
static int pick_updates(struct pkguard_pkgdb *db, struct pick *pick)
{
	struct dirent **names = NULL;
	char *dir, *path = NULL, *data;
	int n, i, rc = 0, found;
	const char *start, *next, *more;
	size_t len;
	ssize_t got;
	FILE *f;

	dir = path_join(db->admindir, "/" UPDATESDIR);
	if (dir == NULL)
		return pkguard_fail(db->ctx, -ENOMEM, "cannot open the dpkg database");
	n = scandir(dir, &names, update_name, alphasort);
	if (n < 0) {
		rc = errno == ENOENT ? 0 : pkguard_fail(db->ctx, -errno, "cannot scan '%s'", dir);
		free(dir);
		return rc;
	}
	for (i = 0; i < n; i++) {
		size_t l = strlen(names[i]->d_name);

		if (l > IMPORTANTMAXLEN || l != strlen(names[0]->d_name))
			pick->everything = true;
	}
	pick->updates = calloc(n ? (size_t)n : 1, sizeof(*pick->updates));
	if (pick->updates == NULL)
		rc = pkguard_fail(db->ctx, -ENOMEM, "cannot open the dpkg database");
	for (i = 0; rc == 0 && !pick->everything && i < n; i++) {
		if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
			rc = pkguard_fail(db->ctx, -ENOMEM, "cannot open the dpkg database");
			break;
		}
		data = NULL;
		len = 0;
		f = fopen(path, "re");
		got = f ? getdelim(&data, &len, '\0', f) : -1;
		/*
		 * Exactly one stanza, or libdpkg says what it makes of the file
		 * (unreadable, gone meanwhile, empty, odd bytes, more stanzas).
		 */
		found = got <= 0 || odd_bytes(data, (size_t)got)
				? -1
				: pick_stanza(pick, data, data + got, &start, &next);
		if (found >= 0 &&
		    (start == data + got ||
		     pick_stanza(pick, next, data + got, &more, &next) != 0 || more != data + got))
			found = -1;
		if (found < 0) {
			pick->everything = true;
		} else if (found) {
			pick->updates[pick->n_updates++] = path;
			path = NULL;
		}
		if (f)
			fclose(f);
		free(data);
		free(path);
		path = NULL;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(dir);
	return rc;
}

static void pick_release(struct pick *pick)
{
	size_t i;

	if (pick->fd >= 0)
		close(pick->fd);
	for (i = 0; i < pick->n_updates; i++)
		free(pick->updates[i]);
	free(pick->updates);
}

/* ARG: the struct pick of open_db(). */
static int open_body(struct pkguard_pkgdb *db, void *arg)
{
	const struct pick *pick = arg;
	struct parsedb_state *ps;
	struct pkg_hash_iter *iter;
	struct pkginfo *pkg;
	size_t i;

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

	if (pick->everything) {
		modstatdb_open(msdbrw_readonly);
	} else {
		/* What modstatdb_open(msdbrw_readonly) does, on the picked stanzas. */
		modstatdb_init();
		dpkg_arch_load_list();
		ps = parsedb_new(pick->status, pick->fd, pdb_parse_status);
		parsedb_load(ps);
		parsedb_parse(ps, NULL);
		parsedb_close(ps);
		for (i = 0; i < pick->n_updates; i++)
			parsedb(pick->updates[i], pdb_parse_update, NULL);
		trig_fixup_awaiters(msdbrw_readonly);
		trig_incorporate(msdbrw_readonly);
	}

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

/* open() with NAMES NULL, open_for() with the N NAMES. */
static int open_db(struct pkguard_ctx *ctx, const char *const *names, size_t n,
		   struct pkguard_pkgdb **out)
{
	const char *root = pkguard_ctx_root(ctx);
	struct pkguard_pkgdb *db = NULL;
	struct pick pick = {names, n, NULL, names == NULL, -1, NULL, 0};
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

	pick.status = status;
	if (!pick.everything) {
		rc = pick_status(db, &pick);
		if (rc == 0)
			rc = pick_updates(db, &pick);
		if (rc < 0)
			goto out;
		if (pick.everything)
			pkguard_log(ctx, PKGUARD_LOG_DEBUG,
				    "dpkg: reading every package: the database has something "
				    "only libdpkg reads");
		db->some = !pick.everything;
	}

	dpkg_used = true;
	rc = run_guarded(db, open_body, &pick);
	if (rc < 0)
		goto out;
	rc = load_diversions(db);
	if (rc < 0)
		goto out;
	*out = db;
	rc = 0;
out:
	pick_release(&pick);
	free(status);
	if (rc < 0 && dpkg_used)
		dpkg_close(db);
	else if (rc < 0)
		release_db(db);
	return rc;
}

static int dpkg_open(struct pkguard_ctx *ctx, struct pkguard_pkgdb **out)
{
	return open_db(ctx, NULL, 0, out);
}

static int dpkg_open_for(struct pkguard_ctx *ctx, const char *const *names, size_t n,
			 struct pkguard_pkgdb **out)
{
	return open_db(ctx, names, n, out);
}

/*
 * hold(): dpkg's selections, the mechanism apt-mark hold uses. apt-mark
 * pipes "NAME hold" into `dpkg --set-selections`; so does this, rather than
 * writing the status file itself, so that dpkg's locking and journal apply.
 */
#define DPKG_PROGRAM	"/usr/bin/dpkg"
#define HOLD_TIMEOUT_MS 30000
#define HOLD_OUTPUT_MAX 1024 /* the part of dpkg's messages kept for an error */

struct hold_arg {
	const char *name;
	bool on;
	FILE *lines; /* the selections to set, "NAME[:ARCH] WANT\n" each */
	size_t n_lines;
};

/*
 * Write the selections that put NAME on hold (ON) or lift its hold; an
 * instance already as wanted needs none. Holding needs an installed
 * instance; lifting looks at every instance whose selection is hold, and no
 * other: a selection the admin set to install, deinstall or purge is never
 * touched.
 */
static int hold_body(struct pkguard_pkgdb *db, void *arg)
{
	struct hold_arg *a = arg;
	struct pkgset *set;
	struct pkginfo *pkg;
	const char *arch, *want;
	bool found = false;
	int rc;

	rc = find_set(db, a->name, &set, &arch);
	if (rc < 0)
		return rc;
	for (pkg = &set->pkg; pkg != NULL; pkg = pkg->arch_next) {
		if (arch != NULL && strcmp(pkg->installed.arch->name, arch) != 0)
			continue;
		if (a->on) {
			if (!is_installed(pkg))
				continue;
			found = true;
			if (pkg->want == PKG_WANT_HOLD)
				continue;
			want = "hold";
		} else {
			if (pkg->want != PKG_WANT_HOLD)
				continue;
			/* An instance removed while held goes back to what dpkg
			 * --remove leaves, not to "install": dselect-upgrade would
			 * install it again. */
			want = is_installed(pkg) ? "install" : "deinstall";
		}
		/* dpkg's own unambiguous spelling ("libfoo:amd64" for a
		 * Multi-Arch: same or foreign instance), the one --get-selections
		 * prints: a bare name that fits several instances is an error
		 * to --set-selections. */
		if (fprintf(a->lines, "%s %s\n", pkg_name(pkg, pnaw_nonambig), want) < 0)
			return pkguard_fail(db->ctx, -ENOMEM, "cannot hold package '%s'", a->name);
		a->n_lines++;
	}
	if (a->on && !found)
		return not_installed(db, a->name);
	return 0;
}

/*
 * The selections that would bring NAME where ON wants it, read from the
 * database of ctx's root: *lines (the caller frees it), *n_lines of them.
 */
static int hold_lines(struct pkguard_ctx *ctx, const char *name, bool on, char **lines, size_t *len,
		      size_t *n_lines)
{
	struct hold_arg arg = {name, on, NULL, 0};
	struct pkguard_pkgdb *db = NULL;
	int rc;

	*lines = NULL;
	*n_lines = 0;
	arg.lines = open_memstream(lines, len);
	if (arg.lines == NULL)
		return pkguard_fail(ctx, -ENOMEM, "cannot hold package '%s'", name);
	rc = dpkg_open(ctx, &db);
	if (rc == 0)
		rc = run_query(db, hold_body, &arg);
	dpkg_close(db);
	if (fclose(arg.lines) != 0 && rc == 0)
		rc = pkguard_fail(ctx, -ENOMEM, "cannot hold package '%s'", name);
	*n_lines = arg.n_lines;
	return rc;
}

/*
 * The line of dpkg's messages worth quoting: its error ("dpkg: error: ..."),
 * else the first line. dpkg continues it on lines of advice ("Note: removing
 * the lock file is always wrong ..."), which are left out. Control
 * characters become spaces.
 */
static const char *dpkg_message(char *text)
{
	char *line = strstr(text, "dpkg: error: ");
	char *p;

	if (line == NULL)
		line = text;
	line[strcspn(line, "\n")] = '\0';
	for (p = line; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	return line;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Run `dpkg [--root=ROOT] --set-selections` with LINES on its stdin and wait
 * at most HOLD_TIMEOUT_MS. Returns 0 when dpkg exited 0, or <0 with dpkg's
 * exit status and first messages in ctx.
 */
static int set_selections(struct pkguard_ctx *ctx, const char *name, const char *lines, size_t len)
{
	const char *root = pkguard_ctx_root(ctx);
	const char *locked = getenv("DPKG_FRONTEND_LOCKED");
	char *envp[3] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL, NULL};
	char *argv[4] = {DPKG_PROGRAM, NULL, NULL, NULL};
	char output[HOLD_OUTPUT_MAX + 1];
	char *root_opt = NULL, *locked_env = NULL;
	const char *message;
	int in[2] = {-1, -1}, out[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct pollfd pfd[2];
	size_t out_len = 0;
	uint64_t deadline;
	bool exited = false, out_open = true;
	int pidfd = -1, status, saved, n, rc;
	sigset_t all, none;
	pid_t pid = -1;
	ssize_t got;

	/* Inside apt's hooks apt holds dpkg's frontend lock and says so in
	 * DPKG_FRONTEND_LOCKED: without it the nested dpkg fails on that lock
	 * ("dpkg frontend lock was locked by another process"). apt has let go
	 * of the database lock itself by then, so --set-selections can take it. */
	if (locked != NULL && asprintf(&locked_env, "DPKG_FRONTEND_LOCKED=%s", locked) < 0) {
		locked_env = NULL;
		rc = pkguard_fail(ctx, -ENOMEM, "cannot hold package '%s'", name);
		goto out;
	}
	envp[1] = locked_env;
	/* --root sets both the instdir and the admindir, ROOT/var/lib/dpkg:
	 * the database that hold_lines() read. */
	if (strcmp(root, "/") != 0 && asprintf(&root_opt, "--root=%s", root) < 0) {
		root_opt = NULL;
		rc = pkguard_fail(ctx, -ENOMEM, "cannot hold package '%s'", name);
		goto out;
	}
	argv[1] = root_opt != NULL ? root_opt : "--set-selections";
	argv[2] = root_opt != NULL ? "--set-selections" : NULL;

	/* Our end of the output pipe never blocks: should anything dpkg
	 * started keep it open after dpkg exits, the wait still ends. */
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    fcntl(out[0], F_SETFL, O_NONBLOCK) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot hold package '%s': cannot create a pipe",
				  name);
		goto out;
	}
	/* The few lines fit the pipe: written before dpkg starts, they cannot
	 * block, and cannot raise SIGPIPE, whenever dpkg exits. */
	n = fcntl(in[1], F_GETPIPE_SZ);
	if (n < 0 || len > (size_t)n) {
		rc = pkguard_fail(ctx, -E2BIG, "cannot hold package '%s': %zu bytes of selections",
				  name, len);
		goto out;
	}
	if (write(in[1], lines, len) != (ssize_t)len) {
		rc = pkguard_fail(ctx, -errno, "cannot hold package '%s': cannot write to a pipe",
				  name);
		goto out;
	}
	close(in[1]);
	in[1] = -1;

	/* stdout and stderr into one pipe, for the error message; no other fd
	 * of ours (apt's info pipe, the state database) reaches dpkg. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&pid, DPKG_PROGRAM, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		pid = -1;
		rc = pkguard_fail(ctx, -rc, "cannot hold package '%s': cannot run '%s'", name,
				  DPKG_PROGRAM);
		goto out;
	}
	close(in[0]);
	in[0] = -1;
	close(out[1]);
	out[1] = -1;

	/* Without pidfds (Linux < 5.3) the end of dpkg's output marks its exit. */
	pidfd = pidfd_open(pid, 0);
	deadline = now_ms() + HOLD_TIMEOUT_MS;
	while (!exited && (pidfd >= 0 || out_open)) {
		uint64_t now = now_ms();
		nfds_t nfds = 0;

		if (now >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			pid = -1;
			rc = pkguard_fail(ctx, -ETIMEDOUT,
					  "cannot hold package '%s': '%s%s%s --set-selections' did "
					  "not finish in %d s",
					  name, DPKG_PROGRAM, root_opt ? " " : "",
					  root_opt ? root_opt : "", HOLD_TIMEOUT_MS / 1000);
			goto out;
		}
		if (out_open)
			pfd[nfds++] = (struct pollfd){.fd = out[0], .events = POLLIN};
		if (pidfd >= 0)
			pfd[nfds++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		n = poll(pfd, nfds, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pkguard_fail(ctx, -errno,
					  "cannot hold package '%s': cannot wait for dpkg", name);
			goto out;
		}
		if (pidfd >= 0 && pfd[nfds - 1].revents != 0)
			exited = true;
		while (out_open && (exited || pfd[0].revents != 0)) {
			char sink[512];
			size_t room = HOLD_OUTPUT_MAX - out_len;

			/* Keep the beginning (dpkg's error comes first); read the rest
			 * only to let dpkg go on. */
			got = read(out[0], room > 0 ? output + out_len : sink,
				   room > 0 ? room : sizeof(sink));
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0 && errno == EAGAIN)
				break;
			if (got <= 0) {
				/* EOF, or an error: nothing more to read either way. */
				out_open = false;
				break;
			}
			if (room > 0)
				out_len += (size_t)got;
			if (!exited)
				break;
		}
	}
	output[out_len] = '\0';
	message = dpkg_message(output);

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			saved = errno;
			pid = -1;
			rc = pkguard_fail(ctx, -saved,
					  "cannot hold package '%s': cannot wait for dpkg", name);
			goto out;
		}
	}
	pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		rc = 0;
	} else if (WIFEXITED(status)) {
		rc = pkguard_fail(ctx, -PKGUARD_EBACKEND,
				  "cannot hold package '%s': '%s%s%s --set-selections' exited with "
				  "status %d%s%s",
				  name, DPKG_PROGRAM, root_opt ? " " : "", root_opt ? root_opt : "",
				  WEXITSTATUS(status), message[0] ? ": " : "", message);
	} else {
		rc = pkguard_fail(ctx, -PKGUARD_EBACKEND,
				  "cannot hold package '%s': '%s%s%s --set-selections' was killed "
				  "by signal %d",
				  name, DPKG_PROGRAM, root_opt ? " " : "", root_opt ? root_opt : "",
				  WTERMSIG(status));
	}
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (pidfd >= 0)
		close(pidfd);
	for (n = 0; n < 2; n++) {
		if (in[n] >= 0)
			close(in[n]);
		if (out[n] >= 0)
			close(out[n]);
	}
	free(root_opt);
	free(locked_env);
	return rc;
}

static int dpkg_hold(struct pkguard_ctx *ctx, const char *name, const char *version, bool on)
{
	/* A selection names the package, whatever version is installed. */
	(void)version;
	char *lines = NULL;
	size_t len = 0, n_lines;
	int rc;

	rc = hold_lines(ctx, name, on, &lines, &len, &n_lines);
	if (rc < 0)
		goto out;
	/* Nothing to change: held already (by the admin), or not held. */
	if (n_lines == 0) {
		rc = 1;
		goto out;
	}
	rc = set_selections(ctx, name, lines, len);
	if (rc < 0)
		goto out;
	/* dpkg --set-selections only warns, and exits 0, about a line it
	 * cannot apply: check that the selections are now what we asked. */
	free(lines);
	lines = NULL;
	rc = hold_lines(ctx, name, on, &lines, &len, &n_lines);
	if (rc == 0 && n_lines > 0)
		rc = pkguard_fail(ctx, -PKGUARD_EBACKEND,
				  "cannot %s package '%s': dpkg --set-selections left it unchanged",
				  on ? "hold" : "lift the hold on", name);
out:
	free(lines);
	return rc;
}

const struct pkguard_pkgdb_ops pkguard_dpkg_ops = {
	.name = "dpkg",
	.manages = dpkg_manages,
	.open = dpkg_open,
	.open_for = dpkg_open_for,
	.close = dpkg_close,
	.files = dpkg_files,
	.owners = dpkg_owners,
	.owners_many = dpkg_owners_many,
	.lookup = dpkg_lookup,
	.hold = dpkg_hold,
};
