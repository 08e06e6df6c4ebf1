/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests: the /proc parsers on literal strings, and the scanner on the
 * fixture tree tests/fixtures/proc/basic. The fixture's maps files name files
 * of tests/fixtures/root as "@ID:/path@"; the test copies the tree and puts in
 * their real "MAJ:MIN INO" (identities only exist once checked out), and turns
 * each "exe.target" into the "exe" symlink the kernel would show.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "pkguard/detect.h"
#include "pkguard/proc.h"

static char procdir[256];

static struct pkguard_maps_entry maps_ok(const char *line)
{
	struct pkguard_maps_entry e;

	assert_int_equal(pkguard_maps_parse(line, strlen(line), &e), 0);
	return e;
}

static void assert_label(const struct pkguard_maps_entry *e, const char *want)
{
	assert_int_equal(e->label_len, strlen(want));
	assert_memory_equal(e->label, want, e->label_len);
}

static void test_maps_lines(void **state)
{
	struct pkguard_maps_entry e;

	e = maps_ok("7f3e00000000-7f3e00002000 r--s 00000000 fe:00 10979853            "
		    "/tmp/back\\slash");
	assert_true(e.start == 0x7f3e00000000ull && e.end == 0x7f3e00002000ull);
	assert_true(e.dev == makedev(0xfe, 0));
	assert_int_equal(e.ino, 10979853);
	assert_label(&e, "/tmp/back\\slash");
	assert_int_equal(e.range_len, strlen("7f3e00000000-7f3e00002000"));

	/* A newline in a name is "\012", ambiguous with a file named so: a label, never decoded. */
	e = maps_ok("1000-2000 r-xp 00000000 08:01 42   /tmp/a\\012fake 1000-2000 r-xp 0 08:01 7 "
		    "/bin/ls");
	assert_int_equal(e.ino, 42);
	assert_label(&e, "/tmp/a\\012fake 1000-2000 r-xp 0 08:01 7 /bin/ls");

	/* A live file literally named "x (deleted)". */
	e = maps_ok("1000-2000 r--p 00000000 08:01 43   /srv/x (deleted)");
	assert_label(&e, "/srv/x (deleted)");

	e = maps_ok("55d5c000-55d7d000 rw-p 00000000 00:00 0                          [heap]");
	assert_int_equal(e.ino, 0);
	assert_label(&e, "[heap]");

	e = maps_ok(
		"7f00-7f01 rw-s 00000000 00:01 4242                       /memfd:foo (deleted)");
	assert_true(e.dev == makedev(0, 1));
	assert_label(&e, "/memfd:foo (deleted)");

	/* Minors above 0xff print more digits; majors too. */
	e = maps_ok("1000-2000 r--p 00000000 103:1a2 55   /mnt/file");
	assert_true(e.dev == makedev(0x103, 0x1a2));

	/* Trailing spaces belong to the name. */
	e = maps_ok("1000-2000 r--p 00000000 08:01 44   /srv/trailing  ");
	assert_label(&e, "/srv/trailing  ");

	/* Anonymous mapping without any path text. */
	e = maps_ok("1000-2000 rw-p 00000000 00:00 0 ");
	assert_int_equal(e.label_len, 0);
	e = maps_ok("1000-2000 rw-p 00000000 00:00 0");
	assert_int_equal(e.label_len, 0);
}

static void test_maps_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage",
		"1000 r--p 00000000 08:01 1 /x",
		"1000-2000",
		"1000-2000 r--p 00000000 0801 1 /x",
		"1000-2000 r--p 00000000 08:01 x /x",
		"1000-2000 r--p 00000000 08:01 1x /x",
		"1000-2000 r--p 00000000 zz:01 1 /x",
		"1000-2000 r--p 00000000 08:01 99999999999999999999999 /x",
	};
	struct pkguard_maps_entry e;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pkguard_maps_parse(bad[i], strlen(bad[i]), &e) != -PKGUARD_EPARSE)
			fail_msg("accepted malformed maps line '%s'", bad[i]);
	}
}

static void test_stat(void **state)
{
	static const char text[] = "4242 (a) b (c) d) R 1 4242 4242 0 -1 4194560 10 0 0 0 5 6 0 0 "
				   "20 0 1 0 987654 1000 10 18446744073709551615 1\n";
	struct pkguard_stat st;

	assert_int_equal(pkguard_stat_parse(text, sizeof(text) - 1, &st), 0);
	assert_string_equal(st.comm, "a) b (c) d");
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.flags, 4194560);
	assert_int_equal(st.start_time, 987654);

	assert_int_equal(pkguard_stat_parse("1 (x) S 1 2", 11, &st), -PKGUARD_EPARSE);
	assert_int_equal(pkguard_stat_parse("1 x S", 5, &st), -PKGUARD_EPARSE);
	assert_int_equal(pkguard_stat_parse("", 0, &st), -PKGUARD_EPARSE);
}

static void test_status(void **state)
{
	static const char text[] =
		"Name:\tx\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
	uid_t uid, euid;

	assert_int_equal(pkguard_status_uids(text, sizeof(text) - 1, &uid, &euid), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(euid, 0);
	assert_int_equal(pkguard_status_uids("Name:\tx\n", 8, &uid, &euid), -PKGUARD_EPARSE);
}

static void check_unit(const char *text, int rc_want, const char *want)
{
	char unit[128] = "";

	assert_int_equal(pkguard_cgroup_unit(text, strlen(text), unit, sizeof(unit)), rc_want);
	if (rc_want == 1)
		assert_string_equal(unit, want);
}

static void test_cgroup(void **state)
{
	/* cgroup v2 */
	check_unit("0::/system.slice/nginx.service\n", 1, "nginx.service");
	check_unit("0::/system.slice/docker.service/sub/cgroup\n", 1, "docker.service");
	check_unit("0::/user.slice/user-1000.slice/session-3.scope\n", 1, "session-3.scope");
	check_unit("0::/init.scope\n", 1, "init.scope");
	/* A user's delegated subtree cannot pass for a system service. */
	check_unit("0::/user.slice/user-1000.slice/user@1000.service/system.slice/sshd.service\n",
		   1, "user@1000.service");
	check_unit("0::/\n", 0, NULL);
	check_unit("0::/guardtest-deleg/system.slice/sshd.service\n", 0, NULL);
	/* cgroup v1 with systemd */
	check_unit(
		"11:memory:/system.slice/cron.service\n1:name=systemd:/system.slice/cron.service\n",
		1, "cron.service");
	/* hybrid: the unified line is "/" when systemd runs the v1 hierarchy */
	check_unit("12:memory:/\n1:name=systemd:/system.slice/ssh.service\n0::/\n", 1,
		   "ssh.service");
	/* no systemd at all (this build machine: pid 1 is not systemd) */
	check_unit("12:memory:/process_api/x\n0::/\n", 0, NULL);
	check_unit("no colons here\n", -PKGUARD_EPARSE, NULL);
}

static void check_unit_up(const char *unified, const char *systemd, int rc_want, const char *want)
{
	char unit[128] = "";

	assert_int_equal(pkguard_cgroup_unit_up(unified, systemd, unit, sizeof(unit)), rc_want);
	if (rc_want == 1)
		assert_string_equal(unit, want);
}

/* The same cgroups as the BPF iterator writes them: names from the cgroup up, each with a '/'. */
static void test_cgroup_up(void **state)
{
	char deep[300];

	(void)state;
	check_unit_up("nginx.service/system.slice/", "", 1, "nginx.service");
	check_unit_up("cgroup/sub/docker.service/system.slice/", "", 1, "docker.service");
	check_unit_up("init.scope/", "", 1, "init.scope");
	check_unit_up("sshd.service/system.slice/user@1000.service/user-1000.slice/user.slice/", "",
		      1, "user@1000.service");
	check_unit_up("", "", 0, NULL);
	check_unit_up("sshd.service/system.slice/guardtest-deleg/", "", 0, NULL);
	/* v1 with systemd, and hybrid: the unified cgroup is the root */
	check_unit_up("", "cron.service/system.slice/", 1, "cron.service");
	check_unit_up("x/process_api/", "ssh.service/system.slice/", 1, "ssh.service");
	check_unit_up("x/process_api/", "", 0, NULL);
	/* Deeper than the iterator reads: cannot say, /proc must. */
	check_unit_up("d/c/a.service/!", "", -PKGUARD_EPARSE, NULL);
	check_unit_up("", "d/c/!", -PKGUARD_EPARSE, NULL);
	/* A unit name too long for the table: none, as pkguard_cgroup_unit() has it. */
	memset(deep, 'u', sizeof(deep));
	memcpy(deep + 200, ".service/system.slice/", 23);
	check_unit_up(deep, "", 0, NULL);
	check_unit_up(deep, "cron.service/", 1, "cron.service");
}

/* --- the scanner on the fixture tree --- */

static void id_of(const char *path, char *out, size_t size)
{
	char full[PATH_MAX];
	struct stat st;

	snprintf(full, sizeof(full), "%s/root%s", FIXTURES, path);
	if (stat(full, &st) < 0)
		fail_msg("cannot stat fixture '%s'", full);
	snprintf(out, size, "%02x:%02x %lu", major(st.st_dev), minor(st.st_dev),
		 (unsigned long)st.st_ino);
}

/* Copy SRC to DST, replacing "@ID:/path@" with the identity of the fixture file. */
static void copy_template(const char *src, const char *dst)
{
	char line[4096], out[8192];
	FILE *in = fopen(src, "r"), *o = fopen(dst, "w");

	assert_non_null(in);
	assert_non_null(o);
	while (fgets(line, sizeof(line), in)) {
		char *p = line, *q = out, *tok;

		while ((tok = strstr(p, "@ID:"))) {
			char *end = strchr(tok + 4, '@');
			char path[1024], id[64];

			assert_non_null(end);
			memcpy(q, p, (size_t)(tok - p));
			q += tok - p;
			snprintf(path, sizeof(path), "%.*s", (int)(end - tok - 4), tok + 4);
			id_of(path, id, sizeof(id));
			q += sprintf(q, "%s", id);
			p = end + 1;
		}
		strcpy(q, p);
		fputs(out, o);
	}
	fclose(in);
	fclose(o);
}

static void copy_tree(const char *src, const char *dst)
{
	struct dirent *de;
	DIR *d = opendir(src);

	assert_non_null(d);
	mkdir(dst, 0755);
	while ((de = readdir(d))) {
		char s[PATH_MAX], t[PATH_MAX];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
		snprintf(t, sizeof(t), "%s/%s", dst, de->d_name);
		assert_int_equal(lstat(s, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			copy_tree(s, t);
		} else if (strcmp(de->d_name, "exe.target") == 0) {
			char target[PATH_MAX], rel[512] = "";
			FILE *f = fopen(s, "r");

			assert_non_null(f);
			assert_non_null(fgets(rel, sizeof(rel), f));
			fclose(f);
			rel[strcspn(rel, "\n")] = '\0';
			snprintf(target, sizeof(target), "%s/root%s", FIXTURES, rel);
			snprintf(t, sizeof(t), "%s/exe", dst);
			assert_int_equal(symlink(target, t), 0);
		} else {
			copy_template(s, t);
		}
	}
	closedir(d);
}

static int setup_tree(void **state)
{
	char path[PATH_MAX];

	snprintf(procdir, sizeof(procdir), "/tmp/pkguard-proc-XXXXXX");
	if (!mkdtemp(procdir))
		return -1;
	snprintf(path, sizeof(path), "%s/proc/basic", FIXTURES);
	copy_tree(path, procdir);
	/* 100 shares the scanner's mount namespace, 101 has another one. */
	snprintf(path, sizeof(path), "%s/100/ns", procdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/100/ns/mnt", procdir);
	if (symlink("../../self/ns/mnt", path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/101/ns", procdir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/101/ns/mnt", procdir);
	return close(open(path, O_CREAT | O_WRONLY, 0644));
}

static int teardown_tree(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", procdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct pkguard_ctx *fixture_ctx(void)
{
	struct pkguard_ctx *ctx;
	char root[PATH_MAX];

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	snprintf(root, sizeof(root), "%s/root", FIXTURES);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	assert_int_equal(pkguard_ctx_set_proc(ctx, procdir), 0);
	return ctx;
}

static const struct pkguard_finding *find(const struct pkguard_findings *f,
					  const struct pkguard_proctab *tab, pid_t pid,
					  enum pkguard_reason reason, const char *path)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		const struct pkguard_finding *x = &f->items[i];

		if (tab->procs[x->proc].pid == pid && x->reason == reason &&
		    (!path || strcmp(x->file->path, path) == 0))
			return x;
	}
	return NULL;
}

static void test_scan_fixture_for_targets(void **state)
{
	static const char *const files[] = {"/usr/bin/demo", "/usr/lib/libdemo.so.1",
					    "/usr/libexec/demo/helper", "/usr/lib/x (deleted)"};
	struct pkguard_ctx *ctx = fixture_ctx();
	struct pkguard_scan_opts opts = {0};
	struct pkguard_findings *f;
	struct pkguard_proctab *tab;
	struct pkguard_fileset *fs;
	const struct pkguard_proc *p;
	size_t t, i;

	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "demo", NULL, "1", "2", &t), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pkguard_fileset_add_path(fs, t, files[i]), 0);
	opts.want = fs;
	assert_int_equal(pkguard_proc_scan(ctx, &opts, &tab), 0);

	/* 200 is a kernel thread: not even counted. 300 vanished, 400 is a zombie. */
	assert_int_equal(tab->n_scanned, 4);
	assert_int_equal(tab->n_gone, 1);
	assert_null(pkguard_proctab_find(tab, 200));
	assert_null(pkguard_proctab_find(tab, 300));
	assert_null(pkguard_proctab_find(tab, 400));

	p = pkguard_proctab_find(tab, 100);
	assert_non_null(p);
	assert_string_equal(p->comm, "demo) (x y");
	assert_int_equal(p->start_time, 123456);
	assert_int_equal(p->uid, 0);
	assert_string_equal(p->unit, "demo.service");
	assert_false(p->other_mntns);
	/* exe once (not again as a map), libdemo once despite two segments. */
	assert_int_equal(p->n_uses, 2);

	p = pkguard_proctab_find(tab, 101);
	assert_non_null(p);
	assert_int_equal(p->uid, 1000);
	assert_string_equal(p->unit, "session-3.scope");
	assert_true(p->other_mntns);
	assert_int_equal(p->n_uses, 1);

	assert_int_equal(pkguard_detect(ctx, fs, tab, &f), 0);
	assert_int_equal(f->n, 3);
	assert_non_null(find(f, tab, 100, PKGUARD_REASON_EXE, "/usr/bin/demo"));
	assert_non_null(find(f, tab, 100, PKGUARD_REASON_MAP, "/usr/lib/libdemo.so.1"));
	/* Matched by identity, whatever " (deleted)" the name says. */
	assert_non_null(find(f, tab, 101, PKGUARD_REASON_MAP, "/usr/lib/x (deleted)"));
	/* The fake line inside the \012 name frames no one with libdemo. */
	assert_null(find(f, tab, 101, PKGUARD_REASON_MAP, "/usr/lib/libdemo.so.1"));

	pkguard_findings_free(f);
	pkguard_proctab_free(tab);
	pkguard_fileset_free(fs);
	pkguard_ctx_free(ctx);
}

static const struct pkguard_seen *seen_label(const struct pkguard_proctab *tab, const char *label)
{
	size_t i;

	for (i = 0; i < tab->n_seen; i++) {
		if (strcmp(tab->seen[i].label, label) == 0)
			return &tab->seen[i];
	}
	return NULL;
}

/* Without a fileset every file-backed use is kept, each distinct file once. */
static void test_scan_fixture_all(void **state)
{
	struct pkguard_ctx *ctx = fixture_ctx();
	struct pkguard_scan_opts opts = {0};
	struct pkguard_proctab *tab;
	const struct pkguard_seen *s;

	assert_int_equal(pkguard_proc_scan(ctx, &opts, &tab), 0);
	assert_non_null(pkguard_proctab_find(tab, 100));
	assert_non_null(pkguard_proctab_find(tab, 101));
	/* demo, libdemo, memfd (100); other, x (deleted), the \012 one, the big minor (101). */
	assert_int_equal(tab->n_seen, 7);
	s = seen_label(tab, "/usr/lib/libdemo.so.1");
	assert_non_null(s);
	assert_int_equal(s->n_procs, 1);
	assert_true(s->start == 0x7f0000000000ull);
	s = seen_label(tab, "/mnt/big minor/file with trailing space ");
	assert_non_null(s);
	assert_true(s->id.dev == makedev(0x103, 0x1a2));
	assert_int_equal(s->id.ino, 55);
	assert_non_null(seen_label(tab, "/memfd:foo (deleted)"));
	assert_null(seen_label(tab, "[heap]"));
	pkguard_proctab_free(tab);
	pkguard_ctx_free(ctx);
}

/* A /proc that cannot be listed fails with ENOPROC; a passed deadline stops the scan. */
/* Two threads give the very table one gives: the same processes, uses and files, in order. */
static void assert_same_tables(const struct pkguard_proctab *a, const struct pkguard_proctab *b)
{
	size_t i;

	assert_int_equal(a->n_procs, b->n_procs);
	assert_int_equal(a->n_uses, b->n_uses);
	assert_int_equal(a->n_seen, b->n_seen);
	assert_int_equal(a->n_scanned, b->n_scanned);
	assert_int_equal(a->n_maps, b->n_maps);
	assert_int_equal(a->n_gone, b->n_gone);
	for (i = 0; i < a->n_procs; i++) {
		assert_int_equal(a->procs[i].pid, b->procs[i].pid);
		assert_int_equal(a->procs[i].start_time, b->procs[i].start_time);
		assert_int_equal(a->procs[i].state, b->procs[i].state);
		assert_int_equal(a->procs[i].first_use, b->procs[i].first_use);
		assert_int_equal(a->procs[i].n_uses, b->procs[i].n_uses);
		assert_string_equal(a->procs[i].unit, b->procs[i].unit);
	}
	for (i = 0; i < a->n_uses; i++) {
		assert_int_equal(a->uses[i].seen, b->uses[i].seen);
		assert_int_equal(a->uses[i].kind, b->uses[i].kind);
	}
	for (i = 0; i < a->n_seen; i++) {
		assert_true(a->seen[i].id.dev == b->seen[i].id.dev);
		assert_true(a->seen[i].id.ino == b->seen[i].id.ino);
		assert_string_equal(a->seen[i].label, b->seen[i].label);
		assert_int_equal(a->seen[i].pid, b->seen[i].pid);
		assert_true(a->seen[i].start == b->seen[i].start);
		assert_int_equal(a->seen[i].n_procs, b->seen[i].n_procs);
	}
}

static void test_scan_fixture_threads(void **state)
{
	struct pkguard_ctx *ctx = fixture_ctx();
	struct pkguard_scan_opts one = {.threads = 1}, two = {.threads = 2};
	struct pkguard_proctab *a, *b;
	int round;

	/* Which thread takes which process varies from run to run; the merge must not. */
	for (round = 0; round < 20; round++) {
		assert_int_equal(pkguard_proc_scan(ctx, &one, &a), 0);
		assert_int_equal(pkguard_proc_scan(ctx, &two, &b), 0);
		assert_true(a->n_procs >= 2);
		assert_same_tables(a, b);
		pkguard_proctab_free(a);
		pkguard_proctab_free(b);
	}
	pkguard_ctx_free(ctx);
}

static void test_scan_errors(void **state)
{
	struct pkguard_ctx *ctx = fixture_ctx();
	struct pkguard_scan_opts opts = {0};
	struct pkguard_proctab *tab;

	pkguard_ctx_set_deadline(ctx, pkguard_now_ns() - 1);
	assert_int_equal(pkguard_proc_scan(ctx, &opts, &tab), -PKGUARD_EDEADLINE);
	assert_null(tab);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "deadline"));
	pkguard_ctx_free(ctx);
}

/* The live /proc: this very process is found running its own executable. */
static void test_scan_live_self(void **state)
{
	struct pkguard_scan_opts opts = {0};
	struct pkguard_proctab *tab;
	struct pkguard_ctx *ctx;
	const struct pkguard_proc *p;
	struct stat st;
	size_t u;
	bool exe = false;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(stat("/proc/self/exe", &st), 0);
	assert_int_equal(pkguard_proc_scan(ctx, &opts, &tab), 0);
	p = pkguard_proctab_find(tab, getpid());
	assert_non_null(p);
	assert_int_equal(p->state, PKGUARD_PROC_OK);
	assert_int_equal(p->uid, getuid());
	for (u = p->first_use; u < p->first_use + p->n_uses; u++) {
		const struct pkguard_seen *s = &tab->seen[tab->uses[u].seen];

		if (tab->uses[u].kind == PKGUARD_USE_EXE && s->id.ino == st.st_ino &&
		    s->id.dev == st.st_dev)
			exe = true;
	}
	assert_true(exe);
	pkguard_proctab_free(tab);
	pkguard_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_lines),
		cmocka_unit_test(test_maps_malformed),
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_cgroup),
		cmocka_unit_test(test_cgroup_up),
		cmocka_unit_test_setup_teardown(test_scan_fixture_for_targets, setup_tree,
						teardown_tree),
		cmocka_unit_test_setup_teardown(test_scan_fixture_all, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_scan_fixture_threads, setup_tree,
						teardown_tree),
		cmocka_unit_test_setup_teardown(test_scan_errors, setup_tree, teardown_tree),
		cmocka_unit_test(test_scan_live_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
