/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dnf's versionlock list and zypper's locks file, edited as their own tools
 * would, keeping every line that is not pkguard's.
 *
 * The facts behind the formats (see hold.h for the result):
 * - dnf-plugins-core plugins/versionlock.py: the list is [main] "locklist" of
 *   versionlock.conf; _read_locklist() skips lines starting with "#" and
 *   blank ones and strips the rest; `add` appends "\n# Added lock on DATE\n"
 *   then "NAME-[EPOCH:]VERSION-RELEASE.*" (pkgtup2spec; dnf passes epoch "0"
 *   for none); an exclude is the same with a leading "!". `delete` rewrites
 *   the list without any comment line: after it, pkguard's mark is gone and
 *   its entry cannot be told from the admin's, so it is left in place.
 * - libzypp zypp/PoolQuery.cc recover(): records are runs of "attr: value"
 *   lines; a line that is empty or has no ':' ends a record, a line starting
 *   with "#" is skipped. serialize() writes a blank line, the attributes,
 *   a blank line. zypper's arg2query() (src/commands/locks/common.cc) makes
 *   "type: package", "match_type: glob", "case_sensitive: on",
 *   "solvable_name: NAME". Locks::save() rewrites the whole file, dropping
 *   "#" lines (openSUSE/zypper#54).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hold.h"
#include "pkguard/context.h"
#include "pkguard/error.h"

#define DNF_CONF     "/etc/dnf/plugins/versionlock.conf"
#define ZYPP_DIR     "/etc/zypp"
#define ZYPP_CONF    "/etc/zypp/zypp.conf"
#define ZYPP_LOCKS   "/etc/zypp/locks"
#define MARK	     "pkguard: deferred "
#define FILE_MAX     (16u << 20) /* a lock file larger than this is not one */
#define TMP_ATTEMPTS 16

/* A file under the root: the directory fd it lives in and its contents. */
struct rootfile {
	char *shown;	/* ROOT + path, for messages */
	int dirfd;	/* its directory, checked */
	char *base;	/* its last component */
	bool exists;	/* false: there is none yet */
	struct stat st; /* when it exists */
	char *data;	/* its contents, NUL-terminated; "" when absent */
	size_t len;
};

static void rootfile_release(struct rootfile *f)
{
	free(f->shown);
	free(f->base);
	free(f->data);
	if (f->dirfd >= 0)
		close(f->dirfd);
	*f = (struct rootfile){.dirfd = -1};
}

/* "ROOT without trailing '/'" + PATH; for root "/" just PATH. */
static char *shown_path(struct pkguard_ctx *ctx, const char *path)
{
	const char *root = pkguard_ctx_root(ctx);
	size_t len = strlen(root);
	char *shown;

	while (len > 0 && root[len - 1] == '/')
		len--;
	if (asprintf(&shown, "%.*s%s", (int)len, root, path) < 0)
		return NULL;
	return shown;
}

static bool owner_ok(uid_t uid)
{
	/* Root's, or ours when pkguard runs unprivileged on a root it owns. */
	return uid == 0 || uid == geteuid();
}

static int check_dir(struct pkguard_ctx *ctx, const char *shown, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return pkguard_fail(ctx, -errno, "cannot stat '%s'", shown);
	if (!S_ISDIR(st.st_mode))
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE, "'%s' is not a directory", shown);
	if (!owner_ok(st.st_uid))
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE, "'%s' is owned by uid %u, not root",
				    shown, (unsigned)st.st_uid);
	if (st.st_mode & 022)
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE,
				    "'%s' is writable by group or others (mode %04o)", shown,
				    (unsigned)(st.st_mode & 07777));
	return 0;
}

static int check_file(struct pkguard_ctx *ctx, const char *shown, const struct stat *st,
		      const struct stat *dir)
{
	if (!S_ISREG(st->st_mode))
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE, "'%s' is not a regular file", shown);
	if (!owner_ok(st->st_uid))
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE, "'%s' is owned by uid %u, not root",
				    shown, (unsigned)st->st_uid);
	if (st->st_mode & 022)
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE,
				    "'%s' is writable by group or others (mode %04o)", shown,
				    (unsigned)(st->st_mode & 07777));
	/* A second name elsewhere would be changed behind its owner's back. */
	if (st->st_nlink != 1)
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE, "'%s' has %ju links", shown,
				    (uintmax_t)st->st_nlink);
	if (st->st_dev != dir->st_dev)
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE,
				    "'%s' is not on the filesystem of its directory", shown);
	return 0;
}

/*
 * Open PATH (absolute, inside the root) for reading or replacing: its
 * directory resolved in the root (pkguard_ctx_openat), so that a root's absolute
 * symlinks stay inside it, then the file itself with O_NOFOLLOW and
 * O_NONBLOCK (a FIFO planted there must not hang us). Returns 0 (with
 * f->exists false when there is no such file), -ENOENT without a message
 * when the directory does not exist, or <0 with detail in ctx.
 */
static int rootfile_open(struct pkguard_ctx *ctx, const char *path, struct rootfile *f)
{
	const char *slash = strrchr(path, '/');
	struct stat dir;
	char *dirpath = NULL;
	ssize_t got;
	int fd = -1, rc, err;

	*f = (struct rootfile){.dirfd = -1};
	f->shown = shown_path(ctx, path);
	if (f->shown == NULL)
		return pkguard_fail(ctx, -ENOMEM, "cannot open '%s'", path);
	if (path[0] != '/' || slash == NULL || slash[1] == '\0')
		return pkguard_fail(ctx, -EINVAL, "'%s' is not an absolute file name", f->shown);
	f->base = strdup(slash + 1);
	dirpath = slash == path ? strdup(".") : strndup(path + 1, (size_t)(slash - path - 1));
	if (f->base == NULL || dirpath == NULL) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot open '%s'", f->shown);
		goto out;
	}
	if (dirpath[0] == '\0') {
		free(dirpath);
		dirpath = strdup(".");
		if (dirpath == NULL) {
			rc = pkguard_fail(ctx, -ENOMEM, "cannot open '%s'", f->shown);
			goto out;
		}
	}
	f->dirfd = pkguard_ctx_openat(ctx, dirpath, O_RDONLY | O_DIRECTORY);
	if (f->dirfd < 0) {
		if (f->dirfd == -ENOENT) {
			rc = -ENOENT;
			goto out;
		}
		rc = pkguard_fail(ctx, f->dirfd, "cannot open the directory of '%s'", f->shown);
		goto out;
	}
	rc = check_dir(ctx, f->shown, f->dirfd);
	if (rc < 0)
		goto out;
	if (fstat(f->dirfd, &dir) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot stat the directory of '%s'", f->shown);
		goto out;
	}

	fd = openat(f->dirfd, f->base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		f->data = strdup("");
		rc = f->data == NULL ? pkguard_fail(ctx, -ENOMEM, "cannot open '%s'", f->shown) : 0;
		goto out;
	}
	if (fd < 0) {
		/* ELOOP: a symlink; EACCES: a symlink of another user in a
		 * sticky directory (threats.md #3). */
		if (errno == ELOOP)
			rc = pkguard_fail(ctx, -PKGUARD_EUNSAFE, "'%s' is a symbolic link",
					  f->shown);
		else
			rc = pkguard_fail(ctx, -errno, "cannot open '%s'", f->shown);
		goto out;
	}
	if (fstat(fd, &f->st) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot stat '%s'", f->shown);
		goto out;
	}
	rc = check_file(ctx, f->shown, &f->st, &dir);
	if (rc < 0)
		goto out;
	if ((uintmax_t)f->st.st_size > FILE_MAX) {
		rc = pkguard_fail(ctx, -EFBIG, "'%s' is larger than %u bytes", f->shown, FILE_MAX);
		goto out;
	}
	f->exists = true;
	f->data = malloc((size_t)f->st.st_size + 1);
	if (f->data == NULL) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot read '%s'", f->shown);
		goto out;
	}
	/* Until EOF: the size may have changed since fstat(). */
	for (;;) {
		if (f->len == (size_t)f->st.st_size) {
			char extra;

			got = read(fd, &extra, 1);
			if (got > 0) {
				rc = pkguard_fail(ctx, -EAGAIN, "'%s' changed while read",
						  f->shown);
				goto out;
			}
		} else {
			got = read(fd, f->data + f->len, (size_t)f->st.st_size - f->len);
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = pkguard_fail(ctx, -errno, "cannot read '%s'", f->shown);
			goto out;
		}
		if (got == 0)
			break;
		f->len += (size_t)got;
	}
	f->data[f->len] = '\0';
	rc = 0;
out:
	err = rc;
	if (fd >= 0)
		close(fd);
	free(dirpath);
	return err;
}

/*
 * Replace F's file with DATA: a new file beside it (O_EXCL, F's mode and
 * owner, or 0644 root for a new one), written, fsynced, renamed over it, and
 * the directory fsynced so that the rename is durable too.
 */
static int rootfile_replace(struct pkguard_ctx *ctx, struct rootfile *f, const char *data,
			    size_t len)
{
	mode_t mode = f->exists ? (f->st.st_mode & 0644) : 0644;
	uid_t uid = f->exists ? f->st.st_uid : 0;
	gid_t gid = f->exists ? f->st.st_gid : 0;
	char tmp[NAME_MAX + 1];
	uint32_t rnd;
	size_t done = 0;
	ssize_t put;
	int fd = -1, i, rc;

	for (i = 0; i < TMP_ATTEMPTS; i++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)getpid() * 2654435761u + (uint32_t)i;
		if ((size_t)snprintf(tmp, sizeof(tmp), ".%.200s.pkguard-%08x", f->base, rnd) >=
		    sizeof(tmp))
			return pkguard_fail(ctx, -ENAMETOOLONG, "cannot replace '%s'", f->shown);
		fd = openat(f->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return pkguard_fail(ctx, -errno, "cannot create a new file beside '%s'", f->shown);

	/* Owner first: fchown() may clear mode bits; then the mode the umask cut. */
	if (geteuid() == 0 && fchown(fd, uid, gid) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot set the owner of a new '%s'", f->shown);
		goto fail;
	}
	if (fchmod(fd, mode) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot set the mode of a new '%s'", f->shown);
		goto fail;
	}
	while (done < len) {
		put = write(fd, data + done, len - done);
		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0) {
			rc = pkguard_fail(ctx, -errno, "cannot write a new '%s'", f->shown);
			goto fail;
		}
		done += (size_t)put;
	}
	if (fsync(fd) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot sync a new '%s'", f->shown);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = pkguard_fail(ctx, -errno, "cannot write a new '%s'", f->shown);
		goto fail;
	}
	fd = -1;
	if (renameat(f->dirfd, tmp, f->dirfd, f->base) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot replace '%s'", f->shown);
		goto fail;
	}
	/* The data is safe; a directory that cannot be synced only delays it. */
	(void)fsync(f->dirfd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(f->dirfd, tmp, 0);
	return rc;
}

/* One line of a buffer: [start, end) without its '\n'; next is after it. */
struct line {
	const char *start, *end, *next;
};

static bool next_line(const char *data, size_t len, const char *pos, struct line *l)
{
	const char *nl;

	if (pos >= data + len)
		return false;
	l->start = pos;
	nl = memchr(pos, '\n', (size_t)(data + len - pos));
	l->end = nl != NULL ? nl : data + len;
	l->next = nl != NULL ? nl + 1 : data + len;
	return true;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

static bool line_is(const struct line *l, const char *text)
{
	size_t n = strlen(text);

	return (size_t)(l->end - l->start) == n && memcmp(l->start, text, n) == 0;
}

static bool is_true(const char *v)
{
	return strcasecmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	       strcasecmp(v, "on") == 0;
}

static bool is_false(const char *v)
{
	return strcasecmp(v, "0") == 0 || strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	       strcasecmp(v, "off") == 0;
}

/*
 * The value of KEY in [main] of an INI file's DATA (dnf's and libzypp's
 * parsers: "key = value", "#" and ";" comments). Returns 1 with *value set
 * (free()), 0 when absent, -ENOMEM.
 */
static int ini_main(const struct rootfile *f, const char *key, char **value)
{
	const char *pos = f->data, *s, *e, *eq;
	bool in_main = false;
	struct line l;

	*value = NULL;
	while (next_line(f->data, f->len, pos, &l)) {
		pos = l.next;
		s = l.start;
		e = l.end;
		trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			in_main = e - s == 6 && memcmp(s, "[main]", 6) == 0;
			continue;
		}
		eq = memchr(s, '=', (size_t)(e - s));
		if (!in_main || eq == NULL)
			continue;
		{
			const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;

			trim(&ks, &ke);
			trim(&vs, &ve);
			if ((size_t)(ke - ks) != strlen(key) || memcmp(ks, key, strlen(key)) != 0)
				continue;
			free(*value); /* the last one wins */
			*value = strndup(vs, (size_t)(ve - vs));
			if (*value == NULL)
				return -ENOMEM;
		}
	}
	return *value != NULL;
}

/* ---- dnf ------------------------------------------------------------- */

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static bool name_is(const char *candidate, const char *name)
{
	if (has_glob(candidate))
		return fnmatch(candidate, name, 0) == 0;
	return strcmp(candidate, name) == 0;
}

/*
 * true when the versionlock entry [S, E) can name package NAME. dnf reads an
 * entry as any of the forms of a package spec (NAME, NAME.ARCH,
 * NAME-VERSION, NAME-[EPOCH:]VERSION-RELEASE[.ARCH], globs allowed), so
 * every one of those readings is tried.
 */
static bool dnf_entry_names(const char *s, const char *e, const char *name)
{
	char *spec, *cut;
	bool hit = false;
	int dashes;

	if (s < e && *s == '!')
		s++;
	spec = strndup(s, (size_t)(e - s));
	if (spec == NULL)
		return true; /* cannot tell: the safe answer is "locked already" */
	if (name_is(spec, name))
		goto out_hit;
	cut = strrchr(spec, '.');
	if (cut != NULL) {
		char *noarch = strndup(spec, (size_t)(cut - spec));

		hit = noarch != NULL && name_is(noarch, name);
		free(noarch);
		if (hit)
			goto out;
	}
	for (dashes = 0; dashes < 2; dashes++) {
		cut = strrchr(spec, '-');
		if (cut == NULL)
			break;
		*cut = '\0';
		if (name_is(spec, name))
			goto out_hit;
	}
	goto out;
out_hit:
	hit = true;
out:
	free(spec);
	return hit;
}

/* 1 when the list in F has an entry (lock or exclude) for NAME, else 0. */
static int dnf_has_entry(const struct rootfile *f, const char *name)
{
	const char *pos = f->data, *s, *e;
	struct line l;

	while (next_line(f->data, f->len, pos, &l)) {
		pos = l.next;
		if (l.start < l.end && *l.start == '#')
			continue;
		s = l.start;
		e = l.end;
		trim(&s, &e);
		if (s != e && dnf_entry_names(s, e, name))
			return 1;
	}
	return 0;
}

static int dnf_place(struct pkguard_ctx *ctx, struct rootfile *f, const char *name, const char *evr)
{
	const char *sep = f->len > 0 && f->data[f->len - 1] != '\n' ? "\n" : "";
	const char *epoch = strchr(evr, ':') != NULL ? "" : "0:";
	char *out = NULL;
	int n, rc;

	if (dnf_has_entry(f, name))
		return 1;
	n = asprintf(&out, "%s%s# " MARK "%s\n%s-%s%s.*\n", f->data, sep, name, name, epoch, evr);
	if (n < 0)
		return pkguard_fail(ctx, -ENOMEM, "cannot hold '%s' in '%s'", name, f->shown);
	rc = rootfile_replace(ctx, f, out, (size_t)n);
	free(out);
	return rc;
}

static int dnf_lift(struct pkguard_ctx *ctx, struct rootfile *f, const char *name)
{
	const char *pos = f->data, *s, *e;
	struct line l, entry;
	char *mark = NULL, *out = NULL;
	size_t out_len = 0;
	FILE *mem = NULL;
	int removed = 0, rc;

	if (asprintf(&mark, "# " MARK "%s", name) < 0)
		return pkguard_fail(ctx, -ENOMEM, "cannot lift the hold of '%s'", name);
	mem = open_memstream(&out, &out_len);
	if (mem == NULL) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot lift the hold of '%s'", name);
		goto out;
	}
	while (next_line(f->data, f->len, pos, &l)) {
		pos = l.next;
		/* Ours: the mark and, directly below it, an entry for NAME. */
		if (line_is(&l, mark) && next_line(f->data, f->len, pos, &entry)) {
			s = entry.start;
			e = entry.end;
			trim(&s, &e);
			if (s != e && *s != '#' && *s != '!' && dnf_entry_names(s, e, name)) {
				pos = entry.next;
				removed++;
				continue;
			}
		}
		fwrite(l.start, 1, (size_t)(l.next - l.start), mem);
	}
	if (fclose(mem) != 0) {
		mem = NULL;
		rc = pkguard_fail(ctx, -ENOMEM, "cannot lift the hold of '%s'", name);
		goto out;
	}
	mem = NULL;
	rc = removed == 0 ? 1 : rootfile_replace(ctx, f, out, out_len);
out:
	if (mem != NULL)
		fclose(mem);
	free(out);
	free(mark);
	return rc;
}

/*
 * dnf's list, when the root has the versionlock plugin: *f opened (ready to
 * edit) and *enabled. Returns 0, 1 when the root has no plugin, or <0.
 */
static int dnf_open(struct pkguard_ctx *ctx, struct rootfile *f, bool *enabled)
{
	struct rootfile conf;
	char *list = NULL, *value = NULL;
	int rc;

	*f = (struct rootfile){.dirfd = -1};
	rc = rootfile_open(ctx, DNF_CONF, &conf);
	if (rc == -ENOENT || (rc == 0 && !conf.exists)) {
		rc = 1;
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = ini_main(&conf, "enabled", &value);
	if (rc >= 0)
		*enabled = rc == 0 || !is_false(value);
	if (rc >= 0)
		rc = ini_main(&conf, "locklist", &list);
	if (rc < 0) {
		rc = pkguard_fail(ctx, rc, "cannot read '%s'", conf.shown);
		goto out;
	}
	/* The plugin itself fails then: "Locklist not set". */
	if (rc == 0 || list[0] != '/') {
		rc = pkguard_fail(ctx, -PKGUARD_EPARSE, "'%s' names no absolute locklist",
				  conf.shown);
		goto out;
	}
	rc = rootfile_open(ctx, list, f);
	if (rc == -ENOENT)
		rc = pkguard_fail(ctx, -ENOENT, "cannot open the directory of '%s'", f->shown);
out:
	rootfile_release(&conf);
	free(list);
	free(value);
	return rc;
}

/* ---- zypper ---------------------------------------------------------- */

/* One record of a locks file and what pkguard needs of it. */
struct zrecord {
	const char *start, *end; /* from its first attribute line to after its last */
	bool names;		 /* it locks NAME */
	bool ours;		 /* and carries pkguard's mark */
};

/* true when a solvable_name VALUE of a record with these flags selects NAME. */
static bool zypp_value_names(const char *value, const char *match, bool nocase, const char *name)
{
	char pattern[512];
	size_t n = strcspn(value, " \t<>=!");
	regex_t re;
	bool hit;

	/* "kernel > 1": a versioned lock names "kernel". */
	if (n >= sizeof(pattern))
		return false;
	memcpy(pattern, value, n);
	pattern[n] = '\0';
	if (strcmp(match, "exact") == 0)
		return nocase ? strcasecmp(pattern, name) == 0 : strcmp(pattern, name) == 0;
	if (strcmp(match, "glob") == 0)
		return fnmatch(pattern, name, nocase ? FNM_CASEFOLD : 0) == 0;
	if (strcmp(match, "regex") == 0) {
		if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB | (nocase ? REG_ICASE : 0)) != 0)
			return true; /* cannot tell: the safe answer is "locked already" */
		hit = regexec(&re, name, 0, NULL, 0) == 0;
		regfree(&re);
		return hit;
	}
	/* PoolQuery's default, and "word": a substring. */
	return nocase ? strcasestr(name, pattern) != NULL : strstr(name, pattern) != NULL;
}

/* Attribute and value of a record line [S, E) with its COLON, trimmed. */
static void zypp_attr(const char *s, const char *colon, const char *e, char *attr, size_t attr_size,
		      char *value, size_t value_size)
{
	const char *as = s, *ae = colon, *vs = colon + 1, *ve = e;

	trim(&as, &ae);
	trim(&vs, &ve);
	snprintf(attr, attr_size, "%.*s", (int)(ae - as), as);
	snprintf(value, value_size, "%.*s", (int)(ve - vs), vs);
}

/*
 * What the record [R->start, R->end) says about NAME: its flags first, as
 * attributes may come in any order, then its solvable_name values.
 */
static void zypp_judge(struct zrecord *r, const char *name, const char *mark)
{
	char attr[64], value[512], match[16] = "substring";
	const char *pos = r->start, *colon;
	bool nocase = true, typed = false, package = false, ours = false;
	struct line l;
	int pass;

	r->names = false;
	for (pass = 0; pass < 2; pass++) {
		pos = r->start;
		while (next_line(r->start, (size_t)(r->end - r->start), pos, &l)) {
			pos = l.next;
			colon = memchr(l.start, ':', (size_t)(l.end - l.start));
			if (colon == NULL || *l.start == '#')
				continue;
			zypp_attr(l.start, colon, l.end, attr, sizeof(attr), value, sizeof(value));
			if (pass == 1) {
				if (strcmp(attr, "solvable_name") == 0 &&
				    zypp_value_names(value, match, nocase, name))
					r->names = true;
			} else if (strcmp(attr, "type") == 0 || strcmp(attr, "kind") == 0) {
				/* Kinds are OR'ed; no kind: a query of every kind. */
				typed = true;
				package = package || strcmp(value, "package") == 0;
			} else if (strcmp(attr, "match_type") == 0 ||
				   strcmp(attr, "string_type") == 0) {
				snprintf(match, sizeof(match), "%.15s", value);
			} else if (strcmp(attr, "case_sensitive") == 0) {
				nocase = !is_true(value);
			} else if (strcmp(attr, "comment") == 0) {
				ours = ours || strcmp(value, mark) == 0;
			}
		}
	}
	r->names = r->names && (!typed || package);
	r->ours = r->names && ours;
}

/*
 * Walk the records of F as PoolQuery::recover() reads them: a line that is
 * empty or has no ':' ends one, a line starting with "#" is skipped. FN gets
 * each record with what it says about NAME; its first non-zero value is
 * returned, else 0.
 */
static int zypp_records(const struct rootfile *f, const char *name,
			int (*fn)(void *arg, const struct zrecord *r), void *arg)
{
	const char *pos = f->data, *colon;
	struct zrecord r = {0};
	char mark[512];
	bool in = false, more;
	struct line l;
	int rc;

	snprintf(mark, sizeof(mark), MARK "%s", name);
	do {
		more = next_line(f->data, f->len, pos, &l);
		colon = NULL;
		if (more) {
			pos = l.next;
			if (l.start < l.end && *l.start == '#')
				continue;
			colon = memchr(l.start, ':', (size_t)(l.end - l.start));
		}
		if (colon != NULL) {
			if (!in)
				r.start = l.start;
			in = true;
			r.end = l.next;
			continue;
		}
		if (in) {
			zypp_judge(&r, name, mark);
			rc = fn(arg, &r);
			if (rc != 0)
				return rc;
		}
		in = false;
	} while (more);
	return 0;
}

static int record_names(void *arg, const struct zrecord *r)
{
	(void)arg;
	return r->names;
}

static int zypp_place(struct pkguard_ctx *ctx, struct rootfile *f, const char *name)
{
	const char *sep = f->len > 0 && f->data[f->len - 1] != '\n' ? "\n" : "";
	char *out = NULL;
	int n, rc;

	if (zypp_records(f, name, record_names, NULL) != 0)
		return 1;
	/* The blank line before keeps the record apart from a last one that
	 * has no blank line after it. */
	n = asprintf(&out,
		     "%s%s\ntype: package\nmatch_type: exact\ncase_sensitive: on\n"
		     "solvable_name: %s\ncomment: " MARK "%s\n\n",
		     f->data, sep, name, name);
	if (n < 0)
		return pkguard_fail(ctx, -ENOMEM, "cannot hold '%s' in '%s'", name, f->shown);
	rc = rootfile_replace(ctx, f, out, (size_t)n);
	free(out);
	return rc;
}

/* The spans of pkguard's records, in file order. */
struct zspans {
	const char *start[64], *end[64];
	size_t n;
};

static int record_ours(void *arg, const struct zrecord *r)
{
	struct zspans *sp = arg;

	if (!r->ours)
		return 0;
	if (sp->n == sizeof(sp->start) / sizeof(sp->start[0]))
		return -E2BIG;
	sp->start[sp->n] = r->start;
	sp->end[sp->n] = r->end;
	sp->n++;
	return 0;
}

static bool blank_before(const char *data, const char *at)
{
	return at > data && at[-1] == '\n' && (at - 1 == data || at[-2] == '\n');
}

static int zypp_lift(struct pkguard_ctx *ctx, struct rootfile *f, const char *name)
{
	const char *data = f->data, *end = f->data + f->len, *from = data, *s, *e;
	struct zspans sp = {.n = 0};
	char *out = NULL;
	size_t out_len = 0, i;
	FILE *mem;
	int rc;

	rc = zypp_records(f, name, record_ours, &sp);
	if (rc < 0)
		return pkguard_fail(ctx, rc, "cannot lift the hold of '%s' in '%s'", name,
				    f->shown);
	if (sp.n == 0)
		return 1;
	mem = open_memstream(&out, &out_len);
	if (mem == NULL)
		return pkguard_fail(ctx, -ENOMEM, "cannot lift the hold of '%s'", name);
	for (i = 0; i < sp.n; i++) {
		/* The record, and the blank line before and after it that
		 * zypp_place() or libzypp's serialize() wrote. */
		s = sp.start[i];
		e = sp.end[i];
		if (blank_before(data, s) && s - 1 >= from)
			s--;
		if (e < end && *e == '\n')
			e++;
		fwrite(from, 1, (size_t)(s - from), mem);
		from = e;
	}
	fwrite(from, 1, (size_t)(end - from), mem);
	if (fclose(mem) != 0) {
		free(out);
		return pkguard_fail(ctx, -ENOMEM, "cannot lift the hold of '%s'", name);
	}
	rc = rootfile_replace(ctx, f, out, out_len);
	free(out);
	return rc;
}

/*
 * zypper's locks file, when the root has libzypp's configuration: *f opened
 * and *enabled (locksfile.apply). Returns 0, 1 when the root has no zypper,
 * or <0.
 */
static int zypp_open(struct pkguard_ctx *ctx, struct rootfile *f, bool *enabled)
{
	struct rootfile conf;
	char *path = NULL, *value = NULL;
	int rc;

	*f = (struct rootfile){.dirfd = -1};
	/* ROOT/etc/zypp itself; zypp.conf is optional (all defaults). */
	rc = rootfile_open(ctx, ZYPP_CONF, &conf);
	if (rc == -ENOENT) {
		rc = 1;
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = ini_main(&conf, "locksfile.apply", &value);
	if (rc >= 0)
		*enabled = rc == 0 || !is_false(value);
	if (rc >= 0)
		rc = ini_main(&conf, "locksfile.path", &path);
	if (rc < 0) {
		rc = pkguard_fail(ctx, rc, "cannot read '%s'", conf.shown);
		goto out;
	}
	if (rc == 1 && path[0] != '/') {
		rc = pkguard_fail(ctx, -PKGUARD_EPARSE, "'%s': locksfile.path is not absolute",
				  conf.shown);
		goto out;
	}
	rc = rootfile_open(ctx, path != NULL ? path : ZYPP_LOCKS, f);
	if (rc == -ENOENT)
		rc = pkguard_fail(ctx, -ENOENT, "cannot open the directory of '%s'", f->shown);
out:
	rootfile_release(&conf);
	free(path);
	free(value);
	return rc;
}

/* ---- both ------------------------------------------------------------ */

/* A name or EVR that a lock file can carry: one line, one word, no globs. */
static int check_word(struct pkguard_ctx *ctx, const char *what, const char *s)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0')
		return pkguard_fail(ctx, -EINVAL, "cannot hold: no %s", what);
	if (strlen(s) > 255)
		return pkguard_fail(ctx, -EINVAL, "cannot hold: %s is too long", what);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f || strchr("*?[]!#/<>=\\\"'", *p) != NULL)
			return pkguard_fail(ctx, -EINVAL, "cannot hold: %s '%s' has a '%c'", what,
					    s, *p > ' ' && *p != 0x7f ? *p : '?');
	}
	return 0;
}

/* "[EPOCH:]VERSION-RELEASE", EPOCH digits. */
static int check_evr(struct pkguard_ctx *ctx, const char *name, const char *evr)
{
	const char *colon, *p;
	int rc;

	rc = check_word(ctx, "version", evr);
	if (rc < 0)
		return rc;
	colon = strchr(evr, ':');
	if (colon != NULL) {
		for (p = evr; p < colon; p++) {
			if (!isdigit((unsigned char)*p))
				break;
		}
		if (colon == evr || p != colon || strchr(colon + 1, ':') != NULL)
			return pkguard_fail(ctx, -EINVAL, "cannot hold '%s': bad epoch in '%s'",
					    name, evr);
	}
	p = strrchr(evr, '-');
	if (p == NULL || p[1] == '\0' || p == (colon != NULL ? colon + 1 : evr))
		return pkguard_fail(ctx, -EINVAL,
				    "cannot hold '%s': '%s' is not [EPOCH:]VERSION-RELEASE", name,
				    evr);
	return 0;
}

/*
 * Lift the hold just placed in dnf's list, after zypper failed: the list
 * was replaced, so read it again. Keeps zypper's failure as the detail.
 */
static void undo_dnf(struct pkguard_ctx *ctx, const char *name)
{
	char *detail = strdup(pkguard_ctx_errmsg(ctx));
	struct rootfile again;
	bool ignored;

	if (dnf_open(ctx, &again, &ignored) == 0)
		(void)dnf_lift(ctx, &again, name);
	rootfile_release(&again);
	if (detail != NULL)
		pkguard_fail(ctx, 0, "%s", detail);
	free(detail);
}

int pkguard_rpm_hold(struct pkguard_ctx *ctx, const char *name, const char *evr, bool on)
{
	struct rootfile dnf = {.dirfd = -1}, zypp = {.dirfd = -1};
	bool dnf_on = true, zypp_on = true, have_dnf, have_zypp, placed_dnf = false;
	int rc, rc_dnf = 1, rc_zypp = 1;

	rc = check_word(ctx, "package name", name);
	if (rc == 0 && on)
		rc = check_evr(ctx, name, evr);
	if (rc < 0)
		return rc;

	rc = dnf_open(ctx, &dnf, &dnf_on);
	if (rc < 0)
		goto out;
	have_dnf = rc == 0 && (dnf_on || !on);
	rc = zypp_open(ctx, &zypp, &zypp_on);
	if (rc < 0)
		goto out;
	have_zypp = rc == 0 && (zypp_on || !on);
	if (!have_dnf && !have_zypp) {
		rc = pkguard_fail(ctx, -ENOTSUP,
				  "cannot %s '%s' in '%s': no dnf versionlock plugin and no zypper "
				  "(enabled) there",
				  on ? "hold" : "lift the hold of", name, pkguard_ctx_root(ctx));
		goto out;
	}

	if (have_dnf) {
		rc_dnf = on ? dnf_place(ctx, &dnf, name, evr) : dnf_lift(ctx, &dnf, name);
		if (rc_dnf < 0) {
			rc = rc_dnf;
			goto out;
		}
		placed_dnf = on && rc_dnf == 0;
	}
	if (have_zypp) {
		rc_zypp = on ? zypp_place(ctx, &zypp, name) : zypp_lift(ctx, &zypp, name);
		if (rc_zypp < 0) {
			rc = rc_zypp;
			/* All or nothing: the caller records no hold. The list was
			 * replaced; lift from what is there now. */
			if (placed_dnf)
				undo_dnf(ctx, name);
			goto out;
		}
	}
	rc = rc_dnf == 0 || rc_zypp == 0 ? 0 : 1;
out:
	rootfile_release(&dnf);
	rootfile_release(&zypp);
	return rc;
}
