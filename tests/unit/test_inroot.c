/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests: paths resolved inside a root. The hand-made walk (used where
 * openat2() is missing: old kernels, valgrind) must give what
 * openat2(RESOLVE_IN_ROOT) gives, and neither may leave the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "pkguard/context.h"
#include "util/internal.h"

struct tree {
	char dir[64];
	int fd;
	struct stat etc, file;
};

static void put(const struct tree *t, const char *target, const char *link)
{
	assert_int_equal(symlinkat(target, t->fd, link), 0);
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	int fd;

	snprintf(t->dir, sizeof(t->dir), "/tmp/pkguard-inroot.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->fd = open(t->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(t->fd >= 0);
	assert_int_equal(mkdirat(t->fd, "etc", 0755), 0);
	fd = openat(t->fd, "etc/file", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fstatat(t->fd, "etc", &t->etc, 0), 0);
	assert_int_equal(fstatat(t->fd, "etc/file", &t->file, 0), 0);
	put(t, "/etc", "abs"); /* the root's /etc, never the host's */
	put(t, "etc", "rel");
	put(t, "../../../..", "up");	     /* climbing out stops at the root */
	put(t, "/../../etc/file", "escape"); /* the same, absolute */
	put(t, "loop2", "loop1");
	put(t, "loop1", "loop2");
	put(t, "/nonexistent", "dangling");
	put(t, "/abs/../rel/./file", "chain"); /* links through links */
	put(t, "/etc/file", "etc/back");       /* absolute, met below the top */
	*state = t;
	return 0;
}

static int rm_entry(int dirfd, const char *name, int flags)
{
	return unlinkat(dirfd, name, flags);
}

static int teardown(void **state)
{
	struct tree *t = *state;
	static const char *const links[] = {"abs",   "rel",   "up",	  "escape",
					    "loop1", "loop2", "dangling", "chain"};
	size_t i;

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		rm_entry(t->fd, links[i], 0);
	rm_entry(t->fd, "etc/back", 0);
	rm_entry(t->fd, "etc/file", 0);
	rm_entry(t->fd, "etc", AT_REMOVEDIR);
	close(t->fd);
	rmdir(t->dir);
	free(t);
	return 0;
}

/* What the fd names: 1 for etc, 2 for etc/file, 3 for a symlink, -errno on failure. */
static int what(const struct tree *t, int fd)
{
	struct stat st;
	int rc;

	if (fd < 0)
		return fd;
	rc = fstat(fd, &st) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	if (S_ISLNK(st.st_mode))
		return 3;
	if (st.st_dev == t->etc.st_dev && st.st_ino == t->etc.st_ino)
		return 1;
	if (st.st_dev == t->file.st_dev && st.st_ino == t->file.st_ino)
		return 2;
	return 0; /* anything else: outside the test tree, or its top */
}

static int kernel(const struct tree *t, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, t->fd, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

static void test_walk_matches_openat2(void **state)
{
	static const struct {
		const char *path;
		int flags;
		int want;
	} cases[] = {
		{"etc/file", O_PATH, 2},
		{"abs/file", O_RDONLY, 2},
		{"rel/file", O_RDONLY, 2},
		{"up/etc/file", O_PATH, 2},
		{"../../etc/file", O_PATH, 2},
		{"escape", O_RDONLY, 2},
		{"chain", O_PATH, 2},
		{"etc/back", O_RDONLY, 2},
		{"abs", O_PATH | O_DIRECTORY, 1},
		{"abs/", O_PATH, 1},
		{"etc/..//etc/./", O_PATH, 1},
		{"abs", O_PATH | O_NOFOLLOW, 3},
		{"loop1", O_PATH, -ELOOP},
		{"dangling", O_PATH, -ENOENT},
		{"etc/file/x", O_PATH, -ENOTDIR},
		{"etc/none", O_PATH, -ENOENT},
	};
	struct tree *t = *state;
	size_t i;
	int probe = kernel(t, ".", O_PATH);

	if (probe >= 0)
		close(probe);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = what(t, pkguard_walk_in_root(t->fd, cases[i].path, cases[i].flags));

		print_message("%-18s walk %d, want %d\n", cases[i].path, got, cases[i].want);
		assert_int_equal(got, cases[i].want);
		/* Where the kernel has openat2(), the two agree. */
		if (probe != -ENOSYS)
			assert_int_equal(what(t, kernel(t, cases[i].path, cases[i].flags)), got);
	}
}

/* Through the context: the same answers with a root set. */
static void test_ctx_openat(void **state)
{
	struct tree *t = *state;
	struct pkguard_ctx *ctx;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, t->dir), 0);
	assert_int_equal(what(t, pkguard_ctx_openat(ctx, "/abs/file", O_RDONLY)), 2);
	assert_int_equal(what(t, pkguard_ctx_openat(ctx, "/escape", O_RDONLY)), 2);
	assert_int_equal(what(t, pkguard_ctx_openat(ctx, "/", O_PATH)), 0);
	assert_int_equal(pkguard_ctx_openat(ctx, "/dangling", O_PATH), -ENOENT);
	pkguard_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_walk_matches_openat2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctx_openat, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
