/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The configuration files.
 *
 * inih splits "key = value" lines; everything that needs the raw line or its
 * number happens in our reader (read_line), because Debian's inih is built
 * without INI_HANDLER_LINENO and truncates section names at 50 bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "pkguard/policy.h"
#include "util/internal.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#define MS_PER_DAY	(24ull * 3600 * 1000)
#define MAX_DURATION_MS (3650 * MS_PER_DAY) /* ten years */
#define MAX_UID		((uid_t)-2)	    /* (uid_t)-1 means "no uid" to chown() */
#define BOM		"\xef\xbb\xbf"

const struct pkguard_config_paths pkguard_config_default_paths = {
	.main = "/etc/pkguard/pkguard.conf",
	.vendor_dir = "/usr/share/pkguard/policy.d",
	.admin_dir = "/etc/pkguard/policy.d",
};

static const char *const action_names[] = {
	[PKGUARD_ACTION_ALLOW] = "allow", [PKGUARD_ACTION_WARN] = "warn",
	[PKGUARD_ACTION_WAIT] = "wait",	  [PKGUARD_ACTION_RESTART] = "restart",
	[PKGUARD_ACTION_DEFER] = "defer", [PKGUARD_ACTION_BLOCK] = "block",
};
static const char *const unprivileged_names[] = {
	[PKGUARD_UNPRIV_IGNORE] = "ignore",
	[PKGUARD_UNPRIV_WARN] = "warn",
};
/*
 * "bpf" is named but not accepted (see the mask where scan-mappings is
 * parsed): a scan never fails for want of the iterator; "query" keeps it out.
 */
static const char *const scan_mappings_names[] = {
	[PKGUARD_MAPS_AUTO] = "auto",
	[PKGUARD_MAPS_BPF] = "bpf",
	[PKGUARD_MAPS_QUERY] = "query",
	[PKGUARD_MAPS_TEXT] = "text",
};

static const char *const denied_names[] = {
	[PKGUARD_DENIED_IN_USE] = "in-use",
	[PKGUARD_DENIED_WARN] = "warn",
	[PKGUARD_DENIED_IGNORE] = "ignore",
};
static const char *const on_error_names[] = {
	[PKGUARD_ON_ERROR_ALLOW] = "allow",
	[PKGUARD_ON_ERROR_BLOCK] = "block",
};

/* Which names of a table a key accepts. */
#define BIT(i) (1u << (i))
#define ANY    (~0u)
/* "then" applies after a wait timed out or a restart found no unit: not to do either again. */
#define THEN_ACTIONS                                                                               \
	(BIT(PKGUARD_ACTION_ALLOW) | BIT(PKGUARD_ACTION_WARN) | BIT(PKGUARD_ACTION_DEFER) |        \
	 BIT(PKGUARD_ACTION_BLOCK))
/*
 * A daemon that execs helpers on demand does not exit on its own, so waiting
 * only runs out the timeout; and "allow" would hide the one risk that /proc
 * cannot show before the helper starts.
 */
#define HELPERS_ACTIONS                                                                            \
	(BIT(PKGUARD_ACTION_WARN) | BIT(PKGUARD_ACTION_RESTART) | BIT(PKGUARD_ACTION_DEFER) |      \
	 BIT(PKGUARD_ACTION_BLOCK))

enum key {
	KEY_ACTION,
	KEY_THEN,
	KEY_HELPERS,
	KEY_WAIT_TIMEOUT,
	KEY_MAX_DEFER,
	KEY_MESSAGE,
	KEY_LOCKFILE,
	KEY_UNPRIVILEGED,
	KEY_DENIED,
	KEY_ON_ERROR,
	KEY_DEADLINE,
	KEY_HOLD,
	KEY_SYSTEM_UID_MAX,
	KEY_SERVICE_MANAGER,
	KEY_HISTORY,
	KEY_SCAN_MAPPINGS,
};
#define N_KEYS (KEY_SCAN_MAPPINGS + 1)

enum where { WHERE_NONE, WHERE_GLOBAL, WHERE_PACKAGE, WHERE_BAD };
#define IN_GLOBAL  (1u << WHERE_GLOBAL)
#define IN_PACKAGE (1u << WHERE_PACKAGE)

static const struct {
	const char *name;
	unsigned in; /* IN_GLOBAL, IN_PACKAGE */
} keys[N_KEYS] = {
	[KEY_ACTION] = {"action", IN_GLOBAL | IN_PACKAGE},
	[KEY_THEN] = {"then", IN_GLOBAL | IN_PACKAGE},
	[KEY_HELPERS] = {"helpers", IN_GLOBAL | IN_PACKAGE},
	[KEY_WAIT_TIMEOUT] = {"wait-timeout", IN_GLOBAL | IN_PACKAGE},
	[KEY_MAX_DEFER] = {"max-defer", IN_GLOBAL | IN_PACKAGE},
	[KEY_MESSAGE] = {"message", IN_PACKAGE},
	[KEY_LOCKFILE] = {"lockfile", IN_PACKAGE},
	[KEY_UNPRIVILEGED] = {"unprivileged", IN_GLOBAL},
	[KEY_DENIED] = {"denied", IN_GLOBAL},
	[KEY_ON_ERROR] = {"on-error", IN_GLOBAL},
	[KEY_DEADLINE] = {"deadline", IN_GLOBAL},
	[KEY_HOLD] = {"hold", IN_GLOBAL},
	[KEY_SYSTEM_UID_MAX] = {"system-uid-max", IN_GLOBAL},
	[KEY_SERVICE_MANAGER] = {"service-manager", IN_GLOBAL},
	[KEY_HISTORY] = {"history", IN_GLOBAL},
	[KEY_SCAN_MAPPINGS] = {"scan-mappings", IN_GLOBAL},
};

struct pkguard_section {
	char *header; /* "package certbot python3-certbot": words joined by one space */
	char **globs;
	size_t n_globs;
	unsigned set; /* 1u << KEY_* for each key the section sets */
	/* action, then, helpers with their origins, wait_timeout_ms, max_defer_ms */
	struct pkguard_policy values;
	char *message;
	char **lockfiles;
	size_t n_lockfiles;
	size_t lockfiles_cap;
};

struct loader {
	struct pkguard_ctx *ctx;
	struct pkguard_config *cfg;
	size_t files_cap;
	size_t sections_cap;
	uid_t euid;
	/* The file being read. */
	const char *file;
	FILE *fp;
	unsigned lineno;
	enum where where;
	unsigned prev_key_line; /* the value an indented line would continue, 0 if none */
	unsigned seen[N_KEYS];	/* line of each key in the current section, 0 if unset */
	/* Every error is logged; the first one becomes the context's message. */
	unsigned n_errors;
	int first_code;
	char first[1024];
	bool stop; /* out of memory: read nothing more */
};

const char *pkguard_action_name(enum pkguard_action action)
{
	if ((size_t)action >= N_ELEMS(action_names))
		return "invalid";
	return action_names[action];
}

static int find_name(const char *name, const char *const *names, size_t n, unsigned mask)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((mask & BIT(i)) && strcmp(name, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

int pkguard_action_parse(const char *name, enum pkguard_action *out)
{
	int i = find_name(name, action_names, N_ELEMS(action_names), ANY);

	if (i < 0)
		return -PKGUARD_EPARSE;
	*out = (enum pkguard_action)i;
	return 0;
}

int pkguard_duration_parse(const char *text, uint64_t *ms)
{
	static const struct {
		const char *name;
		uint64_t ms;
	} units[] = {
		{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", MS_PER_DAY},
	};
	const char *p = text;
	uint64_t n = 0;
	size_t i;

	/* A bare number is ambiguous ("30": seconds? minutes?), except zero. */
	if (strcmp(text, "0") == 0) {
		*ms = 0;
		return 0;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		/* Stop long before n * 10 could wrap. */
		if (n > MAX_DURATION_MS)
			return -PKGUARD_EPARSE;
	}
	if (p == text)
		return -PKGUARD_EPARSE;
	for (i = 0; i < N_ELEMS(units); i++) {
		if (strcmp(p, units[i].name) != 0)
			continue;
		if (n > MAX_DURATION_MS / units[i].ms)
			return -PKGUARD_EPARSE;
		*ms = n * units[i].ms;
		return 0;
	}
	return -PKGUARD_EPARSE;
}

int pkguard_config_defaults(struct pkguard_ctx *ctx, struct pkguard_config **out)
{
	struct pkguard_config *cfg;

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return pkguard_fail(ctx, -ENOMEM, "cannot allocate the configuration");
	cfg->service_manager = strdup("auto");
	if (!cfg->service_manager) {
		free(cfg);
		return pkguard_fail(ctx, -ENOMEM, "cannot allocate the configuration");
	}
	cfg->defaults.action = PKGUARD_ACTION_WARN;
	cfg->defaults.helpers = PKGUARD_ACTION_WARN;
	cfg->defaults.then = PKGUARD_ACTION_BLOCK;
	cfg->defaults.wait_timeout_ms = 5 * 60 * 1000;
	cfg->defaults.max_defer_ms = 7 * MS_PER_DAY;
	cfg->unprivileged = PKGUARD_UNPRIV_IGNORE;
	cfg->denied = PKGUARD_DENIED_IN_USE;
	cfg->on_error = PKGUARD_ON_ERROR_ALLOW;
	cfg->deadline_ms = 10 * 1000;
	cfg->history_ms = 90 * MS_PER_DAY;
	cfg->hold = true;
	cfg->system_uid_max = 999;
	*out = cfg;
	return 0;
}

static void free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void pkguard_config_free(struct pkguard_config *cfg)
{
	struct pkguard_section *sec;
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_sections; i++) {
		sec = &cfg->sections[i];
		free(sec->header);
		free_strings(sec->globs, sec->n_globs);
		free(sec->message);
		free_strings(sec->lockfiles, sec->n_lockfiles);
	}
	free(cfg->sections);
	free_strings(cfg->files, cfg->n_files);
	free(cfg->service_manager);
	free(cfg);
}

/* Diagnostics */

static void vreport(struct loader *l, int code, const char *file, unsigned line, const char *fmt,
		    va_list ap) __attribute__((format(printf, 5, 0)));

static void vreport(struct loader *l, int code, const char *file, unsigned line, const char *fmt,
		    va_list ap)
{
	char what[768], msg[1024];

	vsnprintf(what, sizeof(what), fmt, ap);
	if (line)
		snprintf(msg, sizeof(msg), "%s:%u: %s", file, line, what);
	else
		snprintf(msg, sizeof(msg), "%s: %s", file, what);
	pkguard_log(l->ctx, PKGUARD_LOG_ERR, "%s", msg);
	if (l->n_errors++ == 0) {
		l->first_code = code;
		snprintf(l->first, sizeof(l->first), "%s", msg);
	}
}

/* An error about a whole file or directory: "FILE: ...". */
static void report(struct loader *l, int code, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report(struct loader *l, int code, const char *file, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(l, code, file, 0, fmt, ap);
	va_end(ap);
}

/* An error in the current line: "FILE:LINE: ...". */
static void parse_error(struct loader *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void parse_error(struct loader *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(l, -PKGUARD_EPARSE, l->file, l->lineno, fmt, ap);
	va_end(ap);
}

static bool out_of_memory(struct loader *l)
{
	report(l, -ENOMEM, l->file ? l->file : "configuration", "out of memory");
	l->stop = true;
	return false;
}

/* Levenshtein distance between the LA bytes of A and the string B (short). */
static unsigned distance(const char *a, size_t la, const char *b)
{
	unsigned row[32], diag, up, best;
	size_t lb = strlen(b), i, j;

	if (lb >= N_ELEMS(row))
		return UINT_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The key allowed IN a section that is at most two edits from NAME, or NULL. */
static const char *suggest_key(const char *name, unsigned in)
{
	const char *best = NULL;
	size_t len = strlen(name), i;
	unsigned d, best_d = 3;

	for (i = 0; i < N_KEYS; i++) {
		if (!(keys[i].in & in))
			continue;
		d = distance(name, len, keys[i].name);
		if (d < best_d) {
			best_d = d;
			best = keys[i].name;
		}
	}
	return best;
}

/* Values */

/* One of the NAMES that MASK allows, or an error that lists them. */
static bool pick(struct loader *l, const char *key, const char *value, const char *const *names,
		 size_t n, unsigned mask, int *out)
{
	char list[128];
	size_t i, len = 0;

	*out = find_name(value, names, n, mask);
	if (*out >= 0)
		return true;
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		if (mask & BIT(i))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						len ? "|" : "", names[i]);
	}
	parse_error(l, "invalid value '%s' for '%s' (%s)", value, key, list);
	return false;
}

static bool duration(struct loader *l, const char *key, const char *value, uint64_t *ms)
{
	if (pkguard_duration_parse(value, ms) == 0)
		return true;
	parse_error(l,
		    "invalid value '%s' for '%s' (0, or a number with a unit: ms, s, m, h or d, "
		    "at most 3650d)",
		    value, key);
	return false;
}

static bool boolean(struct loader *l, const char *key, const char *value, bool *out)
{
	/* Odd entries mean true. */
	static const char *const names[] = {"no", "yes", "false", "true", "off", "on", "0", "1"};
	int i = find_name(value, names, N_ELEMS(names), ANY);

	if (i < 0) {
		parse_error(l, "invalid value '%s' for '%s' (yes|no|true|false|on|off|1|0)", value,
			    key);
		return false;
	}
	*out = i % 2;
	return true;
}

static bool uid_value(struct loader *l, const char *key, const char *value, uid_t *out)
{
	const char *p;
	uint64_t n = 0;

	for (p = value; *p >= '0' && *p <= '9' && n <= MAX_UID; p++)
		n = n * 10 + (uint64_t)(*p - '0');
	if (p == value || *p || n > MAX_UID) {
		parse_error(l, "invalid value '%s' for '%s' (a uid from 0 to %u)", value, key,
			    (unsigned)MAX_UID);
		return false;
	}
	*out = (uid_t)n;
	return true;
}

/*
 * An absolute path without empty, "." or ".." components: the text is then
 * the one name of the file, so what the admin reads in a message is what
 * pkguard opened.
 */
static bool valid_path(const char *path)
{
	const char *c = path;
	size_t n;

	if (*c != '/')
		return false;
	for (;;) {
		c++;
		n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
		if (!*c)
			return true;
	}
}

static bool set_string(struct loader *l, char **slot, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return out_of_memory(l);
	free(*slot);
	*slot = copy;
	return true;
}

static bool add_lockfile(struct loader *l, struct pkguard_section *sec, const char *value)
{
	char *copy;

	if (!valid_path(value)) {
		parse_error(l,
			    "invalid value '%s' for 'lockfile' (an absolute path without empty, "
			    "'.' or '..' components)",
			    value);
		return false;
	}
	if (array_grow(&sec->lockfiles, &sec->lockfiles_cap, sec->n_lockfiles + 1,
		       sizeof(*sec->lockfiles)) < 0)
		return out_of_memory(l);
	copy = strdup(value);
	if (!copy)
		return out_of_memory(l);
	sec->lockfiles[sec->n_lockfiles++] = copy;
	return true;
}

static bool service_manager(struct loader *l, const char *value)
{
	if (strcmp(value, "auto") != 0 && strcmp(value, "systemd") != 0 &&
	    strcmp(value, "openrc") != 0 && !valid_path(value)) {
		parse_error(l,
			    "invalid value '%s' for 'service-manager' "
			    "(auto|systemd|openrc|an absolute path)",
			    value);
		return false;
	}
	return set_string(l, &l->cfg->service_manager, value);
}

static bool set_action(struct loader *l, enum key k, const char *value, unsigned mask,
		       enum pkguard_action *action, struct pkguard_origin *origin)
{
	int v;

	if (!pick(l, keys[k].name, value, action_names, N_ELEMS(action_names), mask, &v))
		return false;
	*action = (enum pkguard_action)v;
	origin->file = l->file;
	origin->line = l->lineno;
	return true;
}

/* Store VALUE for key K in the current section: [pkguard] or the last [package]. */
static void set_value(struct loader *l, enum key k, const char *value)
{
	struct pkguard_config *cfg = l->cfg;
	struct pkguard_section *sec = NULL;
	struct pkguard_policy *pol = &cfg->defaults;
	const char *key = keys[k].name;
	bool ok = false;
	int v;

	if (l->where == WHERE_PACKAGE) {
		sec = &cfg->sections[cfg->n_sections - 1];
		pol = &sec->values;
	}
	switch (k) {
	case KEY_ACTION:
		ok = set_action(l, k, value, ANY, &pol->action, &pol->action_origin);
		break;
	case KEY_THEN:
		ok = set_action(l, k, value, THEN_ACTIONS, &pol->then, &pol->then_origin);
		break;
	case KEY_HELPERS:
		ok = set_action(l, k, value, HELPERS_ACTIONS, &pol->helpers, &pol->helpers_origin);
		break;
	case KEY_WAIT_TIMEOUT:
		ok = duration(l, key, value, &pol->wait_timeout_ms);
		break;
	case KEY_MAX_DEFER:
		ok = duration(l, key, value, &pol->max_defer_ms);
		break;
	case KEY_MESSAGE:
		ok = set_string(l, &sec->message, value);
		break;
	case KEY_LOCKFILE:
		ok = add_lockfile(l, sec, value);
		break;
	case KEY_UNPRIVILEGED:
		ok = pick(l, key, value, unprivileged_names, N_ELEMS(unprivileged_names), ANY, &v);
		if (ok)
			cfg->unprivileged = (enum pkguard_unprivileged)v;
		break;
	case KEY_DENIED:
		ok = pick(l, key, value, denied_names, N_ELEMS(denied_names), ANY, &v);
		if (ok)
			cfg->denied = (enum pkguard_denied)v;
		break;
	case KEY_ON_ERROR:
		ok = pick(l, key, value, on_error_names, N_ELEMS(on_error_names), ANY, &v);
		if (ok)
			cfg->on_error = (enum pkguard_on_error)v;
		break;
	case KEY_DEADLINE:
		ok = duration(l, key, value, &cfg->deadline_ms);
		break;
	case KEY_HOLD:
		ok = boolean(l, key, value, &cfg->hold);
		break;
	case KEY_SYSTEM_UID_MAX:
		ok = uid_value(l, key, value, &cfg->system_uid_max);
		break;
	case KEY_SERVICE_MANAGER:
		ok = service_manager(l, value);
		break;
	case KEY_HISTORY:
		ok = duration(l, key, value, &cfg->history_ms);
		break;
	case KEY_SCAN_MAPPINGS:
		ok = pick(l, key, value, scan_mappings_names, N_ELEMS(scan_mappings_names),
			  BIT(PKGUARD_MAPS_AUTO) | BIT(PKGUARD_MAPS_QUERY) | BIT(PKGUARD_MAPS_TEXT),
			  &v);
		if (ok)
			cfg->scan_mappings = (enum pkguard_maps_source)v;
		break;
	}
	if (ok && sec)
		sec->set |= BIT(k);
}

static const char *section_name(const struct loader *l)
{
	if (l->where == WHERE_GLOBAL)
		return "pkguard";
	return l->cfg->sections[l->cfg->n_sections - 1].header;
}

/*
 * inih's handler, called for the "key = value" lines that read_line() passes
 * on. It always returns 1: inih would only remember the first failing line,
 * and count it among the lines it saw, which are not the file's.
 */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct loader *l = user;
	const char *hint;
	int k;

	/* SECTION is ignored: inih cuts it at 50 bytes, read_line() keeps the whole header. */
	if (l->where == WHERE_BAD || l->stop)
		return 1; /* the header was reported: its keys would only add noise */
	if (l->where == WHERE_NONE) {
		parse_error(l, "key '%s' outside of any section", name);
		return 1;
	}
	if (!*name) {
		parse_error(l, "missing key before '='");
		return 1;
	}
	for (k = 0; k < N_KEYS && strcmp(name, keys[k].name) != 0; k++)
		;
	if (k == N_KEYS) {
		hint = suggest_key(name, BIT(l->where));
		if (hint)
			parse_error(l, "unknown key '%s' in [%s]; did you mean '%s'?", name,
				    section_name(l), hint);
		else
			parse_error(l, "unknown key '%s' in [%s]", name, section_name(l));
		return 1;
	}
	if (!(keys[k].in & BIT(l->where))) {
		parse_error(l, "key '%s' is not allowed in [%s], only in %s", name, section_name(l),
			    l->where == WHERE_GLOBAL ? "[package ...] sections" : "[pkguard]");
		return 1;
	}
	/* lockfile is the one key that may repeat: the files accumulate. */
	if (k != KEY_LOCKFILE && l->seen[k]) {
		parse_error(l, "duplicate key '%s' in [%s] (already set on line %u)", name,
			    section_name(l), l->seen[k]);
		return 1;
	}
	l->seen[k] = l->lineno;
	if (!*value) {
		parse_error(l, "empty value for '%s'", name);
		return 1;
	}
	set_value(l, (enum key)k, value);
	return 1;
}

/* Lines */

/*
 * inih's find_chars_or_comment(): the first of CHARS, or a ';' after a blank
 * (an inline comment), or the end. The reader must split lines as inih does.
 */
static char *find_stop(char *s, const char *chars)
{
	bool blank = false;

	for (; *s; s++) {
		if ((chars && strchr(chars, *s)) || (blank && *s == ';'))
			break;
		blank = *s == ' ' || *s == '\t';
	}
	return s;
}

/* Package names of dpkg, rpm and pacman, and Portage's CATEGORY/PN. */
static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("+-._@~/", c));
}

/* A package name, or an fnmatch() glob over names: *, ? and [...] or [!...] of name characters. */
static bool valid_glob(const char *s, size_t len)
{
	size_t i, start;

	for (i = 0; i < len; i++) {
		if (s[i] == '*' || s[i] == '?' || name_char(s[i]))
			continue;
		if (s[i] != '[')
			return false;
		if (++i < len && s[i] == '!')
			i++;
		for (start = i; i < len && name_char(s[i]); i++)
			;
		if (i == len || s[i] != ']' || i == start)
			return false;
	}
	return len > 0;
}

static void unknown_section(struct loader *l, const char *inner, const char *word, size_t len)
{
	const char *hint = "";

	if (distance(word, len, "pkguard") <= 2)
		hint = "; did you mean '[pkguard]'?";
	else if (distance(word, len, "package") <= 2)
		hint = "; did you mean '[package NAME...]'?";
	parse_error(l, "unknown section '[%s]'%s", inner, hint);
}

/* A "[...]" line: S starts at the '['. */
static void parse_section(struct loader *l, char *s)
{
	struct pkguard_config *cfg = l->cfg;
	struct pkguard_section *sec;
	char *end, *inner, *names, *h, *p;
	size_t n, n_globs = 0;

	/* Keys after a bad header are not reported: the header is. */
	l->where = WHERE_BAD;
	/* As in inih, a section ends the value that an indented line would continue. */
	l->prev_key_line = 0;
	memset(l->seen, 0, sizeof(l->seen));

	end = find_stop(s, NULL);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';
	/* The last ']': a glob may hold a bracket expression, "[package foo-[0-9]*]". */
	end = strrchr(s, ']');
	if (!end) {
		parse_error(l, "missing ']' in section header '%s'", s);
		return;
	}
	if (end[1]) {
		parse_error(l, "unexpected text after ']' in section header '%s'", s);
		return;
	}
	*end = '\0';
	inner = s + 1;
	s = inner + strspn(inner, " \t");
	n = strcspn(s, " \t");
	names = s + n + strspn(s + n, " \t");
	if (n == 7 && strncmp(s, "pkguard", n) == 0) {
		if (*names)
			parse_error(l, "unknown section '[%s]' ([pkguard] takes no names)", inner);
		else
			l->where = WHERE_GLOBAL;
		return;
	}
	if (n != 7 || strncmp(s, "package", n) != 0) {
		unknown_section(l, inner, s, n);
		return;
	}
	if (!*names) {
		parse_error(l, "section '[%s]' names no package", inner);
		return;
	}
	/* Check every name before allocating anything. */
	for (p = names; *p; p += n + strspn(p + n, " \t")) {
		n = strcspn(p, " \t");
		if (!valid_glob(p, n)) {
			parse_error(l, "invalid package name or glob '%.*s' in '[%s]'", (int)n, p,
				    inner);
			return;
		}
		n_globs++;
	}

	if (array_grow(&cfg->sections, &l->sections_cap, cfg->n_sections + 1,
		       sizeof(*cfg->sections)) < 0) {
		out_of_memory(l);
		return;
	}
	/* Counted at once, so that pkguard_config_free() frees what is filled in. */
	sec = &cfg->sections[cfg->n_sections++];
	memset(sec, 0, sizeof(*sec));
	/* The header with single blanks is never longer than the text between the brackets. */
	sec->header = malloc(strlen(inner) + 1);
	sec->globs = calloc(n_globs, sizeof(*sec->globs));
	if (!sec->header || !sec->globs) {
		out_of_memory(l);
		return;
	}
	h = stpcpy(sec->header, "package");
	for (p = names; *p; p += n + strspn(p + n, " \t")) {
		n = strcspn(p, " \t");
		sec->globs[sec->n_globs] = strndup(p, n);
		if (!sec->globs[sec->n_globs]) {
			out_of_memory(l);
			return;
		}
		sec->n_globs++;
		*h++ = ' ';
		memcpy(h, p, n);
		h += n;
	}
	*h = '\0';
	l->where = WHERE_PACKAGE;
}

/*
 * Text only: a NUL would end the line early for inih, an escape sequence
 * would reach the admin's terminal in our messages, and invalid UTF-8 is a
 * file that is not what it seems (a binary, another encoding).
 */
static bool check_text(struct loader *l, const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *)line;
	size_t i, n;
	uint32_t cp;

	for (i = 0; i < len; i += n) {
		if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
			parse_error(l, "control character 0x%02x in column %zu", s[i], i + 1);
			return false;
		}
		n = utf8_len(s + i, len - i, &cp);
		if (!n) {
			parse_error(l, "invalid UTF-8 in column %zu", i + 1);
			return false;
		}
		/* Invisible, and inih would strip it from the first line that we pass on. */
		if (n == 3 && memcmp(s + i, BOM, 3) == 0) {
			parse_error(l, "byte order mark (U+FEFF) in column %zu", i + 1);
			return false;
		}
	}
	return true;
}

/*
 * inih's reader. It reads the physical lines itself, counts them, and passes
 * on only "key = value" lines, without their indentation; it deals with
 * every other line here:
 *  - a line that does not fit inih's buffer (NUM bytes, with room for "\r\n"
 *    and NUL, as ini.h says) is an error, where inih would split it;
 *  - CRLF endings are accepted, and a UTF-8 BOM at the start of the file;
 *  - an indented line after a key is an error: inih would append it to that
 *    key's value (INI_ALLOW_MULTILINE), which no key here wants;
 *  - section headers are parsed here: inih cuts them at 50 bytes, and a
 *    section without keys would never reach the handler.
 * inih thus never sees an indented line, a section or a line it rejects,
 * and its multi-line, BOM and section handling never apply.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct loader *l = stream;
	size_t max = num > 3 ? (size_t)num - 3 : 0, len;
	char *line, *s, *sep;
	int c, err;

	while (!l->stop) {
		len = 0;
		while ((c = getc(l->fp)) != EOF && c != '\n') {
			/* Keep one byte more than MAX: it may be the '\r' of "\r\n". */
			if (len <= max)
				str[len] = (char)c;
			len++;
		}
		if (ferror(l->fp)) {
			err = errno;
			report(l, -err, l->file, "cannot read: %s", pkguard_strerror(-err));
			return NULL;
		}
		if (c == EOF && len == 0)
			return NULL;
		l->lineno++;
		if (len > 0 && len <= max + 1 && str[len - 1] == '\r')
			len--;
		if (len > max) {
			parse_error(l, "line longer than %zu bytes", max);
			continue;
		}
		str[len] = '\0';
		line = str;
		if (l->lineno == 1 && len >= 3 && memcmp(line, BOM, 3) == 0)
			line += 3;
		if (!check_text(l, line, len - (size_t)(line - str)))
			continue;
		s = line + strspn(line, " \t");
		if (!*s || *s == ';' || *s == '#')
			continue;
		if (s > line && l->prev_key_line) {
			parse_error(l,
				    "indented line continues the value on line %u, "
				    "which is not supported: remove the indentation",
				    l->prev_key_line);
			continue;
		}
		if (*s == '[') {
			parse_section(l, s);
			continue;
		}
		sep = find_stop(s, "=:");
		if (*sep != '=' && *sep != ':') {
			parse_error(l, "expected 'key = value', '[section]' or a comment");
			continue;
		}
		l->prev_key_line = l->lineno;
		memmove(str, s, strlen(s) + 1);
		return str;
	}
	return NULL;
}

/* Files */

/* Only root, or the user that pkguard runs as, can have written it. */
static bool trusted(struct loader *l, const char *path, const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != l->euid) {
		report(l, -PKGUARD_EUNSAFE, path, "refusing to read: owned by uid %u",
		       (unsigned)st->st_uid);
		return false;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		report(l, -PKGUARD_EUNSAFE, path,
		       "refusing to read: writable by group or others (mode %04o)",
		       (unsigned)(st->st_mode & 07777));
		return false;
	}
	return true;
}

/*
 * Open NAME relative to DIRFD, shown as PATH, and check it before any byte
 * is read: O_NOFOLLOW refuses a symlink, O_NONBLOCK keeps the open of a FIFO
 * from waiting for a writer, and fstat() refuses all but a regular file that
 * only root can have written. Returns the fd, or -1 (reported unless the
 * file may be missing and is).
 */
static int open_config(struct loader *l, int dirfd, const char *name, const char *path,
		       bool may_be_missing)
{
	struct stat st;
	int fd, rc;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			report(l, -PKGUARD_EUNSAFE, path, "refusing to read: a symbolic link");
		else if (rc != -ENOENT || !may_be_missing)
			report(l, rc, path, "cannot open: %s", pkguard_strerror(rc));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		report(l, rc, path, "cannot stat: %s", pkguard_strerror(rc));
	} else if (!S_ISREG(st.st_mode)) {
		report(l, -PKGUARD_EUNSAFE, path, "refusing to read: not a regular file");
	} else if (trusted(l, path, &st)) {
		return fd;
	}
	close(fd);
	return -1;
}

static void read_file(struct loader *l, int dirfd, const char *name, const char *path,
		      bool may_be_missing)
{
	struct pkguard_config *cfg = l->cfg;
	char *copy = NULL;
	int fd, rc;

	fd = open_config(l, dirfd, name, path, may_be_missing);
	if (fd < 0)
		return;
	if (array_grow(&cfg->files, &l->files_cap, cfg->n_files + 1, sizeof(*cfg->files)) == 0)
		copy = strdup(path);
	if (copy) {
		cfg->files[cfg->n_files++] = copy;
		l->fp = fdopen(fd, "r");
	}
	if (!l->fp) {
		close(fd);
		out_of_memory(l);
		return;
	}
	l->file = copy;
	l->lineno = 0;
	l->where = WHERE_NONE;
	l->prev_key_line = 0;
	memset(l->seen, 0, sizeof(l->seen));
	rc = ini_parse_stream(read_line, l, on_key, l);
	/* -2: inih's heap line buffer (a build without INI_USE_STACK). */
	if (rc == -2)
		out_of_memory(l);
	else if (rc != 0)
		report(l, -PKGUARD_EPARSE, path, "inih rejected its line %d", rc);
	fclose(l->fp);
	l->fp = NULL;
	l->file = NULL;
}

struct dropin {
	char *name;
	int dir; /* 0: vendor, 1: admin */
};

struct dropins {
	const char *paths[2];
	DIR *dirs[2];
	struct dropin *v;
	size_t n;
	size_t cap;
};

/* Editors' backups and dotfiles (".#x.conf" is an Emacs lock symlink) are not policy. */
static bool is_dropin_name(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".conf") == 0;
}

/* List the *.conf files of directory D->paths[WHICH]; a missing directory has none. */
static void list_dir(struct loader *l, struct dropins *d, int which)
{
	const char *path = d->paths[which];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, rc;

	if (!path)
		return;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			report(l, rc, path, "cannot open directory: %s", pkguard_strerror(rc));
		return;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		report(l, rc, path, "cannot stat: %s", pkguard_strerror(rc));
		close(fd);
		return;
	}
	/* Whoever can write the directory can remove the admin's policy from it. */
	if (!trusted(l, path, &st)) {
		close(fd);
		return;
	}
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		out_of_memory(l);
		return;
	}
	d->dirs[which] = dir;
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de)
			break;
		if (!is_dropin_name(de->d_name))
			continue;
		if (array_grow(&d->v, &d->cap, d->n + 1, sizeof(*d->v)) < 0) {
			out_of_memory(l);
			return;
		}
		d->v[d->n].name = strdup(de->d_name);
		if (!d->v[d->n].name) {
			out_of_memory(l);
			return;
		}
		d->v[d->n++].dir = which;
	}
	if (errno) {
		rc = -errno;
		report(l, rc, path, "cannot read directory: %s", pkguard_strerror(rc));
	}
}

/* Name order; for one name, the admin's file first: it is the one read. */
static int by_name(const void *a, const void *b)
{
	const struct dropin *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : y->dir - x->dir;
}

static void read_dropins(struct loader *l, struct dropins *d)
{
	const struct dropin *e;
	char *path;
	size_t i, len;

	/* qsort()'s base must not be NULL, even for no elements. */
	if (!d->n)
		return;
	qsort(d->v, d->n, sizeof(*d->v), by_name);
	for (i = 0; i < d->n && !l->stop; i++) {
		e = &d->v[i];
		if (i > 0 && strcmp(e->name, d->v[i - 1].name) == 0) {
			pkguard_log(l->ctx, PKGUARD_LOG_DEBUG, "'%s/%s' is shadowed by '%s/%s'",
				    d->paths[e->dir], e->name, d->paths[d->v[i - 1].dir], e->name);
			continue;
		}
		len = strlen(d->paths[e->dir]);
		if (asprintf(&path, "%s%s%s", d->paths[e->dir],
			     len && d->paths[e->dir][len - 1] == '/' ? "" : "/", e->name) < 0) {
			out_of_memory(l);
			return;
		}
		read_file(l, dirfd(d->dirs[e->dir]), e->name, path, false);
		free(path);
	}
}

int pkguard_config_load(struct pkguard_ctx *ctx, const struct pkguard_config_paths *paths,
			struct pkguard_config **out)
{
	struct dropins d = {.paths = {paths->vendor_dir, paths->admin_dir}};
	struct loader l = {.ctx = ctx, .euid = geteuid()};
	size_t i;
	int rc;

	*out = NULL;
	rc = pkguard_config_defaults(ctx, &l.cfg);
	if (rc < 0)
		return rc;
	if (paths->main)
		read_file(&l, AT_FDCWD, paths->main, paths->main, true);
	for (i = 0; i < 2 && !l.stop; i++)
		list_dir(&l, &d, (int)i);
	if (!l.stop)
		read_dropins(&l, &d);

	rc = 0;
	if (l.n_errors) {
		/* Never half a configuration: the caller falls back on the defaults. */
		rc = pkguard_fail(ctx, l.first_code, "%s", l.first);
		pkguard_config_free(l.cfg);
	} else {
		*out = l.cfg;
	}
	for (i = 0; i < d.n; i++)
		free(d.v[i].name);
	free(d.v);
	for (i = 0; i < 2; i++) {
		if (d.dirs[i])
			closedir(d.dirs[i]);
	}
	return rc;
}

/* Resolution */

/*
 * A package instance may be named with its architecture ("libfoo:amd64",
 * dpkg's Multi-Arch: same instances); a section names packages, so the
 * name without the architecture matches too.
 */
static bool section_matches(const struct pkguard_section *sec, const char *name)
{
	const char *colon = strchr(name, ':');
	char bare[256];
	size_t i;

	if (colon && (size_t)(colon - name) < sizeof(bare))
		snprintf(bare, sizeof(bare), "%.*s", (int)(colon - name), name);
	else
		bare[0] = '\0';
	for (i = 0; i < sec->n_globs; i++) {
		if (fnmatch(sec->globs[i], name, 0) == 0 ||
		    (bare[0] && fnmatch(sec->globs[i], bare, 0) == 0))
			return true;
	}
	return false;
}

static bool has_lockfile(const struct pkguard_policy *pol, const char *path)
{
	size_t i;

	for (i = 0; i < pol->n_lockfiles; i++) {
		if (strcmp(pol->lockfiles[i], path) == 0)
			return true;
	}
	return false;
}

int pkguard_config_resolve(const struct pkguard_config *cfg, const char *name,
			   struct pkguard_policy *out)
{
	const struct pkguard_section *sec;
	size_t cap = 0, i, j;

	*out = cfg->defaults;
	out->lockfiles = NULL;
	out->n_lockfiles = 0;
	out->section = NULL;
	for (i = 0; i < cfg->n_sections; i++) {
		sec = &cfg->sections[i];
		if (!section_matches(sec, name))
			continue;
		if (sec->set & BIT(KEY_ACTION)) {
			out->action = sec->values.action;
			out->action_origin = sec->values.action_origin;
		}
		if (sec->set & BIT(KEY_THEN)) {
			out->then = sec->values.then;
			out->then_origin = sec->values.then_origin;
		}
		if (sec->set & BIT(KEY_HELPERS)) {
			out->helpers = sec->values.helpers;
			out->helpers_origin = sec->values.helpers_origin;
		}
		if (sec->set & BIT(KEY_WAIT_TIMEOUT))
			out->wait_timeout_ms = sec->values.wait_timeout_ms;
		if (sec->set & BIT(KEY_MAX_DEFER))
			out->max_defer_ms = sec->values.max_defer_ms;
		if (sec->set & BIT(KEY_MESSAGE))
			out->message = sec->message;
		for (j = 0; j < sec->n_lockfiles; j++) {
			if (has_lockfile(out, sec->lockfiles[j]))
				continue;
			if (array_grow(&out->lockfiles, &cap, out->n_lockfiles + 1,
				       sizeof(*out->lockfiles)) < 0) {
				pkguard_policy_release(out);
				return -ENOMEM;
			}
			out->lockfiles[out->n_lockfiles++] = sec->lockfiles[j];
		}
		out->section = sec->header;
	}
	return 0;
}

void pkguard_policy_release(struct pkguard_policy *policy)
{
	free(policy->lockfiles);
	policy->lockfiles = NULL;
	policy->n_lockfiles = 0;
}
