/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: the fileset on a temporary root tree. */
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
#include <unistd.h>

#include <cmocka.h>

#include "pkguard/fileset.h"

static char root[256];

static void mkfile(const char *rel, mode_t mode)
{
	char path[PATH_MAX], *slash;
	int fd;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, rel, strlen(rel)), (ssize_t)strlen(rel));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	char path[PATH_MAX];

	snprintf(root, sizeof(root), "/tmp/pkguard-fileset-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	mkfile("/usr/bin/prog", 0755);
	mkfile("/usr/libexec/prog/helper", 0755);
	mkfile("/usr/lib/prog/sbin/master", 0755); /* postfix-style: a helper despite "sbin" */
	mkfile("/usr/lib/libprog.so.1", 0755);
	mkfile("/usr/lib/prog/plugin.so", 0755);
	mkfile("/usr/share/doc/prog/README", 0644);
	mkfile("/etc/init.d/prog", 0755);
	/* Merged /usr, relative as on Debian, and an absolute symlink that must stay in the root.
	 */
	snprintf(path, sizeof(path), "%s/bin", root);
	assert_int_equal(symlink("usr/bin", path), 0);
	snprintf(path, sizeof(path), "%s/lib", root);
	assert_int_equal(symlink("/usr/lib", path), 0);
	snprintf(path, sizeof(path), "%s/usr/lib/libprog.so", root);
	assert_int_equal(symlink("libprog.so.1", path), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static const struct pkguard_file *find_path(const struct pkguard_fileset *fs, const char *path)
{
	size_t i;

	for (i = 0; i < pkguard_fileset_n_files(fs); i++) {
		if (strcmp(pkguard_fileset_file(fs, i)->path, path) == 0)
			return pkguard_fileset_file(fs, i);
	}
	return NULL;
}

static void stat_rel(const char *rel, struct stat *st)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	assert_int_equal(stat(path, st), 0);
}

static void test_index_and_helpers(void **state)
{
	static const char *const paths[] = {
		"/.",
		"/usr",
		"/usr/bin",
		"/usr/bin/prog",
		"/usr/libexec/prog/helper",
		"/usr/lib/prog/sbin/master",
		"/usr/lib/libprog.so.1",
		"/usr/lib/libprog.so",
		"/usr/lib/prog/plugin.so",
		"/usr/share/doc/prog/README",
		"/etc/init.d/prog",
		"/usr/bin/missing",
	};
	const struct pkguard_target *t;
	const struct pkguard_file *f;
	struct pkguard_fileset *fs;
	struct pkguard_ctx *ctx;
	struct stat st;
	size_t idx, i, cursor = 0;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	assert_false(pkguard_ctx_root_is_live(ctx));
	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "prog", "amd64", "1.0", "2.0", &idx), 0);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_int_equal(pkguard_fileset_add_path(fs, idx, paths[i]), 0);

	t = pkguard_fileset_target(fs, idx);
	assert_string_equal(t->name, "prog");
	assert_string_equal(t->new_version, "2.0");
	/* Directories and the symlink are not indexed; the missing path is counted. */
	assert_int_equal(t->n_files, 7);
	assert_int_equal(t->n_missing, 1);
	assert_int_equal(t->n_helpers, 2);
	assert_true(find_path(fs, "/usr/libexec/prog/helper")->flags & PKGUARD_FILE_HELPER);
	assert_true(find_path(fs, "/usr/lib/prog/sbin/master")->flags & PKGUARD_FILE_HELPER);
	assert_false(find_path(fs, "/usr/bin/prog")->flags & PKGUARD_FILE_HELPER);
	assert_true(find_path(fs, "/usr/bin/prog")->flags & PKGUARD_FILE_EXEC);
	assert_false(find_path(fs, "/usr/lib/libprog.so.1")->flags & PKGUARD_FILE_HELPER);
	assert_false(find_path(fs, "/usr/lib/prog/plugin.so")->flags & PKGUARD_FILE_HELPER);
	assert_false(find_path(fs, "/etc/init.d/prog")->flags & PKGUARD_FILE_HELPER);
	assert_false(find_path(fs, "/usr/share/doc/prog/README")->flags & PKGUARD_FILE_EXEC);

	/* Lookup by identity. */
	stat_rel("/usr/lib/libprog.so.1", &st);
	assert_int_equal(pkguard_fileset_lookup(fs, (struct pkguard_fileid){st.st_dev, st.st_ino},
						&cursor, &f),
			 0);
	assert_string_equal(f->path, "/usr/lib/libprog.so.1");
	assert_int_equal(pkguard_fileset_lookup(fs, (struct pkguard_fileid){st.st_dev, st.st_ino},
						&cursor, &f),
			 1);
	assert_true(pkguard_fileset_has_dev(fs, st.st_dev));
	assert_true(pkguard_fileset_has_ino(fs, st.st_ino));
	assert_false(pkguard_fileset_has_ino(fs, 1));
	cursor = 0;
	assert_int_equal(
		pkguard_fileset_lookup(fs, (struct pkguard_fileid){st.st_dev, 1}, &cursor, &f), 1);
	pkguard_fileset_free(fs);
	pkguard_ctx_free(ctx);
}

/* "/bin/prog" (merged /usr) and "/lib/..." through an absolute symlink resolve inside the root. */
static void test_symlinks_stay_in_root(void **state)
{
	const struct pkguard_file *f;
	struct pkguard_fileset *fs;
	struct pkguard_ctx *ctx;
	struct stat st;
	size_t idx, cursor = 0;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "prog", NULL, NULL, NULL, &idx), 0);
	assert_int_equal(pkguard_fileset_add_path(fs, idx, "/bin/prog"), 0);
	assert_int_equal(pkguard_fileset_add_path(fs, idx, "/lib/libprog.so.1"), 0);
	assert_int_equal(pkguard_fileset_target(fs, idx)->n_files, 2);
	stat_rel("/usr/lib/libprog.so.1", &st);
	assert_int_equal(pkguard_fileset_lookup(fs, (struct pkguard_fileid){st.st_dev, st.st_ino},
						&cursor, &f),
			 0);
	assert_string_equal(f->path, "/lib/libprog.so.1");
	pkguard_fileset_free(fs);
	pkguard_ctx_free(ctx);
}

/* Two targets listing one inode are both found; a target listing it twice counts once. */
static void test_shared_inode(void **state)
{
	const struct pkguard_file *f;
	struct pkguard_fileset *fs;
	struct pkguard_ctx *ctx;
	struct stat st;
	size_t a, b, cursor = 0, hits = 0;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "a", NULL, NULL, NULL, &a), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "b", NULL, NULL, NULL, &b), 0);
	assert_int_equal(pkguard_fileset_add_path(fs, a, "/usr/bin/prog"), 0);
	assert_int_equal(pkguard_fileset_add_path(fs, a, "/bin/prog"), 0);
	assert_int_equal(pkguard_fileset_add_path(fs, b, "/usr/bin/prog"), 0);
	assert_int_equal(pkguard_fileset_target(fs, a)->n_files, 1);
	stat_rel("/usr/bin/prog", &st);
	while (pkguard_fileset_lookup(fs, (struct pkguard_fileid){st.st_dev, st.st_ino}, &cursor,
				      &f) == 0)
		hits |= 1u << f->target;
	assert_int_equal(hits, 3);
	pkguard_fileset_free(fs);
	pkguard_ctx_free(ctx);
}

/* Many files: the index grows and every one stays findable. */
static void test_growth(void **state)
{
	struct pkguard_fileset *fs;
	struct pkguard_ctx *ctx;
	char rel[64];
	size_t idx, i;

	for (i = 0; i < 300; i++) {
		snprintf(rel, sizeof(rel), "/usr/share/many/f%zu", i);
		mkfile(rel, 0644);
	}
	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "many", NULL, NULL, NULL, &idx), 0);
	for (i = 0; i < 300; i++) {
		snprintf(rel, sizeof(rel), "/usr/share/many/f%zu", i);
		assert_int_equal(pkguard_fileset_add_path(fs, idx, rel), 0);
	}
	for (i = 0; i < 300; i++) {
		const struct pkguard_file *f;
		struct stat st;
		size_t cursor = 0;

		snprintf(rel, sizeof(rel), "/usr/share/many/f%zu", i);
		stat_rel(rel, &st);
		assert_int_equal(
			pkguard_fileset_lookup(fs, (struct pkguard_fileid){st.st_dev, st.st_ino},
					       &cursor, &f),
			0);
		assert_string_equal(f->path, rel);
	}
	pkguard_fileset_free(fs);
	pkguard_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_and_helpers),
		cmocka_unit_test(test_symlinks_stay_in_root),
		cmocka_unit_test(test_shared_inode),
		cmocka_unit_test(test_growth),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
