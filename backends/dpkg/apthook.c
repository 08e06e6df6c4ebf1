/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The apt hook stream parser (see apthook.h). Strict on framing: every
 * error here makes the hook fail open loudly rather than check a guessed
 * set of packages, so a stream that is not what apt writes is refused with
 * the line and the reason instead of being read around.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apthook.h"
#include "pkguard/error.h"
#include "pkguard/escape.h"

#define V3_FIELDS "NAME OLDVER OLDARCH OLDMA OP NEWVER NEWARCH NEWMA ACTION"
#define V2_FIELDS "NAME OLDVER OP NEWVER ACTION"

enum section {
	SECTION_VERSION,  /* the first line */
	SECTION_CONFIG,	  /* key=value until the blank line */
	SECTION_PACKAGES, /* one line per action */
};

struct parser {
	struct pkguard_apt_hook *out;
	unsigned line;	  /* the current line, from 1; 0 before the first */
	size_t cap;	  /* targets allocated */
	char *scratch;	  /* percent-decoding: PKGUARD_APT_HOOK_MAX_LINE + 1 bytes */
	char quoted[128]; /* quote()'s result */
};

struct field {
	const char *s;
	size_t len;
};

static int fail(struct parser *ps, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, int code, const char *fmt, ...)
{
	char *buf = ps->out->error;
	size_t size = sizeof(ps->out->error);
	va_list ap;
	int n = 0;

	if (ps->line)
		n = snprintf(buf, size, "line %u: ", ps->line);
	va_start(ap, fmt);
	vsnprintf(buf + n, size - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

/* Input shown in a message: escaped (it can hold anything) and cut short. */
static const char *quote(struct parser *ps, const char *s, size_t len)
{
	size_t max = 40;
	char *esc = pkguard_escape(s, len < max ? len : max);

	snprintf(ps->quoted, sizeof(ps->quoted), "'%s%s'", esc ? esc : "?", len > max ? "..." : "");
	free(esc);
	return ps->quoted;
}

static bool field_is(struct field f, const char *word)
{
	return f.len == strlen(word) && memcmp(f.s, word, f.len) == 0;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* dpkg's package names: an alphanumeric first, then alphanumerics and "+-._". */
static bool is_name(struct field f)
{
	size_t i;

	if (f.len == 0 || !is_alnum(f.s[0]))
		return false;
	for (i = 1; i < f.len; i++) {
		if (!is_alnum(f.s[i]) && !strchr("+-._", f.s[i]))
			return false;
	}
	return true;
}

/* A Debian version ([epoch:]upstream[-revision]), or "-" for none. */
static bool is_version(struct field f)
{
	size_t i;

	if (f.len == 0)
		return false;
	for (i = 0; i < f.len; i++) {
		if (!is_alnum(f.s[i]) && !strchr(".+~:_-", f.s[i]))
			return false;
	}
	return true;
}

/* An architecture or a Multi-Arch type ("amd64", "all", "same", "none"), or "-". */
static bool is_word(struct field f)
{
	size_t i;

	if (f.len == 0)
		return false;
	for (i = 0; i < f.len; i++) {
		if (!is_alnum(f.s[i]) && f.s[i] != '-' && f.s[i] != '_')
			return false;
	}
	return true;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * apt's QuoteString() writes "%%%02hhx": lowercase, but either case decodes.
 * The result goes to ps->scratch, NUL-terminated; WHAT names the part.
 */
static int percent_decode(struct parser *ps, const char *s, size_t len, const char *what)
{
	size_t i, n = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			ps->scratch[n++] = s[i];
			continue;
		}
		hi = i + 1 < len ? hex_value(s[i + 1]) : -1;
		lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			return fail(ps, -PKGUARD_EPARSE,
				    "malformed percent escape %s in a config %s",
				    quote(ps, s + i, len - i < 3 ? len - i : 3), what);
		/* apt's configuration holds C strings: a NUL cannot be in it. */
		if (hi == 0 && lo == 0)
			return fail(ps, -PKGUARD_EPARSE, "%%00 (a NUL byte) in a config %s", what);
		ps->scratch[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	ps->scratch[n] = '\0';
	return 0;
}

static int parse_version(struct parser *ps, const char *s, size_t len)
{
	if (len == 9 && memcmp(s, "VERSION ", 8) == 0 && (s[8] == '2' || s[8] == '3')) {
		ps->out->version = (unsigned)(s[8] - '0');
		return 0;
	}
	if (len > 8 && memcmp(s, "VERSION ", 8) == 0)
		return fail(ps, -PKGUARD_EPARSE,
			    "protocol version %s is not supported: pkguard reads versions 2 and 3",
			    quote(ps, s + 8, len - 8));
	/* Version 1, apt's default, is a bare list of the .deb files to unpack. */
	if (len > 0 && s[0] == '/')
		return fail(ps, -PKGUARD_EPARSE,
			    "a .deb path instead of 'VERSION 3': apt speaks protocol version 1 "
			    "to this hook; its DPkg::Tools::Options::...::Version must be 3");
	return fail(ps, -PKGUARD_EPARSE, "expected 'VERSION 2' or 'VERSION 3', found %s",
		    len ? quote(ps, s, len) : "an empty line");
}

/* "key=value", both percent-encoded; only APT::Architecture is kept. */
static int parse_config(struct parser *ps, const char *s, size_t len)
{
	const char *eq;
	size_t i;
	int rc;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ')
			return fail(ps, -PKGUARD_EPARSE,
				    "a line with spaces among apt's config items (key=value): "
				    "is the blank line after them missing?");
		if (c >= 0x7f)
			return fail(ps, -PKGUARD_EPARSE,
				    "byte 0x%02x at column %zu is not percent-encoded", c, i + 1);
	}
	eq = memchr(s, '=', len);
	if (!eq)
		return fail(ps, -PKGUARD_EPARSE, "expected a config item key=value, found %s",
			    quote(ps, s, len));
	if (eq == s)
		return fail(ps, -PKGUARD_EPARSE, "a config item with an empty key");
	rc = percent_decode(ps, s, (size_t)(eq - s), "key");
	if (rc < 0)
		return rc;
	/* apt's configuration keys are case-insensitive. */
	if (strcasecmp(ps->scratch, "APT::Architecture") != 0)
		return percent_decode(ps, eq + 1, len - (size_t)(eq - s) - 1, "value");
	rc = percent_decode(ps, eq + 1, len - (size_t)(eq - s) - 1, "value");
	if (rc < 0)
		return rc;
	free(ps->out->native_arch);
	ps->out->native_arch = strdup(ps->scratch);
	if (!ps->out->native_arch)
		return fail(ps, -ENOMEM, "out of memory");
	return 0;
}

/*
 * Split a package line into N fields at single spaces. The last, the
 * action, is the rest of the line: a .deb path may hold spaces.
 */
static int split(struct parser *ps, const char *s, size_t len, struct field *f, size_t n)
{
	const char *p = s, *end = s + len, *sp;
	size_t i;

	for (i = 0; i < n; i++) {
		sp = i + 1 < n ? memchr(p, ' ', (size_t)(end - p)) : end;
		if (!sp)
			return fail(ps, -PKGUARD_EPARSE,
				    "%zu field%s where protocol %u has %zu (%s)", i + 1,
				    i ? "s" : "", ps->out->version, n,
				    n == 9 ? V3_FIELDS : V2_FIELDS);
		f[i] = (struct field){p, (size_t)(sp - p)};
		if (f[i].len == 0)
			return fail(ps, -PKGUARD_EPARSE, "field %zu is empty", i + 1);
		p = sp < end ? sp + 1 : end;
	}
	return 0;
}

static char *dup_field(struct field f)
{
	return strndup(f.s, f.len);
}

static void target_release(struct pkguard_apt_target *t)
{
	free(t->name);
	free(t->old_version);
	free(t->old_arch);
	free(t->new_version);
	free(t->new_arch);
	memset(t, 0, sizeof(*t));
}

/*
 * dpkg can have one instance of a package installed, or, for Multi-Arch:
 * same, one per architecture side by side ("libc6:amd64", "libc6:i386"),
 * upgraded or removed one at a time. Only such an instance needs its arch
 * in the name, so that the check covers it and not its siblings; any
 * other package's single instance is found by its plain name, whatever
 * its arch is (all, native, foreign, or the empty arch of a package older
 * than dpkg 1.16). Arch: all cannot be Multi-Arch: same.
 */
static int add_target(struct parser *ps, struct field name, struct field old, struct field old_arch,
		      struct field old_ma, struct field new, struct field new_arch, bool remove)
{
	struct pkguard_apt_hook *h = ps->out;
	struct pkguard_apt_target t = {.remove = remove, .line = ps->line};
	bool qualify = old_arch.s && field_is(old_ma, "same") && !field_is(old_arch, "-") &&
		       !field_is(old_arch, "all");
	bool installs = !remove && !field_is(new, "-");
	size_t size = name.len + (qualify ? 1 + old_arch.len : 0) + 1;
	bool ok;

	if (h->n_targets == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 64;
		struct pkguard_apt_target *targets = realloc(h->targets, cap * sizeof(*targets));

		if (!targets)
			return fail(ps, -ENOMEM, "out of memory");
		h->targets = targets;
		ps->cap = cap;
	}
	t.name = malloc(size);
	if (t.name)
		snprintf(t.name, size, "%.*s%s%.*s", (int)name.len, name.s, qualify ? ":" : "",
			 qualify ? (int)old_arch.len : 0, old_arch.s ? old_arch.s : "");
	t.old_version = dup_field(old);
	ok = t.name && t.old_version;
	if (old_arch.s) {
		t.old_arch = dup_field(old_arch);
		ok = ok && t.old_arch;
	}
	if (installs) {
		t.new_version = dup_field(new);
		ok = ok && t.new_version;
	}
	if (installs && new_arch.s) {
		t.new_arch = dup_field(new_arch);
		ok = ok && t.new_arch;
	}
	if (!ok) {
		target_release(&t);
		return fail(ps, -ENOMEM, "out of memory");
	}
	h->targets[h->n_targets++] = t;
	return 0;
}

static int parse_package(struct parser *ps, const char *s, size_t len)
{
	bool v3 = ps->out->version == 3;
	struct field f[9], none = {NULL, 0};
	struct field name, old, old_arch, old_ma, op, new, new_arch, action;
	bool remove;
	size_t i;
	int rc;

	if (len == 0)
		return fail(ps, -PKGUARD_EPARSE, "an empty line among the package lines");
	rc = split(ps, s, len, f, v3 ? 9 : 5);
	if (rc < 0)
		return rc;
	i = 0;
	name = f[i++];
	old = f[i++];
	old_arch = v3 ? f[i++] : none;
	old_ma = v3 ? f[i++] : none;
	op = f[i++];
	new = f[i++];
	new_arch = v3 ? f[i++] : none;
	if (v3)
		i++; /* NEWMA: nothing depends on it */
	action = f[i];

	if (!is_name(name))
		return fail(ps, -PKGUARD_EPARSE, "invalid package name %s",
			    quote(ps, name.s, name.len));
	if (!is_version(old) || !is_version(new))
		return fail(ps, -PKGUARD_EPARSE, "invalid version %s",
			    is_version(old) ? quote(ps, new.s, new.len)
					    : quote(ps, old.s, old.len));
	for (i = 2; v3 && i < 8; i++) {
		if (i != 4 && i != 5 && !is_word(f[i]))
			return fail(ps, -PKGUARD_EPARSE,
				    "invalid architecture or Multi-Arch type %s in field %zu",
				    quote(ps, f[i].s, f[i].len), i + 1);
	}
	if (op.len != 1 || !strchr("<>=", op.s[0]))
		return fail(ps, -PKGUARD_EPARSE,
			    "the operator %s is none of <, > and =", quote(ps, op.s, op.len));
	if (!field_is(action, "**CONFIGURE**") && !field_is(action, "**REMOVE**") &&
	    !field_is(action, "**ERROR**") && action.s[0] != '/')
		return fail(ps, -PKGUARD_EPARSE,
			    "unknown action %s: expected a .deb path, **CONFIGURE** or **REMOVE**",
			    quote(ps, action.s, action.len));

	ps->out->n_lines++;
	/* Configuring runs maintainer scripts; the files were unpacked before. */
	if (field_is(action, "**CONFIGURE**")) {
		ps->out->n_configure++;
		return 0;
	}
	/* Nothing installed: a fresh install replaces nothing that could be running. */
	remove = field_is(action, "**REMOVE**");
	if (field_is(old, "-")) {
		if (!remove)
			ps->out->n_fresh++;
		return 0;
	}
	return add_target(ps, name, old, old_arch, old_ma, new, new_arch, remove);
}

static int by_name_then_line(const void *a, const void *b)
{
	const struct pkguard_apt_target *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int by_line(const void *a, const void *b)
{
	const struct pkguard_apt_target *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

/*
 * One target per name. A package can also be removed and unpacked again in
 * one run (apt breaks a dependency loop that way): it is then replaced by
 * the version unpacked. Sorting keeps this O(n log n) for a huge stream.
 */
static void merge_targets(struct pkguard_apt_hook *h)
{
	struct pkguard_apt_target *t = h->targets;
	size_t i, j, n = 0;

	if (h->n_targets < 2)
		return;
	qsort(t, h->n_targets, sizeof(*t), by_name_then_line);
	for (i = 0; i < h->n_targets; i = j) {
		for (j = i + 1; j < h->n_targets && strcmp(t[j].name, t[i].name) == 0; j++) {
			if (t[i].remove && !t[j].remove) {
				t[i].remove = false;
				t[i].new_version = t[j].new_version;
				t[i].new_arch = t[j].new_arch;
				t[j].new_version = NULL;
				t[j].new_arch = NULL;
			}
			target_release(&t[j]);
		}
		t[n++] = t[i];
	}
	h->n_targets = n;
	qsort(t, n, sizeof(*t), by_line);
}

int pkguard_apt_hook_parse(const char *buf, size_t len, struct pkguard_apt_hook *out)
{
	struct parser ps = {.out = out};
	enum section section = SECTION_VERSION;
	const char *p = buf, *end = buf + len, *nl;
	size_t llen, i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return fail(&ps, -PKGUARD_EPARSE, "the stream is empty: apt sent nothing");
	ps.scratch = malloc(PKGUARD_APT_HOOK_MAX_LINE + 1);
	if (!ps.scratch)
		return fail(&ps, -ENOMEM, "out of memory");
	while (rc == 0 && p < end) {
		ps.line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		llen = (size_t)((nl ? nl : end) - p);
		if (llen > PKGUARD_APT_HOOK_MAX_LINE) {
			rc = fail(&ps, -PKGUARD_EPARSE, "longer than %d bytes",
				  PKGUARD_APT_HOOK_MAX_LINE);
			break;
		}
		/* apt ends every line, the last one too: anything else was cut short. */
		if (!nl) {
			rc = fail(&ps, -PKGUARD_EPARSE, "cut short: no newline at the end");
			break;
		}
		for (i = 0; i < llen; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c == '\0')
				rc = fail(&ps, -PKGUARD_EPARSE, "a NUL byte at column %zu", i + 1);
			else if (c == '\r')
				rc = fail(&ps, -PKGUARD_EPARSE,
					  "a carriage return at column %zu (apt ends lines with "
					  "a bare newline)",
					  i + 1);
			else if (c < 0x20 || c == 0x7f)
				rc = fail(&ps, -PKGUARD_EPARSE, "control byte 0x%02x at column %zu",
					  c, i + 1);
			if (rc < 0)
				break;
		}
		if (rc < 0)
			break;
		switch (section) {
		case SECTION_VERSION:
			rc = parse_version(&ps, p, llen);
			section = SECTION_CONFIG;
			break;
		case SECTION_CONFIG:
			if (llen == 0)
				section = SECTION_PACKAGES;
			else
				rc = parse_config(&ps, p, llen);
			break;
		case SECTION_PACKAGES:
			rc = parse_package(&ps, p, llen);
			break;
		}
		p = nl + 1;
	}
	if (rc == 0 && section != SECTION_PACKAGES) {
		unsigned last = ps.line;

		ps.line = 0;
		rc = fail(&ps, -PKGUARD_EPARSE,
			  "the stream ends after line %u, before the blank line that ends apt's "
			  "config items",
			  last);
	}
	free(ps.scratch);
	/* Half a transaction must not pass for a whole one: nothing but the error. */
	if (rc < 0) {
		char error[sizeof(out->error)];

		memcpy(error, out->error, sizeof(error));
		pkguard_apt_hook_release(out);
		memcpy(out->error, error, sizeof(error));
		return rc;
	}
	merge_targets(out);
	out->error[0] = '\0';
	return 0;
}

void pkguard_apt_hook_release(struct pkguard_apt_hook *hook)
{
	size_t i;

	for (i = 0; i < hook->n_targets; i++)
		target_release(&hook->targets[i]);
	free(hook->targets);
	free(hook->native_arch);
	memset(hook, 0, sizeof(*hook));
}
