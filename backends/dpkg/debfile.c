/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading a .deb's Package, Version and Architecture (see debfile.h).
 *
 * Why libarchive and not libdpkg: libdpkg has no "read this .deb" call. The
 * reading lives in dpkg-deb (src/deb/extract.c), which strings together
 * libdpkg's ar reader and decompress_filter(): the latter works from fd to
 * fd, so it needs a pipe and a child process, and both report every error
 * through ohshit(), which longjmp()s or exits. libdpkg's API is also
 * declared volatile (README.api). libarchive has a stable API, reads ar
 * and tar, decompresses gzip, xz and zstd in memory, and returns errors.
 * It is what bsdtar and many package tools use on untrusted archives.
 *
 * The outer ar archive is read from the file; the control.tar member is fed
 * to a second libarchive reader straight from the first one's data blocks,
 * so nothing but the control file itself is buffered.
 *
 * libarchive is loaded for a read and unloaded after it, not linked into the
 * program: only `hook dpkg` reads .deb files, and Debian's libarchive brings
 * libxml2, ICU and libstdc++ along, about 2.5 MB of every other run's peak
 * memory (a scan of a busy host included). <archive.h> still gives the
 * types and the prototypes the function pointers are checked against.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debfile.h"
#include "pkguard/escape.h"

/* debian-binary is "2.0\n"; no more of it than this is read. */
#define DEBIAN_BINARY_MAX 64
/*
 * The uncompressed control.tar read at most: control, md5sums, scripts.
 * Real ones are kilobytes, the largest (the md5sums of packages with tens of
 * thousands of files) megabytes; this bounds the work of a decompression
 * bomb.
 */
#define CONTROL_TAR_MAX ((int64_t)256 << 20)
/* The control file itself. */
#define CONTROL_MAX ((int64_t)4 << 20)
/* libarchive's read size for the .deb. */
#define BLOCK_SIZE 65536

/* Every libarchive function used here, looked up at load time. */
#define LIBARCHIVE_FUNCTIONS(X)                                                                    \
	X(archive_entry_filetype)                                                                  \
	X(archive_entry_hardlink)                                                                  \
	X(archive_entry_pathname)                                                                  \
	X(archive_entry_size)                                                                      \
	X(archive_errno)                                                                           \
	X(archive_error_string)                                                                    \
	X(archive_filter_bytes)                                                                    \
	X(archive_read_data)                                                                       \
	X(archive_read_data_block)                                                                 \
	X(archive_read_free)                                                                       \
	X(archive_read_new)                                                                        \
	X(archive_read_next_header)                                                                \
	X(archive_read_open)                                                                       \
	X(archive_read_open_fd)                                                                    \
	X(archive_read_support_filter_gzip)                                                        \
	X(archive_read_support_filter_xz)                                                          \
	X(archive_read_support_filter_zstd)                                                        \
	X(archive_read_support_format_ar)                                                          \
	X(archive_read_support_format_tar)                                                         \
	X(archive_set_error)

struct libarchive {
	void *handle;
#define LIBARCHIVE_POINTER(name) __typeof__(&name) name;
	LIBARCHIVE_FUNCTIONS(LIBARCHIVE_POINTER)
#undef LIBARCHIVE_POINTER
};

struct deb_read {
	struct pkguard_ctx *ctx;
	struct libarchive *la;
	char *label; /* the path, escaped for messages */
	int fd;
	struct archive *ar;  /* the .deb */
	struct archive *tar; /* its control.tar member */
	char *control;	     /* the control file */
	size_t control_len;
};

/* Load libarchive (PKGUARD_LIBARCHIVE_SONAME, the one built against) into LA. */
static int libarchive_load(struct deb_read *d, struct libarchive *la)
{
	const char *missing = NULL;

	la->handle = dlopen(PKGUARD_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!la->handle)
		return pkguard_fail(d->ctx, -ENOENT, "cannot read '%s': cannot load %s: %s",
				    d->label, PKGUARD_LIBARCHIVE_SONAME, dlerror());
#define LIBARCHIVE_LOOKUP(name)                                                                    \
	la->name = (__typeof__(la->name))dlsym(la->handle, #name);                                 \
	if (!la->name && !missing)                                                                 \
		missing = #name;
	LIBARCHIVE_FUNCTIONS(LIBARCHIVE_LOOKUP)
#undef LIBARCHIVE_LOOKUP
	if (missing) {
		dlclose(la->handle);
		la->handle = NULL;
		return pkguard_fail(d->ctx, -ENOENT, "cannot read '%s': %s has no %s", d->label,
				    PKGUARD_LIBARCHIVE_SONAME, missing);
	}
	return 0;
}

/*
 * A libarchive failure: out of memory and I/O errors keep their errno;
 * anything else is the file's fault.
 */
static int archive_fail(struct deb_read *d, struct archive *a, const char *what)
{
	const char *msg =
		d->la->archive_error_string(a) ? d->la->archive_error_string(a) : "unknown error";
	int err = d->la->archive_errno(a);
	char *emsg = pkguard_escape(msg, strlen(msg));
	int rc;

	if (err == ENOMEM || err == EIO)
		rc = pkguard_fail(d->ctx, -err, "cannot read '%s': %s: %s", d->label, what,
				  emsg ? emsg : "?");
	else
		rc = pkguard_fail(d->ctx, -PKGUARD_EPARSE, "'%s' is not a valid .deb: %s: %s",
				  d->label, what, emsg ? emsg : "?");
	free(emsg);
	return rc;
}

static int malformed(struct deb_read *d, const char *what, const char *name)
{
	char *ename = name ? pkguard_escape(name, strlen(name)) : NULL;
	int rc;

	rc = pkguard_fail(d->ctx, -PKGUARD_EPARSE, "'%s' is not a valid .deb: %s%s%s%s", d->label,
			  what, ename ? " '" : "", ename ? ename : "", ename ? "'" : "");
	free(ename);
	return rc;
}

/*
 * Open PATH as dpkg will: following a symlink (apt's --recursive directory
 * is made of them). A stat first keeps a FIFO or a device from being opened
 * at all (opening some devices has effects); O_NONBLOCK covers the race
 * where it is swapped in after the stat, and the fstat must then find the
 * very file that was stat'ed, a regular one.
 */
static int open_deb(struct deb_read *d, int dirfd, const char *path)
{
	struct stat st, fst;
	int err;

	if (fstatat(dirfd, path, &st, 0) < 0)
		return pkguard_fail(d->ctx, -errno, "cannot read '%s'", d->label);
	if (!S_ISREG(st.st_mode))
		return pkguard_fail(d->ctx, -PKGUARD_EUNSAFE, "'%s' is not a regular file",
				    d->label);
	d->fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (d->fd < 0)
		return pkguard_fail(d->ctx, -errno, "cannot open '%s'", d->label);
	if (fstat(d->fd, &fst) < 0) {
		err = errno;
		return pkguard_fail(d->ctx, -err, "cannot read '%s'", d->label);
	}
	if (!S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
		return pkguard_fail(d->ctx, -PKGUARD_EUNSAFE,
				    "'%s' was replaced while it was being opened", d->label);
	return 0;
}

/* debian-binary: the format version, "2." and a minor, as dpkg-deb checks it. */
static int read_debian_binary(struct deb_read *d)
{
	struct archive_entry *e;
	char buf[DEBIAN_BINARY_MAX];
	la_ssize_t n;
	int r;

	r = d->la->archive_read_next_header(d->ar, &e);
	if (r == ARCHIVE_EOF)
		return malformed(d, "empty archive", NULL);
	if (r < ARCHIVE_WARN)
		return archive_fail(d, d->ar, "reading the ar archive");
	if (strcmp(d->la->archive_entry_pathname(e), "debian-binary") != 0)
		return malformed(d, "its first member is not debian-binary but",
				 d->la->archive_entry_pathname(e));
	n = d->la->archive_read_data(d->ar, buf, sizeof(buf) - 1);
	if (n < 0)
		return archive_fail(d, d->ar, "reading debian-binary");
	buf[n] = '\0';
	if (n < 3 || strncmp(buf, "2.", 2) != 0 || !memchr(buf, '\n', (size_t)n))
		return malformed(d, "unsupported format version in debian-binary", NULL);
	return 0;
}

/* The control.tar member is read through the outer archive's data blocks. */
static la_ssize_t member_read(struct archive *a, void *userdata, const void **buf)
{
	struct deb_read *d = userdata;
	size_t size;
	la_int64_t offset;
	int r;

	r = d->la->archive_read_data_block(d->ar, buf, &size, &offset);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r < ARCHIVE_WARN) {
		d->la->archive_set_error(a, d->la->archive_errno(d->ar), "%s",
					 d->la->archive_error_string(d->ar)
						 ? d->la->archive_error_string(d->ar)
						 : "read error");
		return -1;
	}
	return (la_ssize_t)size;
}

/*
 * The decompressor for EXT, as dpkg-deb allows for control.tar: none, gzip,
 * xz or zstd. ARCHIVE_WARN from a support call means libarchive would run
 * an external program (gzip, xz, zstd) instead of its built-in code: that
 * is refused, pkguard executes nothing on behalf of a file.
 */
static int support_filter(struct deb_read *d, const char *ext)
{
	int r;

	if (strcmp(ext, "") == 0)
		return 0;
	if (strcmp(ext, ".gz") == 0)
		r = d->la->archive_read_support_filter_gzip(d->tar);
	else if (strcmp(ext, ".xz") == 0)
		r = d->la->archive_read_support_filter_xz(d->tar);
	else if (strcmp(ext, ".zst") == 0)
		r = d->la->archive_read_support_filter_zstd(d->tar);
	else
		return malformed(d, "unknown compression for member", ext);
	if (r != ARCHIVE_OK)
		return pkguard_fail(
			d->ctx, -ENOTSUP,
			"cannot read '%s': libarchive has no built-in '%s' decompressor", d->label,
			ext);
	return 0;
}

/* Read the current tar entry, the control file, into d->control. */
static int read_control(struct deb_read *d, struct archive_entry *e)
{
	la_int64_t size = d->la->archive_entry_size(e);
	char *buf;
	size_t len = 0;
	la_ssize_t n;

	if (d->la->archive_entry_filetype(e) != AE_IFREG || d->la->archive_entry_hardlink(e))
		return malformed(d, "its control file is not a regular file", NULL);
	if (size < 0 || size > CONTROL_MAX)
		return malformed(d, "its control file is too large", NULL);
	buf = malloc((size_t)size + 1);
	if (!buf)
		return pkguard_fail(d->ctx, -ENOMEM, "cannot read '%s'", d->label);
	while ((n = d->la->archive_read_data(d->tar, buf + len, (size_t)size - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		free(buf);
		return archive_fail(d, d->tar, "reading the control file");
	}
	buf[len] = '\0';
	/* dpkg extracts the whole control.tar: a later "control" replaces an earlier one. */
	free(d->control);
	d->control = buf;
	d->control_len = len;
	return 0;
}

/* Skip the data of the current tar entry, within the control.tar budget. */
static int skip_entry(struct deb_read *d)
{
	const void *buf;
	size_t size;
	la_int64_t offset;
	int r;

	while ((r = d->la->archive_read_data_block(d->tar, &buf, &size, &offset)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		if (d->la->archive_filter_bytes(d->tar, 0) > CONTROL_TAR_MAX)
			return malformed(d, "its control.tar is too large", NULL);
	}
	if (r != ARCHIVE_EOF)
		return archive_fail(d, d->tar, "reading control.tar");
	return 0;
}

/* "./control", "control" and ".//./control" are all the control file. */
static bool is_control(const char *name)
{
	while (name[0] == '.' && name[1] == '/') {
		name += 2;
		while (*name == '/')
			name++;
	}
	return strcmp(name, "control") == 0;
}

static int read_control_tar(struct deb_read *d, const char *ext)
{
	struct archive_entry *e;
	int r, rc;

	d->tar = d->la->archive_read_new();
	if (!d->tar)
		return pkguard_fail(d->ctx, -ENOMEM, "cannot read '%s'", d->label);
	rc = support_filter(d, ext);
	if (rc < 0)
		return rc;
	if (d->la->archive_read_support_format_tar(d->tar) != ARCHIVE_OK)
		return archive_fail(d, d->tar, "setting up the tar reader");
	if (d->la->archive_read_open(d->tar, d, NULL, member_read, NULL) != ARCHIVE_OK)
		return archive_fail(d, d->tar, "reading control.tar");
	while ((r = d->la->archive_read_next_header(d->tar, &e)) == ARCHIVE_OK ||
	       r == ARCHIVE_WARN) {
		const char *name = d->la->archive_entry_pathname(e);

		if (name && is_control(name))
			rc = read_control(d, e);
		else
			rc = skip_entry(d);
		if (rc < 0)
			return rc;
		if (d->la->archive_filter_bytes(d->tar, 0) > CONTROL_TAR_MAX)
			return malformed(d, "its control.tar is too large", NULL);
	}
	if (r != ARCHIVE_EOF)
		return archive_fail(d, d->tar, "reading control.tar");
	if (!d->control)
		return malformed(d, "its control.tar holds no control file", NULL);
	return 0;
}

/*
 * After debian-binary: members named "_..." are skipped, as dpkg-deb skips
 * them; the next must be control.tar[.EXT].
 */
static int find_control_tar(struct deb_read *d)
{
	struct archive_entry *e;
	const char *name;
	int r;

	for (;;) {
		r = d->la->archive_read_next_header(d->ar, &e);
		if (r == ARCHIVE_EOF)
			return malformed(d, "it has no control.tar member", NULL);
		if (r < ARCHIVE_WARN)
			return archive_fail(d, d->ar, "reading the ar archive");
		name = d->la->archive_entry_pathname(e);
		if (name && name[0] == '_')
			continue;
		if (name && strncmp(name, "control.tar", 11) == 0)
			return read_control_tar(d, name + 11);
		return malformed(d, "unexpected member", name ? name : "");
	}
}

int pkguard_debfile_read(struct pkguard_ctx *ctx, int dirfd, const char *path,
			 struct pkguard_debinfo *out)
{
	struct libarchive la = {0};
	struct deb_read d = {.ctx = ctx, .la = &la, .fd = -1};
	int rc;

	memset(out, 0, sizeof(*out));
	d.label = pkguard_escape(path, strlen(path));
	if (!d.label)
		return pkguard_fail(ctx, -ENOMEM, "cannot read a .deb");
	rc = open_deb(&d, dirfd, path);
	if (rc == 0)
		rc = libarchive_load(&d, &la);
	if (rc < 0)
		goto out;
	d.ar = d.la->archive_read_new();
	if (!d.ar) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot read '%s'", d.label);
		goto out;
	}
	/* ar only, no filter: a .deb is never compressed as a whole. */
	if (d.la->archive_read_support_format_ar(d.ar) != ARCHIVE_OK ||
	    d.la->archive_read_open_fd(d.ar, d.fd, BLOCK_SIZE) != ARCHIVE_OK) {
		rc = archive_fail(&d, d.ar, "reading the ar archive");
		goto out;
	}
	rc = read_debian_binary(&d);
	if (rc == 0)
		rc = find_control_tar(&d);
	if (rc == 0)
		rc = pkguard_debfile_parse_control(ctx, d.label, d.control, d.control_len, out);
out:
	if (d.tar)
		d.la->archive_read_free(d.tar);
	if (d.ar)
		d.la->archive_read_free(d.ar);
	if (d.fd >= 0)
		close(d.fd);
	if (la.handle)
		dlclose(la.handle);
	free(d.control);
	free(d.label);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* --- The control stanza --- */

enum { F_PACKAGE, F_VERSION, F_ARCH, F_COUNT };

static const char *const field_names[F_COUNT] = {"Package", "Version", "Architecture"};

/* dpkg's pkg_name_is_illegal(), lowercase only as dpkg-deb --build demands. */
static bool valid_package(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 1; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      strchr("+-.", s[i])))
			return false;
	}
	return true;
}

/* [epoch:]upstream[-revision]: the characters dpkg accepts, and a numeric epoch. */
static bool valid_version(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(".+~:-", c)))
			return false;
	}
	if (colon) {
		if (colon == s || (size_t)(colon - s) + 1 == n)
			return false;
		for (i = 0; s + i < colon; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
		}
	}
	return true;
}

static bool valid_arch(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	}
	return true;
}

static bool is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	}
	return true;
}

static int field_index(const char *name, size_t n)
{
	int i;

	for (i = 0; i < F_COUNT; i++) {
		if (strlen(field_names[i]) == n && strncasecmp(name, field_names[i], n) == 0)
			return i;
	}
	return -1;
}

static int set_field(struct pkguard_ctx *ctx, const char *what, unsigned lno, int f, const char *v,
		     size_t n, struct pkguard_debinfo *out)
{
	static const size_t size[F_COUNT] = {PKGUARD_DEB_NAME_MAX, PKGUARD_DEB_VERSION_MAX,
					     PKGUARD_DEB_ARCH_MAX};
	char *dst[F_COUNT] = {out->package, out->version, out->architecture};
	bool ok;

	if (n >= size[f])
		return pkguard_fail(ctx, -PKGUARD_EPARSE, "%s: control line %u: %s is too long",
				    what, lno, field_names[f]);
	ok = f == F_PACKAGE   ? valid_package(v, n)
	     : f == F_VERSION ? valid_version(v, n)
			      : valid_arch(v, n);
	if (!ok)
		return pkguard_fail(ctx, -PKGUARD_EPARSE, "%s: control line %u: invalid %s", what,
				    lno, field_names[f]);
	memcpy(dst[f], v, n);
	dst[f][n] = '\0';
	return 0;
}

static int parse_stanza(struct pkguard_ctx *ctx, const char *what, const char *text, size_t len,
			struct pkguard_debinfo *out)
{
	const char *p = text, *end = text + len;
	bool have[F_COUNT] = {false};
	bool started = false;
	int cur = -1, f, rc;
	unsigned lno = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len))
		return pkguard_fail(ctx, -PKGUARD_EPARSE, "%s: the control file holds a NUL byte",
				    what);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end, *colon, *v, *ve;
		size_t n = (size_t)(eol - p);

		lno++;
		if (is_blank(p, n)) {
			/* A blank line ends the first stanza; dpkg-deb allows only one. */
			if (started)
				break;
			p = nl ? nl + 1 : end;
			continue;
		}
		if (p[0] == '#') {
			p = nl ? nl + 1 : end;
			continue;
		}
		if (p[0] == ' ' || p[0] == '\t') {
			/* A continuation line: fine for Description, not for ours. */
			if (!started)
				return pkguard_fail(ctx, -PKGUARD_EPARSE,
						    "%s: control line %u: continuation line "
						    "before any field",
						    what, lno);
			if (cur >= 0)
				return pkguard_fail(ctx, -PKGUARD_EPARSE,
						    "%s: control line %u: %s spans several lines",
						    what, lno, field_names[cur]);
			p = nl ? nl + 1 : end;
			continue;
		}
		colon = memchr(p, ':', n);
		if (!colon)
			return pkguard_fail(ctx, -PKGUARD_EPARSE,
					    "%s: control line %u: not a \"Field: value\" line",
					    what, lno);
		for (v = p; v<colon && * v> ' ' && *v <= '~'; v++)
			;
		if (colon == p || v < colon)
			return pkguard_fail(ctx, -PKGUARD_EPARSE,
					    "%s: control line %u: invalid field name", what, lno);
		started = true;
		cur = f = field_index(p, (size_t)(colon - p));
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		if (f >= 0) {
			if (have[f])
				return pkguard_fail(ctx, -PKGUARD_EPARSE,
						    "%s: control line %u: a second %s field", what,
						    lno, field_names[f]);
			rc = set_field(ctx, what, lno, f, v, (size_t)(ve - v), out);
			if (rc < 0)
				return rc;
			have[f] = true;
		}
		p = nl ? nl + 1 : end;
	}
	for (f = 0; f < F_COUNT; f++) {
		if (!have[f])
			return pkguard_fail(ctx, -PKGUARD_EPARSE, "%s: the control file has no %s",
					    what, field_names[f]);
	}
	return 0;
}

int pkguard_debfile_parse_control(struct pkguard_ctx *ctx, const char *what, const char *text,
				  size_t len, struct pkguard_debinfo *out)
{
	int rc = parse_stanza(ctx, what, text, len, out);

	/* All three fields or none: a caller never sees half a package. */
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
