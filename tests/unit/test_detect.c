/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests: findings from a hand-built process table (no /proc needed), so
 * every reason and the grouping are checked exactly.
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

#include "pkguard/detect.h"

static void test_reasons(void **state)
{
	struct pkguard_seen seen[3] = {0};
	struct pkguard_use uses[4];
	struct pkguard_proc procs[4] = {0};
	struct pkguard_proctab tab = {0};
	struct pkguard_findings *f;
	struct pkguard_fileset *fs;
	struct pkguard_ctx *ctx;
	char root[PATH_MAX];
	struct stat a, b;
	size_t t;

	snprintf(root, sizeof(root), "%s/root", FIXTURES);
	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	assert_int_equal(pkguard_fileset_new(ctx, &fs), 0);
	assert_int_equal(pkguard_fileset_add_target(fs, "demo", NULL, NULL, NULL, &t), 0);
	assert_int_equal(pkguard_fileset_add_path(fs, t, "/usr/bin/demo"), 0);
	assert_int_equal(pkguard_fileset_add_path(fs, t, "/usr/lib/libdemo.so.1"), 0);
	assert_int_equal(fstatat(pkguard_ctx_root_fd(ctx), "usr/bin/demo", &a, 0), 0);
	assert_int_equal(fstatat(pkguard_ctx_root_fd(ctx), "usr/lib/libdemo.so.1", &b, 0), 0);

	seen[0].id = (struct pkguard_fileid){a.st_dev, a.st_ino};
	seen[1].id = (struct pkguard_fileid){b.st_dev, b.st_ino};
	seen[2].id = (struct pkguard_fileid){b.st_dev, 1}; /* same device, other inode */
	uses[0] = (struct pkguard_use){0, PKGUARD_USE_EXE};
	uses[1] = (struct pkguard_use){1, PKGUARD_USE_MAP};
	uses[2] = (struct pkguard_use){2, PKGUARD_USE_MAP};
	uses[3] = (struct pkguard_use){1, PKGUARD_USE_LOCK};
	procs[0] = (struct pkguard_proc){.pid = 10, .first_use = 0, .n_uses = 2};
	procs[1] = (struct pkguard_proc){.pid = 11, .first_use = 2, .n_uses = 1};
	procs[2] = (struct pkguard_proc){
		.pid = 12, .first_use = 3, .n_uses = 1, .state = PKGUARD_PROC_GONE};
	procs[3] = (struct pkguard_proc){.pid = 13, .state = PKGUARD_PROC_DENIED};
	tab = (struct pkguard_proctab){.procs = procs,
				       .n_procs = 4,
				       .uses = uses,
				       .n_uses = 4,
				       .seen = seen,
				       .n_seen = 3,
				       .n_scanned = 4,
				       .maps_used = PKGUARD_MAPS_TEXT};

	assert_int_equal(pkguard_detect(ctx, fs, &tab, &f), 0);
	assert_int_equal(f->n, 4);
	assert_int_equal(f->items[0].reason, PKGUARD_REASON_EXE);
	assert_string_equal(f->items[0].file->path, "/usr/bin/demo");
	assert_int_equal(f->items[1].reason, PKGUARD_REASON_MAP);
	assert_int_equal(f->items[1].proc, 0);
	/* 11 maps a file that merely shares a device: nothing. 12 vanished after locking. */
	assert_int_equal(f->items[2].proc, 2);
	assert_int_equal(f->items[2].reason, PKGUARD_REASON_GONE);
	assert_int_equal(f->items[3].reason, PKGUARD_REASON_DENIED);
	assert_true(f->items[3].target == PKGUARD_TARGET_ANY);
	assert_null(f->items[3].file);
	assert_string_equal(pkguard_reason_name(PKGUARD_REASON_LOCK), "lock");

	pkguard_findings_free(f);
	pkguard_fileset_free(fs);
	pkguard_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
