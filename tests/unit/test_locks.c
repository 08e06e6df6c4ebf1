/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: /proc/locks and fdinfo parsing on literal text, and the lockfile probe. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pkguard/locks.h"

static struct pkguard_lock parse_ok(const char *line)
{
	struct pkguard_lock l;

	assert_int_equal(pkguard_lock_parse(line, strlen(line), &l), 0);
	return l;
}

static void test_every_line_kind(void **state)
{
	struct pkguard_lock l;

	l = parse_ok("1: POSIX  ADVISORY  READ 27515 fe:00:10978747 10 14");
	assert_int_equal(l.ordinal, 1);
	assert_int_equal(l.kind, PKGUARD_LOCK_POSIX);
	assert_false(l.write);
	assert_false(l.waiter);
	assert_int_equal(l.pid, 27515);
	assert_true(l.id.dev == makedev(0xfe, 0));
	assert_int_equal(l.id.ino, 10978747);
	assert_int_equal(l.start, 10);
	assert_int_equal(l.end, 14);

	l = parse_ok("2: FLOCK  ADVISORY  WRITE 27515 fe:00:10978746 0 EOF");
	assert_int_equal(l.kind, PKGUARD_LOCK_FLOCK);
	assert_true(l.write);
	assert_true(l.end == PKGUARD_LOCK_EOF);

	/* OFD locks show pid -1 since Linux 4.14. */
	l = parse_ok("3: OFDLCK ADVISORY  WRITE -1 fe:00:10978745 0 EOF");
	assert_int_equal(l.kind, PKGUARD_LOCK_OFD);
	assert_int_equal(l.pid, -1);

	/* A lease has its state where others say ADVISORY. */
	l = parse_ok("1: LEASE  ACTIVE    READ 9320 fe:00:10978789 0 EOF");
	assert_int_equal(l.kind, PKGUARD_LOCK_LEASE);
	l = parse_ok("4: LEASE  BREAKING  READ 9320 fe:00:10978789 0 EOF");
	assert_int_equal(l.kind, PKGUARD_LOCK_LEASE);

	/* A blocked waiter under its holder. */
	l = parse_ok("2: -> POSIX  ADVISORY  WRITE 9362 fe:00:10978773 0 EOF");
	assert_true(l.waiter);
	assert_int_equal(l.ordinal, 2);
	assert_int_equal(l.pid, 9362);

	/* Minors above 0xff, and a mandatory lock. */
	l = parse_ok("7: POSIX  MANDATORY WRITE 1 103:1a2:42 0 EOF");
	assert_true(l.mandatory);
	assert_true(l.id.dev == makedev(0x103, 0x1a2));
	/* Tabs and extra spaces split like single spaces. */
	l = parse_ok("12:\tFLOCK\tADVISORY\tREAD  5  00:29:8  0  EOF  ");
	assert_int_equal(l.ordinal, 12);
	assert_true(l.id.dev == makedev(0, 0x29));
}

static void test_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"",
		"1:",
		"POSIX ADVISORY WRITE 1 fe:00:1 0 EOF",
		"1: POSIX ADVISORY WRITE 1 fe:00:1 0",
		"1: POSIX ADVISORY WRITE 1 fe:00:1 0 EOF extra",
		"1: BOGUS ADVISORY WRITE 1 fe:00:1 0 EOF",
		"1: POSIX SOMETIMES WRITE 1 fe:00:1 0 EOF",
		"1: POSIX ADVISORY WRITE x fe:00:1 0 EOF",
		"1: POSIX ADVISORY WRITE 1 fe:00 0 EOF",
		"1: POSIX ADVISORY WRITE 1 fe:zz:1 0 EOF",
		"1: POSIX ADVISORY WRITE 1 fe:00:1x 0 EOF",
		"1: POSIX ADVISORY WRITE 1 fe:00:1 -5 EOF",
		"1: POSIX ADVISORY WRITE 99999999999 fe:00:1 0 EOF",
		"1: POSIX ADVISORY WRITE 1 fe:00:99999999999999999999999 0 EOF",
	};
	struct pkguard_lock l;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pkguard_lock_parse(bad[i], strlen(bad[i]), &l) != -PKGUARD_EPARSE)
			fail_msg("accepted malformed line '%s'", bad[i]);
	}
}

static void test_table_skips_bad_lines(void **state)
{
	static const char text[] = "1: POSIX  ADVISORY  WRITE 2265 fe:00:10952840 0 EOF\n"
				   "1: -> POSIX  ADVISORY  WRITE 2266 fe:00:10952840 0 EOF\n"
				   "garbage line\n"
				   "2: FLOCK  ADVISORY  WRITE 2265 fe:00:10952839 0 EOF\n"
				   "3: OFDLCK ADVISORY  READ  -1 fe:00:10952838 0 EOF";
	struct pkguard_locktab *tab;
	struct pkguard_ctx *ctx;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_locktab_parse(ctx, text, sizeof(text) - 1, &tab), 0);
	assert_int_equal(tab->n_locks, 4);
	assert_int_equal(tab->n_bad, 1);
	assert_true(tab->locks[1].waiter);
	assert_int_equal(tab->locks[3].kind, PKGUARD_LOCK_OFD);
	pkguard_locktab_free(tab);
	pkguard_ctx_free(ctx);
}

static int collect(void *userdata, const struct pkguard_lock *lock)
{
	struct pkguard_lock *out = userdata;
	size_t i;

	for (i = 0; out[i].ordinal; i++)
		;
	out[i] = *lock;
	return 0;
}

static void test_fdinfo(void **state)
{
	static const char text[] = "pos:\t0\nflags:\t02100002\nmnt_id:\t27\nino:\t10952839\n"
				   "lock:\t1: FLOCK  ADVISORY  WRITE 2265 fe:00:10952839 0 EOF\n"
				   "lock:\t2: OFDLCK ADVISORY  READ -1 fe:00:10952839 0 EOF\n";
	struct pkguard_lock got[4];

	memset(got, 0, sizeof(got));
	assert_int_equal(pkguard_fdinfo_locks(text, sizeof(text) - 1, collect, got), 0);
	assert_int_equal(got[0].kind, PKGUARD_LOCK_FLOCK);
	assert_int_equal(got[1].kind, PKGUARD_LOCK_OFD);
	assert_int_equal(got[2].ordinal, 0);
	assert_int_equal(pkguard_fdinfo_locks("lock:\tnonsense\n", 15, collect, got),
			 -PKGUARD_EPARSE);
}

/* Read /proc/locks for real: our own lock must be there. */
static void test_locktab_read_live(void **state)
{
	char path[] = "/tmp/pkguard-locks-XXXXXX";
	struct pkguard_locktab *tab;
	struct pkguard_ctx *ctx;
	struct stat st;
	bool found = false;
	size_t i;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_locktab_read(ctx, &tab), 0);
	for (i = 0; i < tab->n_locks; i++) {
		const struct pkguard_lock *l = &tab->locks[i];

		if (l->id.ino == st.st_ino && l->id.dev == st.st_dev) {
			assert_int_equal(l->kind, PKGUARD_LOCK_FLOCK);
			assert_int_equal(l->pid, getpid());
			found = true;
		}
	}
	assert_true(found);
	pkguard_locktab_free(tab);
	pkguard_ctx_free(ctx);
	close(fd);
	unlink(path);
}

/* A child holds an OFD or POSIX write lock; the probe from here must see it. */
static void probe_with_holder(int cmd, bool expect_pid)
{
	char path[] = "/tmp/pkguard-probe-XXXXXX";
	struct pkguard_lock_probe pr;
	struct pkguard_ctx *ctx;
	int fd, ready[2], done[2];
	char c;
	pid_t child;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		/*
		 * Its own open file description: an OFD lock taken on the fd
		 * inherited from us would stay held by our copy after it exits.
		 */
		int own = open(path, O_RDWR);

		if (own < 0 || fcntl(own, cmd, &fl) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_lock_probe(ctx, path, &pr), 0);
	assert_true(pr.held);
	assert_true(pr.held_write);
	assert_int_equal(pr.pid, expect_pid ? child : -1);
	assert_int_equal(pr.mode & 0777, 0600);
	assert_int_equal(write(done[1], "d", 1), 1);
	assert_int_equal(waitpid(child, NULL, 0), child);
	/* Released with its holder. */
	assert_int_equal(pkguard_lock_probe(ctx, path, &pr), 0);
	assert_false(pr.held);
	pkguard_ctx_free(ctx);
	close(fd);
	close(ready[0]);
	close(ready[1]);
	close(done[0]);
	close(done[1]);
	unlink(path);
}

static void test_probe_posix(void **state)
{
	probe_with_holder(F_SETLK, true);
}

static void test_probe_ofd(void **state)
{
	probe_with_holder(F_OFD_SETLK, false);
}

/* Hostile objects at a lockfile path: never followed, never hangs, never read. */
static void test_probe_refuses_hostile_paths(void **state)
{
	char dir[] = "/tmp/pkguard-hostile-XXXXXX";
	char fifo[128], link[128], target[128];
	struct pkguard_lock_probe pr;
	struct pkguard_ctx *ctx;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	snprintf(target, sizeof(target), "%s/target", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	fd = open(target, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(pkguard_ctx_new(&ctx), 0);

	/* A FIFO with no writer would hang a plain open(O_RDONLY). */
	assert_int_equal(pkguard_lock_probe(ctx, fifo, &pr), -PKGUARD_EUNSAFE);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "not a regular file"));
	assert_int_equal(pkguard_lock_probe(ctx, link, &pr), -PKGUARD_EUNSAFE);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "symlink"));
	assert_int_equal(pkguard_lock_probe(ctx, dir, &pr), -PKGUARD_EUNSAFE);
	assert_int_equal(pkguard_lock_probe(ctx, "/nonexistent/lock", &pr), -ENOENT);
	assert_int_equal(pkguard_lock_probe(ctx, "/dev/null", &pr), -PKGUARD_EUNSAFE);

	pkguard_ctx_free(ctx);
	unlink(fifo);
	unlink(link);
	unlink(target);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_line_kind),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_table_skips_bad_lines),
		cmocka_unit_test(test_fdinfo),
		cmocka_unit_test(test_locktab_read_live),
		cmocka_unit_test(test_probe_posix),
		cmocka_unit_test(test_probe_ofd),
		cmocka_unit_test(test_probe_refuses_hostile_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
