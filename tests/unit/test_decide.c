/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests: the decision function, table-driven. Each case is a config
 * text, the processes and their findings, and what the state knows; the
 * findings are built by hand (no /proc), the files they point at too, so a
 * lockfile's owner and mode are whatever the case says.
 */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pkguard/decide.h"

static char root[256];

static void mkfile(const char *rel, mode_t mode)
{
	char path[512], *slash;
	int fd;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	fd = open(path, O_CREAT | O_WRONLY, mode);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/pkguard-decide-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	mkfile("/usr/bin/demo", 0755);
	mkfile("/usr/libexec/demo/helper", 0755);
	mkfile("/usr/bin/plain", 0755);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* Files a finding can point at. */
enum file_kind {
	F_EXE,		/* the package's binary */
	F_LOCK_TRUSTED, /* a policy lockfile, root's, 0600 */
	F_LOCK_OPEN,	/* a policy lockfile, root's, 0666 */
	F_LOCK_USER,	/* a policy lockfile owned by a user */
	F_PKGFILE,	/* a package file, 0644: anyone can lock it */
};

static const struct pkguard_file files[] = {
	[F_EXE] = {"/usr/bin/demo", 0, {1, 1}, S_IFREG | 0755, 0, PKGUARD_FILE_EXEC},
	[F_LOCK_TRUSTED] = {"/run/demo/.lock", 0, {1, 2}, S_IFREG | 0600, 0, PKGUARD_FILE_LOCKFILE},
	[F_LOCK_OPEN] = {"/run/demo/.lock", 0, {1, 3}, S_IFREG | 0666, 0, PKGUARD_FILE_LOCKFILE},
	[F_LOCK_USER] = {"/run/demo/.lock", 0, {1, 4}, S_IFREG | 0600, 1000, PKGUARD_FILE_LOCKFILE},
	[F_PKGFILE] = {"/usr/share/demo/data", 0, {1, 5}, S_IFREG | 0644, 0, 0},
};

struct finding_spec {
	uid_t uid, euid;
	enum pkguard_reason reason;
	enum file_kind file;
};

struct decide_case {
	const char *name;
	const char *config;
	bool helpers; /* the target is "demo", which ships a helper; else "plain" */
	struct finding_spec findings[3];
	size_t n_findings;
	bool override;
	int64_t deferred_days_ago; /* 0: not deferred */
	enum pkguard_action want;
	enum pkguard_why why;
	unsigned origin_line; /* 0: the built-in default */
};

#define EXE(uid)                                                                                   \
	{                                                                                          \
		uid, uid, PKGUARD_REASON_EXE, F_EXE                                                \
	}
#define MAP(uid)                                                                                   \
	{                                                                                          \
		uid, uid, PKGUARD_REASON_MAP, F_EXE                                                \
	}
#define LOCK(uid, f)                                                                               \
	{                                                                                          \
		uid, uid, PKGUARD_REASON_LOCK, f                                                   \
	}

static const struct decide_case cases[] = {
	{"nothing in use",
	 "",
	 true,
	 {{0}},
	 0,
	 false,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_NOT_IN_USE,
	 0},
	{"default is warn",
	 "",
	 false,
	 {EXE(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_WARN,
	 PKGUARD_WHY_IN_USE,
	 0},
	{"every action from a package section (allow)",
	 "[package plain]\naction = allow\n",
	 false,
	 {EXE(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"wait",
	 "[package plain]\naction = wait\n",
	 false,
	 {EXE(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_WAIT,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"restart",
	 "[package plain]\naction = restart\n",
	 false,
	 {EXE(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_RESTART,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"defer",
	 "[package plain]\naction = defer\n",
	 false,
	 {EXE(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_DEFER,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"block, from a glob",
	 "# a comment\n[package pl*]\naction = block\n",
	 false,
	 {EXE(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_BLOCK,
	 PKGUARD_WHY_IN_USE,
	 3},
	{"global action",
	 "[pkguard]\naction = block\n",
	 false,
	 {MAP(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_BLOCK,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"helpers escalate an instance",
	 "[pkguard]\nhelpers = defer\n",
	 true,
	 {EXE(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_DEFER,
	 PKGUARD_WHY_HELPERS,
	 2},
	{"helpers need an instance, not a user",
	 "[pkguard]\nhelpers = block\n",
	 true,
	 {MAP(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_WARN,
	 PKGUARD_WHY_IN_USE,
	 0},
	{"helpers never lower an action",
	 "[pkguard]\naction = block\nhelpers = defer\n",
	 true,
	 {EXE(0)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_BLOCK,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"an unprivileged user's instance is ignored",
	 "[pkguard]\naction = block\n",
	 false,
	 {EXE(1000)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_NOT_IN_USE,
	 0},
	{"... or warns with unprivileged = warn",
	 "[pkguard]\naction = block\nunprivileged = warn\n",
	 false,
	 {EXE(1000)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_WARN,
	 PKGUARD_WHY_UNPRIVILEGED,
	 0},
	{"a setuid-root process is not unprivileged",
	 "[pkguard]\naction = block\n",
	 false,
	 {{1000, 0, PKGUARD_REASON_EXE, F_EXE}},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_BLOCK,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"system-uid-max moves the line",
	 "[pkguard]\naction = block\nsystem-uid-max = 1000\n",
	 false,
	 {EXE(1000)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_BLOCK,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"a trusted lockfile's lock counts",
	 "[package plain]\naction = wait\n",
	 false,
	 {LOCK(0, F_LOCK_TRUSTED)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_WAIT,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"a lock on a package file does not",
	 "[package plain]\naction = block\n",
	 false,
	 {LOCK(0, F_PKGFILE)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_NOT_IN_USE,
	 0},
	{"nor one on a lockfile others may write",
	 "[package plain]\naction = block\n",
	 false,
	 {LOCK(0, F_LOCK_OPEN)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_NOT_IN_USE,
	 0},
	{"nor one on a user's lockfile",
	 "[package plain]\naction = block\n",
	 false,
	 {LOCK(0, F_LOCK_USER)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_NOT_IN_USE,
	 0},
	{"a user's lock on a trusted lockfile neither",
	 "[package plain]\naction = block\n",
	 false,
	 {LOCK(1000, F_LOCK_TRUSTED)},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_NOT_IN_USE,
	 0},
	{"an override wins",
	 "[package plain]\naction = block\n",
	 false,
	 {EXE(0)},
	 1,
	 true,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_OVERRIDE,
	 0},
	{"a young deferral stays",
	 "[package plain]\naction = defer\nmax-defer = 7d\n",
	 false,
	 {EXE(0)},
	 1,
	 false,
	 1,
	 PKGUARD_ACTION_DEFER,
	 PKGUARD_WHY_IN_USE,
	 2},
	{"an old deferral is released",
	 "[package plain]\naction = defer\nmax-defer = 7d\n",
	 false,
	 {EXE(0)},
	 1,
	 false,
	 8,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_DEFER_EXPIRED,
	 0},
	{"a vanished process is ignored",
	 "[pkguard]\naction = block\n",
	 false,
	 {{0, 0, PKGUARD_REASON_GONE, F_EXE}},
	 1,
	 false,
	 0,
	 PKGUARD_ACTION_ALLOW,
	 PKGUARD_WHY_NOT_IN_USE,
	 0},
};

static struct pkguard_config *load(struct pkguard_ctx *ctx, const char *text)
{
	struct pkguard_config_paths paths = {NULL, NULL, NULL};
	struct pkguard_config *cfg;
	char path[] = "/tmp/pkguard-decide-conf-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	paths.main = path;
	if (pkguard_config_load(ctx, &paths, &cfg) < 0)
		fail_msg("config: %s", pkguard_ctx_errmsg(ctx));
	unlink(path);
	return cfg;
}

/* One target, hand-made processes and findings, then pkguard_decide(). */
static void run_case(const struct decide_case *c)
{
	struct pkguard_proc procs[3];
	struct pkguard_finding items[3];
	struct pkguard_findings findings = {items, c->n_findings};
	struct pkguard_proctab tab = {0};
	struct pkguard_target_state st = {c->override, 0};
	struct pkguard_decisions *d;
	struct pkguard_fileset *fs;
	struct pkguard_config *cfg;
	struct pkguard_ctx *ctx;
	int64_t now = 1800000000;
	size_t t, i;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	cfg = load(ctx, c->config);
	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(
		pkguard_fileset_add_target(fs, c->helpers ? "demo" : "plain", NULL, "1", "2", &t),
		0);
	assert_int_equal(
		pkguard_fileset_add_path(fs, t, c->helpers ? "/usr/bin/demo" : "/usr/bin/plain"),
		0);
	if (c->helpers)
		assert_int_equal(pkguard_fileset_add_path(fs, t, "/usr/libexec/demo/helper"), 0);
	for (i = 0; i < c->n_findings; i++) {
		memset(&procs[i], 0, sizeof(procs[i]));
		procs[i].pid = (pid_t)(100 + i);
		procs[i].uid = c->findings[i].uid;
		procs[i].euid = c->findings[i].euid;
		if (c->findings[i].reason == PKGUARD_REASON_GONE)
			procs[i].state = PKGUARD_PROC_GONE;
		items[i] = (struct pkguard_finding){t, i, c->findings[i].reason,
						    &files[c->findings[i].file], NULL};
	}
	tab.procs = procs;
	tab.n_procs = c->n_findings;
	if (c->deferred_days_ago)
		st.deferred_since = now - c->deferred_days_ago * 86400;

	assert_int_equal(pkguard_decide(ctx, cfg, fs, &tab, &findings, &st, now, &d), 0);
	if (d->items[0].action != c->want || d->items[0].why != c->why)
		fail_msg("%s: got %s (%s), want %s (%s)", c->name,
			 pkguard_action_name(d->items[0].action), pkguard_why_name(d->items[0].why),
			 pkguard_action_name(c->want), pkguard_why_name(c->why));
	if (d->items[0].origin.line != c->origin_line)
		fail_msg("%s: origin line %u, want %u", c->name, d->items[0].origin.line,
			 c->origin_line);
	assert_int_equal(d->verdict, c->want);
	pkguard_decisions_free(d);
	pkguard_fileset_free(fs);
	pkguard_config_free(cfg);
	pkguard_ctx_free(ctx);
}

static void test_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* An unreadable process counts for every target, per `denied`. */
static void test_denied(void **state)
{
	static const struct {
		const char *config;
		enum pkguard_action want;
	} denied[] = {
		{"[pkguard]\naction = block\n", PKGUARD_ACTION_BLOCK},
		{"[pkguard]\naction = block\ndenied = warn\n", PKGUARD_ACTION_WARN},
		{"[pkguard]\naction = block\ndenied = ignore\n", PKGUARD_ACTION_ALLOW},
	};
	struct pkguard_proc proc = {.pid = 7, .state = PKGUARD_PROC_DENIED};
	struct pkguard_finding item = {PKGUARD_TARGET_ANY, 0, PKGUARD_REASON_DENIED, NULL, NULL};
	struct pkguard_findings findings = {&item, 1};
	struct pkguard_proctab tab = {0};
	struct pkguard_decisions *d;
	struct pkguard_fileset *fs;
	struct pkguard_ctx *ctx;
	size_t i, a, b;

	tab.procs = &proc;
	tab.n_procs = 1;
	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "a", NULL, NULL, NULL, &a), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "b", NULL, NULL, NULL, &b), 0);
	for (i = 0; i < 3; i++) {
		struct pkguard_config *cfg = load(ctx, denied[i].config);

		assert_int_equal(pkguard_decide(ctx, cfg, fs, &tab, &findings, NULL, 0, &d), 0);
		assert_int_equal(d->items[a].action, denied[i].want);
		assert_int_equal(d->items[b].action, denied[i].want);
		if (denied[i].want != PKGUARD_ACTION_ALLOW)
			assert_int_equal(d->items[a].why, PKGUARD_WHY_DENIED);
		pkguard_decisions_free(d);
		pkguard_config_free(cfg);
	}
	pkguard_fileset_free(fs);
	pkguard_ctx_free(ctx);
}

/* `then` and the wait timeout come through; the verdict is the strictest target's. */
static void test_then_and_verdict(void **state)
{
	struct pkguard_proc procs[2] = {{.pid = 1}, {.pid = 2}};
	struct pkguard_finding items[2];
	struct pkguard_findings findings = {items, 2};
	struct pkguard_proctab tab = {0};
	struct pkguard_decisions *d;
	struct pkguard_fileset *fs;
	struct pkguard_config *cfg;
	struct pkguard_ctx *ctx;
	size_t a, b;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	cfg = load(ctx, "[package a]\naction = wait\nthen = defer\nwait-timeout = 90s\n"
			"[package b]\naction = restart\n");
	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "a", NULL, NULL, NULL, &a), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "b", NULL, NULL, NULL, &b), 0);
	items[0] = (struct pkguard_finding){a, 0, PKGUARD_REASON_EXE, &files[F_EXE], NULL};
	items[1] = (struct pkguard_finding){b, 1, PKGUARD_REASON_EXE, &files[F_EXE], NULL};
	tab.procs = procs;
	tab.n_procs = 2;
	assert_int_equal(pkguard_decide(ctx, cfg, fs, &tab, &findings, NULL, 0, &d), 0);
	assert_int_equal(d->items[a].action, PKGUARD_ACTION_WAIT);
	assert_int_equal(d->items[a].policy.then, PKGUARD_ACTION_DEFER);
	assert_int_equal(d->items[a].policy.wait_timeout_ms, 90000);
	assert_int_equal(d->items[b].action, PKGUARD_ACTION_RESTART);
	assert_int_equal(d->items[b].policy.then, PKGUARD_ACTION_BLOCK);
	assert_int_equal(d->verdict, PKGUARD_ACTION_RESTART);
	assert_true(d->counts[0] && d->counts[1]);
	assert_null(pkguard_finding_note(cfg, &items[0], &procs[0]));
	pkguard_decisions_free(d);
	pkguard_fileset_free(fs);
	pkguard_config_free(cfg);
	pkguard_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_denied),
		cmocka_unit_test(test_then_and_verdict),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
