/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests: durations and actions on literal strings; files written to a
 * temporary directory for the loader (diagnostics, unsafe files, drop-in
 * shadowing) and for resolution; the shipped files in config/.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ini.h>

#include "pkguard/policy.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define MIN_MS	   (60ull * 1000)
#define DAY_MS	   (24 * 60 * MIN_MS)

struct logbuf {
	int errors;
	int calls;
	char text[16384];
	size_t len;
};

struct fixture {
	char dir[64];
	char main[128];
	char vendor[128];
	char admin[128];
	struct pkguard_ctx *ctx;
	struct logbuf log;
};

static void buffer_logger(void *userdata, enum pkguard_log_level level, const char *msg)
{
	struct logbuf *b = userdata;
	int n;

	b->calls++;
	if (level == PKGUARD_LOG_ERR)
		b->errors++;
	n = snprintf(b->text + b->len, sizeof(b->text) - b->len, "%s\n", msg);
	if (n > 0 && (size_t)n < sizeof(b->text) - b->len)
		b->len += (size_t)n;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/pkguard-test-config-XXXXXX");
	if (!mkdtemp(f->dir) || pkguard_ctx_new(&f->ctx) < 0) {
		free(f);
		return -1;
	}
	snprintf(f->main, sizeof(f->main), "%s/pkguard.conf", f->dir);
	snprintf(f->vendor, sizeof(f->vendor), "%s/vendor", f->dir);
	snprintf(f->admin, sizeof(f->admin), "%s/admin", f->dir);
	if (mkdir(f->vendor, 0755) < 0 || mkdir(f->admin, 0755) < 0)
		return -1;
	pkguard_ctx_set_logger(f->ctx, buffer_logger, &f->log);
	*state = f;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	pkguard_ctx_free(f->ctx);
	free(f);
	return 0;
}

/* Write LEN bytes of TEXT to PATH with MODE, whatever the umask. */
static void write_bytes(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text), 0644);
}

static void write_in(const char *dir, const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_text(path, text);
}

static struct pkguard_config_paths main_only(const struct fixture *f)
{
	return (struct pkguard_config_paths){.main = f->main};
}

static struct pkguard_config_paths all_paths(const struct fixture *f)
{
	return (struct pkguard_config_paths){f->main, f->vendor, f->admin};
}

/* Load F's main file holding TEXT; it must load without any error. */
static struct pkguard_config *load_text(struct fixture *f, const char *text)
{
	struct pkguard_config_paths paths = main_only(f);
	struct pkguard_config *cfg;

	write_text(f->main, text);
	if (pkguard_config_load(f->ctx, &paths, &cfg) != 0)
		fail_msg("load failed: %s", pkguard_ctx_errmsg(f->ctx));
	assert_int_equal(f->log.errors, 0);
	return cfg;
}

/*
 * Load PATHS, which must fail with CODE and no configuration, logging
 * N_ERRORS errors, the first of which, like the context's message, starts
 * with FIRST.
 */
static void expect_failure(struct fixture *f, const struct pkguard_config_paths *paths, int code,
			   int n_errors, const char *first)
{
	struct pkguard_config *cfg = (struct pkguard_config *)1;
	const char *msg;
	size_t len = strlen(first);

	f->log.errors = 0;
	f->log.len = 0;
	f->log.text[0] = '\0';
	assert_int_equal(pkguard_config_load(f->ctx, paths, &cfg), code);
	assert_null(cfg);
	msg = pkguard_ctx_errmsg(f->ctx);
	if (strncmp(msg, first, len) != 0)
		fail_msg("message '%s', expected '%s...'", msg, first);
	if (strncmp(f->log.text, first, len) != 0)
		fail_msg("first logged error '%s', expected '%s...'", f->log.text, first);
	if (f->log.errors != n_errors)
		fail_msg("%d errors logged, expected %d:\n%s", f->log.errors, n_errors,
			 f->log.text);
}

/* The main file holding the LEN bytes of TEXT must fail with one error "MAIN:WHAT". */
static void expect_parse_error(struct fixture *f, const char *text, size_t len, const char *what)
{
	struct pkguard_config_paths paths = main_only(f);
	char first[1024];

	write_bytes(f->main, text, len, 0644);
	snprintf(first, sizeof(first), "%s:%s", f->main, what);
	expect_failure(f, &paths, -PKGUARD_EPARSE, 1, first);
}

static void test_actions(void **state)
{
	static const char *const names[] = {"allow", "warn", "wait", "restart", "defer", "block"};
	enum pkguard_action a;
	size_t i;

	for (i = 0; i < N_ELEMS(names); i++) {
		assert_int_equal(pkguard_action_parse(names[i], &a), 0);
		assert_int_equal(a, (enum pkguard_action)i);
		assert_string_equal(pkguard_action_name(a), names[i]);
	}
	assert_int_equal(pkguard_action_parse("Block", &a), -PKGUARD_EPARSE);
	assert_int_equal(pkguard_action_parse("", &a), -PKGUARD_EPARSE);
	assert_int_equal(pkguard_action_parse("block ", &a), -PKGUARD_EPARSE);
	assert_string_equal(pkguard_action_name((enum pkguard_action)42), "invalid");
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = {
		{"0", 0},
		{"0s", 0},
		{"0ms", 0},
		{"1ms", 1},
		{"500ms", 500},
		{"30s", 30000},
		{"5m", 5 * MIN_MS},
		{"05m", 5 * MIN_MS},
		{"2h", 120 * MIN_MS},
		{"7d", 7 * DAY_MS},
		{"90d", 90 * DAY_MS},
		{"3650d", 3650 * DAY_MS},
		{"87600h", 3650 * DAY_MS},
		{"315360000000ms", 3650 * DAY_MS},
	};
	static const char *const bad[] = {
		"",
		"5",
		"00",
		"-5m",
		"+5m",
		"-0",
		"5 m",
		" 5m",
		"5m ",
		"5mm",
		"5ms5",
		"5s5",
		"5M",
		"5D",
		"1.5h",
		"0x10s",
		"m",
		"ms",
		"5min",
		"3651d",
		"87601h",
		"315360000001ms",
		"18446744073709551616ms",
		"18446744073709551615ms",
		"99999999999999999999999999999d",
	};
	uint64_t ms;
	size_t i;

	for (i = 0; i < N_ELEMS(good); i++) {
		ms = 12345;
		if (pkguard_duration_parse(good[i].text, &ms) != 0)
			fail_msg("rejected '%s'", good[i].text);
		if (ms != good[i].ms)
			fail_msg("'%s' is %llu ms", good[i].text, (unsigned long long)ms);
	}
	for (i = 0; i < N_ELEMS(bad); i++) {
		if (pkguard_duration_parse(bad[i], &ms) != -PKGUARD_EPARSE)
			fail_msg("accepted '%s'", bad[i]);
	}
}

static void assert_builtin_defaults(const struct pkguard_config *cfg)
{
	assert_int_equal(cfg->defaults.action, PKGUARD_ACTION_WARN);
	assert_int_equal(cfg->defaults.helpers, PKGUARD_ACTION_WARN);
	assert_int_equal(cfg->defaults.then, PKGUARD_ACTION_BLOCK);
	assert_true(cfg->defaults.wait_timeout_ms == 5 * MIN_MS);
	assert_true(cfg->defaults.max_defer_ms == 7 * DAY_MS);
	assert_null(cfg->defaults.message);
	assert_int_equal(cfg->defaults.n_lockfiles, 0);
	assert_null(cfg->defaults.section);
	assert_int_equal(cfg->unprivileged, PKGUARD_UNPRIV_IGNORE);
	assert_int_equal(cfg->denied, PKGUARD_DENIED_IN_USE);
	assert_int_equal(cfg->on_error, PKGUARD_ON_ERROR_ALLOW);
	assert_true(cfg->deadline_ms == 10000);
	assert_true(cfg->history_ms == 90 * DAY_MS);
	assert_true(cfg->hold);
	assert_int_equal(cfg->system_uid_max, 999);
	assert_string_equal(cfg->service_manager, "auto");
	assert_int_equal(cfg->scan_mappings, PKGUARD_MAPS_AUTO);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct pkguard_config_paths none = {NULL, NULL, NULL};
	struct pkguard_config_paths missing = {"/nonexistent/pkguard.conf", "/nonexistent/a",
					       "/nonexistent/b"};
	struct pkguard_config *cfg;
	struct pkguard_policy pol;

	assert_int_equal(pkguard_config_defaults(f->ctx, &cfg), 0);
	assert_builtin_defaults(cfg);
	assert_null(cfg->defaults.action_origin.file);
	assert_int_equal(cfg->n_files, 0);
	assert_int_equal(pkguard_config_resolve(cfg, "certbot", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_WARN);
	assert_null(pol.action_origin.file);
	assert_null(pol.section);
	pkguard_policy_release(&pol);
	pkguard_config_free(cfg);

	/* No files at all, and files and directories that do not exist: the defaults. */
	assert_int_equal(pkguard_config_load(f->ctx, &none, &cfg), 0);
	assert_builtin_defaults(cfg);
	pkguard_config_free(cfg);
	assert_int_equal(pkguard_config_load(f->ctx, &missing, &cfg), 0);
	assert_builtin_defaults(cfg);
	assert_int_equal(cfg->n_files, 0);
	pkguard_config_free(cfg);

	/* An empty file, and one of comments only. */
	cfg = load_text(f, "");
	assert_builtin_defaults(cfg);
	assert_int_equal(cfg->n_files, 1);
	pkguard_config_free(cfg);
	cfg = load_text(f, "# nothing\n; still nothing\n\n[pkguard]\n");
	assert_builtin_defaults(cfg);
	pkguard_config_free(cfg);
	assert_int_equal(f->log.errors, 0);
	pkguard_config_free(NULL);
}

static void test_every_global_key(void **state)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	struct fixture *f = *state;
	struct pkguard_config *cfg;
	char text[128];
	size_t i;

	cfg = load_text(f, "[pkguard]\n"
			   "action = restart\n"
			   "helpers = defer\n"
			   "then = warn\n"
			   "unprivileged = warn\n"
			   "denied = ignore\n"
			   "on-error = block\n"
			   "deadline = 30s\n"
			   "wait-timeout = 2m\n"
			   "max-defer = 1d\n"
			   "hold = off\n"
			   "system-uid-max = 499\n"
			   "service-manager = /usr/local/sbin/my-rc\n"
			   "history = 0\n"
			   "scan-mappings = query\n");
	assert_int_equal(cfg->defaults.action, PKGUARD_ACTION_RESTART);
	assert_int_equal(cfg->defaults.helpers, PKGUARD_ACTION_DEFER);
	assert_int_equal(cfg->defaults.then, PKGUARD_ACTION_WARN);
	assert_int_equal(cfg->unprivileged, PKGUARD_UNPRIV_WARN);
	assert_int_equal(cfg->denied, PKGUARD_DENIED_IGNORE);
	assert_int_equal(cfg->on_error, PKGUARD_ON_ERROR_BLOCK);
	assert_true(cfg->deadline_ms == 30000);
	assert_true(cfg->defaults.wait_timeout_ms == 2 * MIN_MS);
	assert_true(cfg->defaults.max_defer_ms == DAY_MS);
	assert_false(cfg->hold);
	assert_int_equal(cfg->system_uid_max, 499);
	assert_string_equal(cfg->service_manager, "/usr/local/sbin/my-rc");
	assert_true(cfg->history_ms == 0);
	assert_int_equal(cfg->scan_mappings, PKGUARD_MAPS_QUERY);
	/* Origins point at the file name the configuration keeps. */
	assert_int_equal(cfg->n_files, 1);
	assert_string_equal(cfg->files[0], f->main);
	assert_ptr_equal(cfg->defaults.action_origin.file, cfg->files[0]);
	assert_int_equal(cfg->defaults.action_origin.line, 2);
	assert_ptr_equal(cfg->defaults.helpers_origin.file, cfg->files[0]);
	assert_int_equal(cfg->defaults.helpers_origin.line, 3);
	assert_int_equal(cfg->defaults.then_origin.line, 4);
	pkguard_config_free(cfg);

	/* Every spelling of a boolean, and the other service managers. */
	for (i = 0; i < N_ELEMS(yes); i++) {
		snprintf(text, sizeof(text), "[pkguard]\nhold = %s\nservice-manager = %s\n", no[i],
			 i % 2 ? "systemd" : "openrc");
		cfg = load_text(f, text);
		assert_false(cfg->hold);
		pkguard_config_free(cfg);
		snprintf(text, sizeof(text), "[pkguard]\nhold = %s\n", yes[i]);
		cfg = load_text(f, text);
		assert_true(cfg->hold);
		pkguard_config_free(cfg);
	}
	cfg = load_text(f, "[pkguard]\nsystem-uid-max = 4294967294\n");
	assert_true(cfg->system_uid_max == 4294967294u);
	pkguard_config_free(cfg);
}

/* Every error names file:line; each case holds exactly one error. */
static void test_errors_name_file_and_line(void **state)
{
	static const struct {
		const char *text;
		const char *what;
	} cases[] = {
		/* Sections */
		{"[pkgaurd]\naction = block\n",
		 "1: unknown section '[pkgaurd]'; did you mean '[pkguard]'?"},
		{"# c\n[global]\n", "2: unknown section '[global]'"},
		{"[packages certbot]\n",
		 "1: unknown section '[packages certbot]'; did you mean '[package NAME...]'?"},
		{"[pkguard x]\n", "1: unknown section '[pkguard x]' ([pkguard] takes no names)"},
		{"[]\n", "1: unknown section '[]'"},
		{"[pkguard\n", "1: missing ']' in section header '[pkguard'"},
		{"[pkguard] x\n", "1: unexpected text after ']' in section header '[pkguard] x'"},
		{"[package]\n", "1: section '[package]' names no package"},
		{"[package  ]\n", "1: section '[package  ]' names no package"},
		{"[package foo$bar]\n",
		 "1: invalid package name or glob 'foo$bar' in '[package foo$bar]'"},
		{"[package certbot foo[ab]\n",
		 "1: invalid package name or glob 'foo[ab' in '[package certbot foo[ab]'"},
		{"[package foo[]]\n",
		 "1: invalid package name or glob 'foo[]' in '[package foo[]]'"},
		{"[package a,b]\n", "1: invalid package name or glob 'a,b' in '[package a,b]'"},
		/* Keys */
		{"action = block\n[pkguard]\n", "1: key 'action' outside of any section"},
		{"[package certbot]\nactoin = wait\n",
		 "2: unknown key 'actoin' in [package certbot]; did you mean 'action'?"},
		{"[pkguard]\nfrobnicate = 1\n", "2: unknown key 'frobnicate' in [pkguard]"},
		{"[pkguard]\nwait_timeout = 1m\n",
		 "2: unknown key 'wait_timeout' in [pkguard]; did you mean 'wait-timeout'?"},
		{"[pkguard]\nAction = block\n",
		 "2: unknown key 'Action' in [pkguard]; did you mean 'action'?"},
		{"[package x]\nmesage = hi\n",
		 "2: unknown key 'mesage' in [package x]; did you mean 'message'?"},
		{"[package x]\ndeadline = 1s\n",
		 "2: key 'deadline' is not allowed in [package x], only in [pkguard]"},
		{"[package x]\nhold = no\n",
		 "2: key 'hold' is not allowed in [package x], only in [pkguard]"},
		{"[pkguard]\nlockfile = /run/x.lock\n",
		 "2: key 'lockfile' is not allowed in [pkguard], only in [package ...] sections"},
		{"[pkguard]\nmessage = hi\n",
		 "2: key 'message' is not allowed in [pkguard], only in [package ...] sections"},
		{"[pkguard]\n= warn\n", "2: missing key before '='"},
		{"[pkguard]\naction\n", "2: expected 'key = value', '[section]' or a comment"},
		{"[pkguard]\naction ;= warn\n",
		 "2: expected 'key = value', '[section]' or a comment"},
		/* Duplicates, also through a continuation line */
		{"[pkguard]\naction = warn\n\naction = block\n",
		 "4: duplicate key 'action' in [pkguard] (already set on line 2)"},
		{"[package a b]\nmessage = x\n# c\nmessage = y\n",
		 "4: duplicate key 'message' in [package a b] (already set on line 2)"},
		{"[package certbot]\naction = wait\n    block\n",
		 "3: indented line continues the value on line 2, which is not supported: "
		 "remove the indentation"},
		{"[pkguard]\nhold = yes\n# c\n\n\thelpers = warn\n",
		 "5: indented line continues the value on line 2, which is not supported: "
		 "remove the indentation"},
		{"[package a]\nlockfile = /run/a\n  /run/b\n",
		 "3: indented line continues the value on line 2, which is not supported: "
		 "remove the indentation"},
		/* Values */
		{"[pkguard]\naction = sometimes\n",
		 "2: invalid value 'sometimes' for 'action' (allow|warn|wait|restart|defer|block)"},
		{"[pkguard]\naction = block # never\n",
		 "2: invalid value 'block # never' for 'action' "
		 "(allow|warn|wait|restart|defer|block)"},
		{"[package x]\nthen = wait\n",
		 "2: invalid value 'wait' for 'then' (allow|warn|defer|block)"},
		{"[package x]\nhelpers = allow\n",
		 "2: invalid value 'allow' for 'helpers' (warn|restart|defer|block)"},
		{"[pkguard]\nunprivileged = block\n",
		 "2: invalid value 'block' for 'unprivileged' (ignore|warn)"},
		{"[pkguard]\ndenied = allow\n",
		 "2: invalid value 'allow' for 'denied' (in-use|warn|ignore)"},
		{"[pkguard]\non-error = warn\n",
		 "2: invalid value 'warn' for 'on-error' (allow|block)"},
		/* "bpf" is not offered: a scan never fails for want of the iterator. */
		{"[pkguard]\nscan-mappings = bpf\n",
		 "2: invalid value 'bpf' for 'scan-mappings' (auto|query|text)"},
		{"[pkguard]\naction =\n", "2: empty value for 'action'"},
		{"[package x]\nmessage = ; nothing\n", "2: empty value for 'message'"},
		{"[package x]\nwait-timeout = 5 m\n",
		 "2: invalid value '5 m' for 'wait-timeout' (0, or a number with a unit: ms, s, m, "
		 "h or d, at most 3650d)"},
		{"[pkguard]\ndeadline = 10\n", "2: invalid value '10' for 'deadline'"},
		{"[pkguard]\nhistory = -1d\n", "2: invalid value '-1d' for 'history'"},
		{"[pkguard]\nmax-defer = 3651d\n", "2: invalid value '3651d' for 'max-defer'"},
		{"[pkguard]\nhold = maybe\n",
		 "2: invalid value 'maybe' for 'hold' (yes|no|true|false|on|off|1|0)"},
		{"[pkguard]\nsystem-uid-max = -1\n",
		 "2: invalid value '-1' for 'system-uid-max' (a uid from 0 to 4294967294)"},
		{"[pkguard]\nsystem-uid-max = 4294967295\n",
		 "2: invalid value '4294967295' for 'system-uid-max'"},
		{"[pkguard]\nsystem-uid-max = 99999999999999999999999\n",
		 "2: invalid value '99999999999999999999999' for 'system-uid-max'"},
		{"[pkguard]\nsystem-uid-max = 12a\n",
		 "2: invalid value '12a' for 'system-uid-max'"},
		{"[package x]\nlockfile = run/x.lock\n",
		 "2: invalid value 'run/x.lock' for 'lockfile' (an absolute path without empty, "
		 "'.' "
		 "or '..' components)"},
		{"[package x]\nlockfile = /var/lib/../../etc/shadow\n",
		 "2: invalid value '/var/lib/../../etc/shadow' for 'lockfile'"},
		{"[package x]\nlockfile = /var/./x\n",
		 "2: invalid value '/var/./x' for 'lockfile'"},
		{"[package x]\nlockfile = /var/x/..\n",
		 "2: invalid value '/var/x/..' for 'lockfile'"},
		{"[package x]\nlockfile = /var//x\n", "2: invalid value '/var//x' for 'lockfile'"},
		{"[package x]\nlockfile = /var/x/\n", "2: invalid value '/var/x/' for 'lockfile'"},
		{"[package x]\nlockfile = /\n", "2: invalid value '/' for 'lockfile'"},
		{"[pkguard]\nservice-manager = runit\n",
		 "2: invalid value 'runit' for 'service-manager' "
		 "(auto|systemd|openrc|an absolute path)"},
		{"[pkguard]\nservice-manager = /usr/../bin/rc\n",
		 "2: invalid value '/usr/../bin/rc' for 'service-manager'"},
		/* Bytes */
		{"[pkguard]\naction = warn\rhold = no\n", "2: control character 0x0d in column 14"},
		{"[package x]\nmessage = \x1b[2J\n", "2: control character 0x1b in column 11"},
		{"[pkguard]\n# caf\xe9\n", "2: invalid UTF-8 in column 6"},
		{"[pkguard]\n# \xc0\xaf\n", "2: invalid UTF-8 in column 3"},
		{"[pkguard]\n# \xed\xa0\x80\n", "2: invalid UTF-8 in column 3"},
		{"[pkguard]\n\xef\xbb\xbf"
		 "action = block\n",
		 "2: byte order mark (U+FEFF) in column 1"},
	};
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < N_ELEMS(cases); i++)
		expect_parse_error(f, cases[i].text, strlen(cases[i].text), cases[i].what);
}

static void test_nul_byte(void **state)
{
	static const char text[] = "[pkguard]\naction = wa\0it\n";
	struct fixture *f = *state;

	expect_parse_error(f, text, sizeof(text) - 1, "2: control character 0x00 in column 12");
}

/* inih's buffer holds INI_MAX_LINE bytes with "\r\n" and NUL: a longer line is an error. */
static void test_long_lines(void **state)
{
	struct fixture *f = *state;
	struct pkguard_config_paths paths = main_only(f);
	size_t max = INI_MAX_LINE - 3, prefix = strlen("message = ");
	char text[1024], what[128], first[512], *p;
	struct pkguard_config *cfg;
	struct pkguard_policy pol;

	/* Exactly the longest line, with LF and with CRLF. */
	p = text + sprintf(text, "[package x]\nmessage = ");
	memset(p, 'a', max - prefix);
	strcpy(p + max - prefix, "\n");
	cfg = load_text(f, text);
	assert_int_equal(pkguard_config_resolve(cfg, "x", &pol), 0);
	assert_int_equal(strlen(pol.message), max - prefix);
	pkguard_policy_release(&pol);
	pkguard_config_free(cfg);
	strcpy(p + max - prefix, "\r\n");
	cfg = load_text(f, text);
	assert_int_equal(pkguard_config_resolve(cfg, "x", &pol), 0);
	assert_int_equal(strlen(pol.message), max - prefix);
	pkguard_policy_release(&pol);
	pkguard_config_free(cfg);

	/* One byte more. */
	memset(p, 'a', max - prefix + 1);
	strcpy(p + max - prefix + 1, "\n");
	snprintf(what, sizeof(what), "2: line longer than %zu bytes", max);
	expect_parse_error(f, text, strlen(text), what);

	/*
	 * A 900-byte comment whose tail, split off by inih, would read as a key;
	 * the lines after it keep their numbers.
	 */
	p = text + sprintf(text, "[pkguard]\n# ");
	memset(p, 'x', 900);
	strcpy(p + 900, " action = block\nhold = maybe\n");
	write_text(f->main, text);
	snprintf(first, sizeof(first), "%s:%s", f->main, what);
	expect_failure(f, &paths, -PKGUARD_EPARSE, 2, first);
	snprintf(first, sizeof(first), "%s:3: invalid value 'maybe' for 'hold'", f->main);
	assert_non_null(strstr(f->log.text, first));

	/* The last line, without a newline. */
	p = text + sprintf(text, "[pkguard]\n#");
	memset(p, 'x', 600);
	p[600] = '\0';
	expect_parse_error(f, text, strlen(text), what);
}

static void test_all_errors_are_logged(void **state)
{
	struct fixture *f = *state;
	struct pkguard_config_paths paths = all_paths(f);
	char first[256], line[256];

	write_text(f->main, "[pkguard]\n"
			    "action = sometimes\n"
			    "\n"
			    "actoin = warn\n"
			    "[nope]\n"
			    "hold = maybe\n"
			    "[pkguard]\n"
			    "deadline = 5 s\n");
	write_in(f->vendor, "a.conf", "[package a]\nthen = wait\n");
	write_in(f->admin, "b.conf", "[package b]\nlockfile = b\n");
	snprintf(first, sizeof(first), "%s:2: invalid value 'sometimes' for 'action'", f->main);
	expect_failure(f, &paths, -PKGUARD_EPARSE, 6, first);
	/* The [nope] section's key is not reported again. */
	assert_null(strstr(f->log.text, "'maybe'"));
	snprintf(line, sizeof(line), "%s:4: unknown key 'actoin'", f->main);
	assert_non_null(strstr(f->log.text, line));
	snprintf(line, sizeof(line), "%s:5: unknown section '[nope]'", f->main);
	assert_non_null(strstr(f->log.text, line));
	snprintf(line, sizeof(line), "%s:8: invalid value '5 s' for 'deadline'", f->main);
	assert_non_null(strstr(f->log.text, line));
	snprintf(line, sizeof(line), "%s/a.conf:2: invalid value 'wait' for 'then'", f->vendor);
	assert_non_null(strstr(f->log.text, line));
	snprintf(line, sizeof(line), "%s/b.conf:2: invalid value 'b' for 'lockfile'", f->admin);
	assert_non_null(strstr(f->log.text, line));
}

static void test_unsafe_files(void **state)
{
	struct fixture *f = *state;
	struct pkguard_config_paths paths = main_only(f);
	char first[512], target[256];

	write_bytes(f->main, "[pkguard]\n", 10, 0666);
	snprintf(first, sizeof(first),
		 "%s: refusing to read: writable by group or others (mode 0666)", f->main);
	expect_failure(f, &paths, -PKGUARD_EUNSAFE, 1, first);
	assert_string_equal(pkguard_ctx_errmsg(f->ctx) + strlen(first), ": unsafe file");

	write_bytes(f->main, "[pkguard]\n", 10, 0620);
	snprintf(first, sizeof(first),
		 "%s: refusing to read: writable by group or others (mode 0620)", f->main);
	expect_failure(f, &paths, -PKGUARD_EUNSAFE, 1, first);

	/* Owned by another user: only root can give a file away. */
	write_bytes(f->main, "[pkguard]\n", 10, 0644);
	if (geteuid() == 0) {
		assert_int_equal(chown(f->main, 1234, 1234), 0);
		snprintf(first, sizeof(first), "%s: refusing to read: owned by uid 1234", f->main);
		expect_failure(f, &paths, -PKGUARD_EUNSAFE, 1, first);
	}
	unlink(f->main);

	/* A symlink, even to a good file. */
	snprintf(target, sizeof(target), "%s/real.conf", f->dir);
	write_text(target, "[pkguard]\n");
	assert_int_equal(symlink(target, f->main), 0);
	snprintf(first, sizeof(first), "%s: refusing to read: a symbolic link", f->main);
	expect_failure(f, &paths, -PKGUARD_EUNSAFE, 1, first);
	unlink(f->main);

	/* A FIFO: a blocking open would wait for a writer forever. */
	assert_int_equal(mkfifo(f->main, 0600), 0);
	alarm(10);
	snprintf(first, sizeof(first), "%s: refusing to read: not a regular file", f->main);
	expect_failure(f, &paths, -PKGUARD_EUNSAFE, 1, first);
	alarm(0);
	unlink(f->main);

	/* A directory. */
	assert_int_equal(mkdir(f->main, 0755), 0);
	expect_failure(f, &paths, -PKGUARD_EUNSAFE, 1, first);
	rmdir(f->main);
}

static void test_unsafe_dropins(void **state)
{
	struct fixture *f = *state;
	struct pkguard_config_paths paths = all_paths(f);
	char first[512], path[256];

	/* A drop-in directory that others can write, and one that is a file. */
	write_in(f->vendor, "a.conf", "[package a]\naction = block\n");
	assert_int_equal(chmod(f->vendor, 0777), 0);
	snprintf(first, sizeof(first),
		 "%s: refusing to read: writable by group or others (mode 0777)", f->vendor);
	expect_failure(f, &paths, -PKGUARD_EUNSAFE, 1, first);
	assert_int_equal(chmod(f->vendor, 0755), 0);

	paths.admin_dir = f->main;
	write_text(f->main, "");
	snprintf(first, sizeof(first), "%s: cannot open directory: Not a directory", f->main);
	expect_failure(f, &paths, -ENOTDIR, 1, first);
	paths.admin_dir = f->admin;

	/* A FIFO, a symlink and a directory named *.conf; each is an error. */
	snprintf(path, sizeof(path), "%s/fifo.conf", f->admin);
	assert_int_equal(mkfifo(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/link.conf", f->admin);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/dir.conf", f->vendor);
	assert_int_equal(mkdir(path, 0755), 0);
	alarm(10);
	snprintf(first, sizeof(first), "%s/dir.conf: refusing to read: not a regular file",
		 f->vendor);
	expect_failure(f, &paths, -PKGUARD_EUNSAFE, 3, first);
	alarm(0);
	snprintf(path, sizeof(path), "%s/fifo.conf: refusing to read: not a regular file",
		 f->admin);
	assert_non_null(strstr(f->log.text, path));
	snprintf(path, sizeof(path), "%s/link.conf: refusing to read: a symbolic link", f->admin);
	assert_non_null(strstr(f->log.text, path));
}

static void test_dropins_shadow_and_order(void **state)
{
	struct fixture *f = *state;
	struct pkguard_config_paths paths = all_paths(f);
	struct pkguard_config *cfg;
	struct pkguard_policy pol;
	char path[256];

	write_text(f->main, "[pkguard]\naction = allow\n");
	write_in(f->vendor, "10-a.conf", "[pkguard]\naction = block\n[package a]\naction = wait\n");
	/* Shadowed by the admin's file: its error must not even be seen. */
	write_in(f->vendor, "20-b.conf", "[package b]\naction = block\nbroken\n");
	write_in(f->vendor, "40-d.conf", "[pkguard]\naction = defer\n");
	write_in(f->admin, "20-b.conf", "\n[package b]\naction = allow\n");
	write_in(f->admin, "30-c.conf", "[pkguard]\naction = restart\n[package a]\nthen = warn\n");
	/* Not drop-ins: other suffixes, dotfiles, and the package manager's leftovers. */
	write_in(f->admin, "notes.txt", "garbage\n");
	write_in(f->admin, ".hidden.conf", "garbage\n");
	write_in(f->admin, "30-c.conf.dpkg-dist", "garbage\n");
	write_in(f->admin, "30-c.conf~", "garbage\n");

	assert_int_equal(pkguard_config_load(f->ctx, &paths, &cfg), 0);
	assert_int_equal(f->log.errors, 0);
	assert_int_equal(cfg->n_files, 5);
	assert_string_equal(cfg->files[0], f->main);
	snprintf(path, sizeof(path), "%s/10-a.conf", f->vendor);
	assert_string_equal(cfg->files[1], path);
	snprintf(path, sizeof(path), "%s/20-b.conf", f->admin);
	assert_string_equal(cfg->files[2], path);
	snprintf(path, sizeof(path), "%s/30-c.conf", f->admin);
	assert_string_equal(cfg->files[3], path);
	snprintf(path, sizeof(path), "%s/40-d.conf", f->vendor);
	assert_string_equal(cfg->files[4], path);

	/* The last [pkguard] read wins. */
	assert_int_equal(cfg->defaults.action, PKGUARD_ACTION_DEFER);
	assert_ptr_equal(cfg->defaults.action_origin.file, cfg->files[4]);
	assert_int_equal(cfg->defaults.action_origin.line, 2);

	assert_int_equal(pkguard_config_resolve(cfg, "b", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_ALLOW);
	assert_ptr_equal(pol.action_origin.file, cfg->files[2]);
	assert_int_equal(pol.action_origin.line, 3);
	pkguard_policy_release(&pol);

	/* Sections of two files combine for one package. */
	assert_int_equal(pkguard_config_resolve(cfg, "a", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_WAIT);
	assert_ptr_equal(pol.action_origin.file, cfg->files[1]);
	assert_int_equal(pol.then, PKGUARD_ACTION_WARN);
	assert_ptr_equal(pol.then_origin.file, cfg->files[3]);
	assert_int_equal(pol.then_origin.line, 4);
	pkguard_policy_release(&pol);
	pkguard_config_free(cfg);

	/* A trailing slash on a directory does not double it in names. */
	snprintf(path, sizeof(path), "%s/", f->admin);
	paths.admin_dir = path;
	assert_int_equal(pkguard_config_load(f->ctx, &paths, &cfg), 0);
	assert_non_null(strstr(cfg->files[2], "/admin/20-b.conf"));
	assert_null(strstr(cfg->files[2], "//"));
	pkguard_config_free(cfg);
}

static void test_resolve(void **state)
{
	static const char *const unmatched[] = {"python3-certbot-dns-9", "libcc", "Certbot", "",
						"xcertbot"};
	struct fixture *f = *state;
	struct pkguard_config *cfg;
	struct pkguard_policy pol;
	size_t i;

	cfg = load_text(f, "[pkguard]\n"			     /* 1 */
			   "action = warn\n"			     /* 2 */
			   "wait-timeout = 1m\n"		     /* 3 */
			   "\n"					     /* 4 */
			   "[package cert*]\n"			     /* 5 */
			   "action = wait\n"			     /* 6 */
			   "wait-timeout = 10m\n"		     /* 7 */
			   "lockfile = /run/a.lock\n"		     /* 8 */
			   "\n"					     /* 9 */
			   "[package   certbot\tpython3-certbot ]\n" /* 10 */
			   "then = warn\n"			     /* 11 */
			   "message = hello ; world\n"		     /* 12 */
			   "lockfile = /run/b.lock\n"		     /* 13 */
			   "lockfile = /run/a.lock\n"		     /* 14 */
			   "[package python3-certbot-dns-[a-z]*]\n"  /* 15 */
			   "action = block\n"			     /* 16 */
			   "[package other lib?]\n"		     /* 17 */
			   "action = defer\n"			     /* 18 */
			   "max-defer = 1d\n"			     /* 19 */
			   "lockfile = /run/c.lock\n"		     /* 20 */
			   "[package certbot]\n"		     /* 21 */
			   "message = stop it; then upgrade\n");     /* 22 */

	/* Two sections override the defaults key by key; lockfiles accumulate once. */
	assert_int_equal(pkguard_config_resolve(cfg, "certbot", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_WAIT);
	assert_ptr_equal(pol.action_origin.file, cfg->files[0]);
	assert_int_equal(pol.action_origin.line, 6);
	assert_int_equal(pol.then, PKGUARD_ACTION_WARN);
	assert_int_equal(pol.then_origin.line, 11);
	assert_int_equal(pol.helpers, PKGUARD_ACTION_WARN);
	assert_null(pol.helpers_origin.file);
	assert_true(pol.wait_timeout_ms == 10 * MIN_MS);
	assert_true(pol.max_defer_ms == 7 * DAY_MS);
	/* Inline comments start at " ;"; a ';' inside a word is text. */
	assert_string_equal(pol.message, "stop it; then upgrade");
	assert_int_equal(pol.n_lockfiles, 2);
	assert_string_equal(pol.lockfiles[0], "/run/a.lock");
	assert_string_equal(pol.lockfiles[1], "/run/b.lock");
	assert_string_equal(pol.section, "package certbot");
	pkguard_policy_release(&pol);
	assert_null(pol.lockfiles);
	assert_int_equal(pol.n_lockfiles, 0);

	assert_int_equal(pkguard_config_resolve(cfg, "python3-certbot", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_WARN);
	assert_int_equal(pol.action_origin.line, 2);
	assert_true(pol.wait_timeout_ms == MIN_MS);
	assert_string_equal(pol.message, "hello");
	assert_int_equal(pol.n_lockfiles, 2);
	assert_string_equal(pol.lockfiles[0], "/run/b.lock");
	assert_string_equal(pol.section, "package certbot python3-certbot");
	pkguard_policy_release(&pol);

	assert_int_equal(pkguard_config_resolve(cfg, "certbot-nginx", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_WAIT);
	assert_int_equal(pol.then, PKGUARD_ACTION_BLOCK);
	assert_null(pol.message);
	assert_int_equal(pol.n_lockfiles, 1);
	assert_string_equal(pol.section, "package cert*");
	pkguard_policy_release(&pol);

	assert_int_equal(pkguard_config_resolve(cfg, "python3-certbot-dns-ovh", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_BLOCK);
	assert_int_equal(pol.action_origin.line, 16);
	pkguard_policy_release(&pol);

	assert_int_equal(pkguard_config_resolve(cfg, "libc", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_DEFER);
	assert_true(pol.max_defer_ms == DAY_MS);
	assert_string_equal(pol.section, "package other lib?");
	pkguard_policy_release(&pol);

	/* No section matches: the [pkguard] values, no lockfiles, no section. */
	for (i = 0; i < N_ELEMS(unmatched); i++) {
		assert_int_equal(pkguard_config_resolve(cfg, unmatched[i], &pol), 0);
		assert_int_equal(pol.action, PKGUARD_ACTION_WARN);
		assert_ptr_equal(pol.action_origin.file, cfg->files[0]);
		assert_int_equal(pol.n_lockfiles, 0);
		assert_null(pol.lockfiles);
		assert_null(pol.message);
		assert_null(pol.section);
		pkguard_policy_release(&pol);
	}
	pkguard_config_free(cfg);
}

/* inih keeps 50 bytes of a section name: the whole header must count. */
static void test_long_section_header(void **state)
{
	struct fixture *f = *state;
	struct pkguard_config *cfg;
	struct pkguard_policy pol;

	cfg = load_text(f, "[package aaaaaaaaaaaa bbbbbbbbbbbb cccccccccccc dddddddddddd "
			   "eeeeeeeeeeee gentoo/category-pkg_name+x.y~z@w]\n"
			   "action = block\n");
	assert_int_equal(pkguard_config_resolve(cfg, "gentoo/category-pkg_name+x.y~z@w", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_BLOCK);
	assert_string_equal(pol.section, "package aaaaaaaaaaaa bbbbbbbbbbbb cccccccccccc "
					 "dddddddddddd eeeeeeeeeeee "
					 "gentoo/category-pkg_name+x.y~z@w");
	pkguard_policy_release(&pol);
	pkguard_config_free(cfg);
}

static void test_syntax_variants(void **state)
{
	struct fixture *f = *state;
	struct pkguard_config *cfg;
	struct pkguard_policy pol;

	/*
	 * CRLF endings are accepted (a file edited on Windows means the same),
	 * and a UTF-8 BOM at the start; line numbers count from the BOM's line.
	 */
	cfg = load_text(f, "\xef\xbb\xbf# policy\r\n"
			   "[package certbot] ; comment\r\n"
			   "  action: wait\r\n"
			   "message = hi there \r\n"
			   "lockfile = /run/a.lock\r\n"
			   "\r\n"
			   "[pkguard]\r\n"
			   "hold = no\r\n"
			   "deadline = 1m");
	assert_false(cfg->hold);
	assert_true(cfg->deadline_ms == MIN_MS);
	assert_int_equal(pkguard_config_resolve(cfg, "certbot", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_WAIT);
	assert_int_equal(pol.action_origin.line, 3);
	assert_string_equal(pol.message, "hi there");
	assert_string_equal(pol.lockfiles[0], "/run/a.lock");
	pkguard_policy_release(&pol);
	pkguard_config_free(cfg);

	/* The same header twice makes two sections: no duplicate, the later wins. */
	cfg = load_text(f, "[package a]\naction = wait\n[package a]\naction = block\n");
	assert_int_equal(pkguard_config_resolve(cfg, "a", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_BLOCK);
	assert_int_equal(pol.action_origin.line, 4);
	pkguard_policy_release(&pol);
	pkguard_config_free(cfg);

	/* A section ends what an indented line would continue; blank lines do not. */
	cfg = load_text(f, "[pkguard]\nhold = no\n[package a]\n\taction = wait\n");
	pkguard_config_free(cfg);
}

static void test_shipped_config(void **state)
{
	static const struct pkguard_config_paths shipped = {
		FIXTURES "/../../config/pkguard.conf",
		FIXTURES "/../../config/policy.d",
		NULL,
	};
	static const char *const certbot[] = {"certbot", "python3-certbot"};
	static const char *const lightning[] = {"c-lightning", "core-lightning", "lightningd"};
	struct fixture *f = *state;
	struct pkguard_config *cfg;
	struct pkguard_policy pol;
	size_t i;

	if (pkguard_config_load(f->ctx, &shipped, &cfg) != 0)
		fail_msg("%s", pkguard_ctx_errmsg(f->ctx));
	assert_int_equal(f->log.errors, 0);
	/* pkguard.conf states the built-in defaults. */
	assert_builtin_defaults(cfg);
	assert_ptr_equal(cfg->defaults.action_origin.file, cfg->files[0]);
	assert_int_equal(cfg->n_files, 3);

	for (i = 0; i < N_ELEMS(certbot); i++) {
		assert_int_equal(pkguard_config_resolve(cfg, certbot[i], &pol), 0);
		assert_int_equal(pol.action, PKGUARD_ACTION_WAIT);
		assert_true(pol.wait_timeout_ms == 10 * MIN_MS);
		assert_int_equal(pol.then, PKGUARD_ACTION_BLOCK);
		assert_int_equal(pol.n_lockfiles, 3);
		assert_string_equal(pol.lockfiles[0], "/etc/letsencrypt/.certbot.lock");
		assert_string_equal(pol.lockfiles[1], "/var/lib/letsencrypt/.certbot.lock");
		assert_string_equal(pol.lockfiles[2], "/var/log/letsencrypt/.certbot.lock");
		assert_string_equal(pol.section, "package certbot python3-certbot");
		assert_non_null(strstr(pol.action_origin.file, "policy.d/certbot.conf"));
		pkguard_policy_release(&pol);
	}
	for (i = 0; i < N_ELEMS(lightning); i++) {
		assert_int_equal(pkguard_config_resolve(cfg, lightning[i], &pol), 0);
		assert_int_equal(pol.action, PKGUARD_ACTION_DEFER);
		assert_int_equal(pol.helpers, PKGUARD_ACTION_DEFER);
		assert_non_null(pol.message);
		assert_non_null(strstr(pol.message, "stop lightningd"));
		assert_int_equal(pol.n_lockfiles, 0);
		pkguard_policy_release(&pol);
	}

	assert_int_equal(pkguard_config_resolve(cfg, "openssh-server", &pol), 0);
	assert_int_equal(pol.action, PKGUARD_ACTION_WARN);
	assert_null(pol.section);
	pkguard_policy_release(&pol);
	pkguard_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_durations),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_global_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_name_file_and_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_errors_are_logged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_dropins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropins_shadow_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_section_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax_variants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shipped_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
