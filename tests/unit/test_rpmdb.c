/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rpm backend against private roots that the test builds with the real
 * rpmbuild and rpm: a merged-/usr root (/bin -> usr/bin) and a split one
 * (/bin a directory of its own) with the same packages, and a root without
 * an rpm database. Skips (77) without rpmbuild or without root.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pkguard/context.h"
#include "pkguard/error.h"
#include "pkguard/pkgdb.h"
#include "rpmdb.h"

static const struct pkguard_pkgdb_ops *const ops = &pkguard_rpm_ops;

/* Filled by the group setup. */
static char tmpdir[] = "/tmp/pkguard-test-rpmdb.XXXXXX";
static char merged_root[sizeof(tmpdir) + 16];
static char split_root[sizeof(tmpdir) + 16];
static char empty_root[sizeof(tmpdir) + 16];

/*
 * guard-demo 2:1.0-1 (noarch) ships /usr/bin/guard-demo and
 * /usr/lib/guard-demo/data.txt; guard-plain 3.1-4 (noarch, no epoch) ships
 * /usr/lib/guard-plain.txt. Both go into $T/merged and $T/split. $T/empty
 * has an empty /var/lib/rpm.
 */
static const char build_script[] =
	"set -e\n"
	"T=$1\n"
	"mkspec() {\n"
	"	printf 'Name: %s\\nVersion: %s\\nRelease: %s\\n' $1 $2 $3 >$T/$1.spec\n"
	"	[ -z \"$4\" ] || printf 'Epoch: %s\\n' $4 >>$T/$1.spec\n"
	"	printf 'Summary: t\\nLicense: MIT\\nBuildArch: noarch\\n%%%%description\\nt\\n'"
	" >>$T/$1.spec\n"
	"}\n"
	"mkspec guard-demo 1.0 1 2\n"
	"cat >>$T/guard-demo.spec <<'EOS'\n"
	"%install\n"
	"mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib/guard-demo\n"
	"printf '#!/bin/sh\\necho demo\\n' >%{buildroot}/usr/bin/guard-demo\n"
	"chmod 755 %{buildroot}/usr/bin/guard-demo\n"
	"echo data >%{buildroot}/usr/lib/guard-demo/data.txt\n"
	"%files\n"
	"/usr/bin/guard-demo\n"
	"/usr/lib/guard-demo\n"
	"EOS\n"
	"mkspec guard-plain 3.1 4 ''\n"
	"cat >>$T/guard-plain.spec <<'EOS'\n"
	"%install\n"
	"mkdir -p %{buildroot}/usr/lib\n"
	"echo plain >%{buildroot}/usr/lib/guard-plain.txt\n"
	"%files\n"
	"/usr/lib/guard-plain.txt\n"
	"EOS\n"
	"for s in guard-demo guard-plain; do\n"
	"	rpmbuild --define \"_topdir $T/top\" -bb $T/$s.spec >$T/$s.log 2>&1\n"
	"done\n"
	"mkdir -p $T/merged/usr/bin $T/split/usr/bin $T/split/bin $T/empty/var/lib/rpm\n"
	"ln -s usr/bin $T/merged/bin\n"
	"for r in $T/merged $T/split; do\n"
	"	rpm --root=$r --dbpath=/var/lib/rpm --initdb\n"
	"	rpm --root=$r --dbpath=/var/lib/rpm --nodeps -i $T/top/RPMS/noarch/*.rpm"
	" >>$T/rpm.log 2>&1\n"
	"done\n";

__attribute__((format(printf, 1, 2))) static int run_shell(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

static int write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	int rc;

	if (fp == NULL)
		return -1;
	rc = fputs(text, fp) < 0 ? -1 : 0;
	if (fclose(fp) != 0)
		rc = -1;
	return rc;
}

static int group_setup(void **state)
{
	char script[sizeof(tmpdir) + 16];

	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(merged_root, sizeof(merged_root), "%s/merged", tmpdir);
	snprintf(split_root, sizeof(split_root), "%s/split", tmpdir);
	snprintf(empty_root, sizeof(empty_root), "%s/empty", tmpdir);
	snprintf(script, sizeof(script), "%s/build.sh", tmpdir);
	if (write_file(script, build_script) < 0)
		return -1;
	if (run_shell("sh %s %s", script, tmpdir) < 0) {
		run_shell("cat %s/*.log >&2", tmpdir);
		return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int group_teardown(void **state)
{
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* What the callbacks saw: "name arch version" for packages, paths for files. */
struct seen {
	char *items[256];
	size_t n;
	int stop_after; /* return 42 after this many items; 0: never */
};

static void seen_add(struct seen *seen, char *item)
{
	assert_non_null(item);
	assert_true(seen->n < sizeof(seen->items) / sizeof(seen->items[0]));
	seen->items[seen->n++] = item;
}

static int seen_pkg(void *userdata, const struct pkguard_pkginfo *pkg)
{
	struct seen *seen = userdata;
	char *item;

	assert_non_null(pkg->name);
	assert_non_null(pkg->arch);
	assert_non_null(pkg->version);
	assert_true(asprintf(&item, "%s %s %s", pkg->name, pkg->arch, pkg->version) > 0);
	seen_add(seen, item);
	return seen->stop_after != 0 && seen->n == (size_t)seen->stop_after ? 42 : 0;
}

static int seen_path(void *userdata, const struct pkguard_pkginfo *pkg, const char *path)
{
	struct seen *seen = userdata;

	assert_string_equal(pkg->name, "guard-demo");
	assert_string_equal(pkg->version, "2:1.0-1");
	seen_add(seen, strdup(path));
	return seen->stop_after != 0 && seen->n == (size_t)seen->stop_after ? 42 : 0;
}

static bool seen_has(const struct seen *seen, const char *item)
{
	size_t i;

	for (i = 0; i < seen->n; i++) {
		if (strcmp(seen->items[i], item) == 0)
			return true;
	}
	return false;
}

static void seen_clear(struct seen *seen)
{
	while (seen->n > 0)
		free(seen->items[--seen->n]);
	seen->stop_after = 0;
}

static struct pkguard_ctx *ctx_at(const char *root)
{
	struct pkguard_ctx *ctx;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(ctx, root), 0);
	return ctx;
}

static struct pkguard_pkgdb *open_at(struct pkguard_ctx *ctx)
{
	struct pkguard_pkgdb *db = NULL;
	int rc;

	rc = ops->open(ctx, &db);
	if (rc != 0)
		fail_msg("open: %d %s", rc, pkguard_ctx_errmsg(ctx));
	assert_non_null(db);
	return db;
}

static void test_manages(void **state)
{
	assert_string_equal(ops->name, "rpm");
	assert_true(ops->manages(merged_root));
	assert_true(ops->manages(split_root));
	assert_false(ops->manages(empty_root));
	assert_false(ops->manages(tmpdir));
}

static void test_files(void **state)
{
	struct pkguard_ctx *ctx = ctx_at(merged_root);
	struct pkguard_pkgdb *db = open_at(ctx);
	struct seen seen = {.n = 0};

	assert_int_equal(ops->files(db, "guard-demo", seen_path, &seen), 0);
	assert_int_equal(seen.n, 3);
	assert_true(seen_has(&seen, "/usr/bin/guard-demo"));
	assert_true(seen_has(&seen, "/usr/lib/guard-demo"));
	assert_true(seen_has(&seen, "/usr/lib/guard-demo/data.txt"));
	seen_clear(&seen);

	/* NAME.ARCH: only that architecture's instances. */
	assert_int_equal(ops->files(db, "guard-demo.noarch", seen_path, &seen), 0);
	assert_int_equal(seen.n, 3);
	seen_clear(&seen);
	assert_int_equal(ops->files(db, "guard-demo.x86_64", seen_path, &seen), -PKGUARD_ENOPKG);
	assert_int_equal(seen.n, 0);

	assert_int_equal(ops->files(db, "no-such-package", seen_path, &seen), -PKGUARD_ENOPKG);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "'no-such-package'"));
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), merged_root));
	assert_int_equal(ops->files(db, "", seen_path, &seen), -PKGUARD_ENOPKG);
	assert_int_equal(seen.n, 0);

	/* A non-zero callback return stops the walk and comes back. */
	seen.stop_after = 2;
	assert_int_equal(ops->files(db, "guard-demo", seen_path, &seen), 42);
	assert_int_equal(seen.n, 2);
	seen_clear(&seen);

	ops->close(db);
	pkguard_ctx_free(ctx);
}

static void test_lookup(void **state)
{
	struct pkguard_ctx *ctx = ctx_at(merged_root);
	struct pkguard_pkgdb *db = open_at(ctx);
	struct seen seen = {.n = 0};

	/* The epoch shows when set, and only then. */
	assert_int_equal(ops->lookup(db, "guard-demo", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.items[0], "guard-demo noarch 2:1.0-1");
	seen_clear(&seen);
	assert_int_equal(ops->lookup(db, "guard-plain.noarch", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.items[0], "guard-plain noarch 3.1-4");
	seen_clear(&seen);

	assert_int_equal(ops->lookup(db, "no-such-package", seen_pkg, &seen), -PKGUARD_ENOPKG);
	assert_int_equal(seen.n, 0);

	ops->close(db);
	pkguard_ctx_free(ctx);
}

static void test_owners_merged(void **state)
{
	struct pkguard_ctx *ctx = ctx_at(merged_root);
	struct pkguard_pkgdb *db = open_at(ctx);
	struct seen seen = {.n = 0};

	assert_int_equal(ops->owners(db, "/usr/bin/guard-demo", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.items[0], "guard-demo noarch 2:1.0-1");
	seen_clear(&seen);

	/* /bin is a link to usr/bin here: the same file, reported once. */
	assert_int_equal(ops->owners(db, "/bin/guard-demo", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.items[0], "guard-demo noarch 2:1.0-1");
	seen_clear(&seen);

	assert_int_equal(ops->owners(db, "/usr/lib/guard-plain.txt", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.items[0], "guard-plain noarch 3.1-4");
	seen_clear(&seen);

	assert_int_equal(ops->owners(db, "/usr/bin/nobody-owns-this", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 0);
	assert_int_equal(ops->owners(db, "usr/bin/guard-demo", seen_pkg, &seen), -EINVAL);
	assert_int_equal(seen.n, 0);

	seen.stop_after = 1;
	assert_int_equal(ops->owners(db, "/bin/guard-demo", seen_pkg, &seen), 42);
	seen_clear(&seen);

	ops->close(db);
	pkguard_ctx_free(ctx);
}

static void test_owners_split(void **state)
{
	struct pkguard_ctx *ctx = ctx_at(split_root);
	struct pkguard_pkgdb *db = open_at(ctx);
	struct seen seen = {.n = 0};

	assert_int_equal(ops->owners(db, "/usr/bin/guard-demo", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 1);
	seen_clear(&seen);
	/* /bin is a directory of its own: /bin/guard-demo is another file. */
	assert_int_equal(ops->owners(db, "/bin/guard-demo", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 0);

	ops->close(db);
	pkguard_ctx_free(ctx);
}

static void test_no_database(void **state)
{
	struct pkguard_ctx *ctx = ctx_at(empty_root);
	struct pkguard_pkgdb *db = (struct pkguard_pkgdb *)&db;

	assert_int_equal(ops->open(ctx, &db), -PKGUARD_EBACKEND);
	assert_null(db);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "no rpm database"));
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), empty_root));
	pkguard_ctx_free(ctx);

	/* The failed open() let go: the next one works. */
	ctx = ctx_at(split_root);
	db = open_at(ctx);
	ops->close(db);
	ops->close(NULL);
	pkguard_ctx_free(ctx);
}

static void test_busy(void **state)
{
	struct pkguard_ctx *ctx = ctx_at(merged_root);
	struct pkguard_ctx *ctx2 = ctx_at(split_root);
	struct pkguard_pkgdb *db = open_at(ctx);
	struct pkguard_pkgdb *db2 = NULL;
	struct seen seen = {.n = 0};

	assert_int_equal(ops->open(ctx2, &db2), -EBUSY);
	assert_null(db2);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx2), split_root));
	/* The first database is not disturbed. */
	assert_int_equal(ops->lookup(db, "guard-demo", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 1);
	seen_clear(&seen);
	ops->close(db);

	/* Once closed, another root opens, and reads its own database. */
	db2 = open_at(ctx2);
	assert_int_equal(ops->owners(db2, "/bin/guard-demo", seen_pkg, &seen), 0);
	assert_int_equal(seen.n, 0);
	ops->close(db2);
	pkguard_ctx_free(ctx2);
	pkguard_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manages),	     cmocka_unit_test(test_files),
		cmocka_unit_test(test_lookup),	     cmocka_unit_test(test_owners_merged),
		cmocka_unit_test(test_owners_split), cmocka_unit_test(test_no_database),
		cmocka_unit_test(test_busy),
	};

	if (geteuid() != 0) {
		printf("SKIP: needs root (rpm --root)\n");
		return 77;
	}
	if (run_shell("command -v rpmbuild >/dev/null && command -v rpm >/dev/null") < 0) {
		printf("SKIP: rpmbuild or rpm is not installed\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
