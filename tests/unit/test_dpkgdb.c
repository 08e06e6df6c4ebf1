/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dpkg backend against the host's dpkg database and against a private
 * root that the test builds and fills with the real dpkg. The host tests skip
 * on a system without dpkg; the private-root tests need root for dpkg --root.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pkguard/context.h"
#include "pkguard/error.h"
#include "pkguard/pkgdb.h"
#include "dpkgdb.h"

static const struct pkguard_pkgdb_ops *const ops = &pkguard_dpkg_ops;

/* Filled by the group setup. */
static char tmpdir[] = "/tmp/pkguard-test-dpkgdb.XXXXXX";
static char private_root[sizeof(tmpdir) + 16];
static char native_arch[64];
static const char *foreign_arch;
static bool host_has_dpkg;
static bool private_built;

/*
 * Builds the private root: /bin is a link to usr/bin (merged /usr), /sbin is
 * a directory of its own. guard-demo ships /bin/guard-demo, /sbin/guard-sbin
 * and /opt/demo/run.sh, which a local diversion sends to run.sh.orig.
 * guard-lib is Multi-Arch: same, installed for $2 (native) and $3.
 * guard-gone is removed and left with its conffile (config-files).
 */
static const char build_script[] =
	"set -e\n"
	"T=$1; native=$2; foreign=$3\n"
	"R=$T/root; B=$T/build\n"
	"mkdir -p $R/var/lib/dpkg/info $R/var/lib/dpkg/updates $R/var/lib/dpkg/triggers\n"
	"mkdir -p $R/usr/bin $R/sbin $T/debs\n"
	": >$R/var/lib/dpkg/status; : >$R/var/lib/dpkg/available\n"
	"ln -s usr/bin $R/bin\n"
	"mkpkg() {\n"
	"	d=$B/$1_$2\n"
	"	mkdir -p $d/DEBIAN\n"
	"	c=$d/DEBIAN/control\n"
	"	printf 'Package: %s\\nVersion: 1.0\\nArchitecture: %s\\n' $1 $2 >$c\n"
	"	printf 'Maintainer: pkguard <pkguard@example.invalid>\\n' >>$c\n"
	"	printf 'Description: pkguard test package\\n' >>$c\n"
	"}\n"
	"mkpkg guard-demo all; d=$B/guard-demo_all\n"
	"mkdir -p $d/bin $d/sbin $d/opt/demo\n"
	"printf '#!/bin/sh\\necho demo\\n' >$d/bin/guard-demo; chmod 755 $d/bin/guard-demo\n"
	"cp $d/bin/guard-demo $d/sbin/guard-sbin; cp $d/bin/guard-demo $d/opt/demo/run.sh\n"
	"for a in $native $foreign; do\n"
	"	mkpkg guard-lib $a; d=$B/guard-lib_$a\n"
	"	echo 'Multi-Arch: same' >>$d/DEBIAN/control\n"
	"	mkdir -p $d/usr/lib/guard-lib $d/usr/share/doc/guard-lib\n"
	"	echo $a >$d/usr/lib/guard-lib/$a.txt\n"
	"	echo shared >$d/usr/share/doc/guard-lib/README\n"
	"done\n"
	"mkpkg guard-gone all; d=$B/guard-gone_all\n"
	"mkdir -p $d/etc; echo conf >$d/etc/guard-gone.conf\n"
	"echo /etc/guard-gone.conf >$d/DEBIAN/conffiles\n"
	"for d in $B/*/; do dpkg-deb --root-owner-group --build $d $T/debs/ >/dev/null; done\n"
	"dpkg=\"dpkg --root=$R --log=/dev/null --force-script-chrootless\"\n"
	"$dpkg --add-architecture $foreign\n"
	"dpkg-divert --root=$R --local --rename --divert /opt/demo/run.sh.orig"
	" --add /opt/demo/run.sh >/dev/null\n"
	"$dpkg -i $T/debs/*.deb >/dev/null\n"
	"$dpkg -r guard-gone >/dev/null\n";

__attribute__((format(printf, 1, 2))) static int run_shell(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int n, status;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	status = system(cmd);
	return status == 0 ? 0 : -1;
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

static int read_native_arch(void)
{
	FILE *p = popen("dpkg --print-architecture", "r");
	int rc;

	if (p == NULL)
		return -1;
	rc = fgets(native_arch, sizeof(native_arch), p) == NULL ? -1 : 0;
	if (pclose(p) != 0)
		rc = -1;
	native_arch[strcspn(native_arch, "\n")] = '\0';
	return rc;
}

static int group_setup(void **state)
{
	char script[sizeof(tmpdir) + 16];

	host_has_dpkg = ops->manages("/");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(private_root, sizeof(private_root), "%s/root", tmpdir);
	if (geteuid() != 0 || !host_has_dpkg || read_native_arch() < 0)
		return 0;
	foreign_arch = strcmp(native_arch, "i386") == 0 ? "amd64" : "i386";
	snprintf(script, sizeof(script), "%s/build.sh", tmpdir);
	if (write_file(script, build_script) < 0)
		return -1;
	if (run_shell("sh %s %s %s %s", script, tmpdir, native_arch, foreign_arch) < 0)
		return -1;
	private_built = true;
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

/* What the callbacks saw: "name:arch version" for packages, paths for files. */
struct seen {
	char *items[16384];
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
	assert_true(asprintf(&item, "%s:%s %s", pkg->name, pkg->arch, pkg->version) > 0);
	seen_add(seen, item);
	return seen->stop_after != 0 && seen->n == (size_t)seen->stop_after ? 42 : 0;
}

static int seen_path(void *userdata, const struct pkguard_pkginfo *pkg, const char *path)
{
	struct seen *seen = userdata;

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

/* true when some item starts with PREFIX. */
static bool seen_has_prefix(const struct seen *seen, const char *prefix)
{
	size_t i;

	for (i = 0; i < seen->n; i++) {
		if (strncmp(seen->items[i], prefix, strlen(prefix)) == 0)
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

static struct seen *seen_new(void)
{
	struct seen *seen = calloc(1, sizeof(*seen));

	assert_non_null(seen);
	return seen;
}

static void seen_free(struct seen *seen)
{
	seen_clear(seen);
	free(seen);
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

static void need_host(void)
{
	if (!host_has_dpkg)
		skip();
}

static void need_private(void)
{
	if (!private_built)
		skip();
}

static void test_manages(void **state)
{
	need_host();
	assert_true(ops->manages("/"));
	assert_false(ops->manages(tmpdir));
	assert_string_equal(ops->name, "dpkg");
}

static void test_host_files(void **state)
{
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	struct seen *seen = seen_new();

	need_host();
	ctx = ctx_at("/");
	db = open_at(ctx);

	/* Bookworm's coreutils lists /bin/ls, not /usr/bin/ls. */
	assert_int_equal(ops->files(db, "coreutils", seen_path, seen), 0);
	assert_true(seen_has(seen, "/bin/ls"));
	assert_true(seen_has(seen, "/bin"));
	assert_false(seen_has(seen, "/."));
	seen_clear(seen);

	assert_int_equal(ops->files(db, "no-such-package-xyz", seen_path, seen), -PKGUARD_ENOPKG);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "'no-such-package-xyz'"));
	assert_int_equal(seen->n, 0);

	/* A non-zero callback return stops the walk and comes back. */
	seen->stop_after = 3;
	assert_int_equal(ops->files(db, "coreutils", seen_path, seen), 42);
	assert_int_equal(seen->n, 3);

	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(seen);
}

static void test_host_owners(void **state)
{
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	struct seen *seen = seen_new();

	need_host();
	ctx = ctx_at("/");
	db = open_at(ctx);

	/* dpkg lists /bin/bash; the kernel shows /usr/bin/bash (merged /usr). */
	assert_int_equal(ops->owners(db, "/usr/bin/bash", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 1);
	assert_true(seen_has_prefix(seen, "bash:"));
	seen_clear(seen);

	assert_int_equal(ops->owners(db, "/bin/bash", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 1);
	assert_true(seen_has_prefix(seen, "bash:"));
	seen_clear(seen);

	assert_int_equal(ops->owners(db, "/usr/share/pkguard-nobody/owns-this", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 0);

	assert_int_equal(ops->owners(db, "relative/path", seen_pkg, seen), -EINVAL);

	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(seen);
}

/* owners_many()'s callback: "INDEX name:arch version", indexes never going back. */
static int seen_owner(void *userdata, size_t index, const struct pkguard_pkginfo *pkg)
{
	struct seen *seen = userdata;
	char *item;

	if (seen->n > 0)
		assert_true(strtoul(seen->items[seen->n - 1], NULL, 10) <= index);
	assert_true(asprintf(&item, "%zu %s:%s %s", index, pkg->name, pkg->arch, pkg->version) > 0);
	seen_add(seen, item);
	return 0;
}

/* owners_many(PATHS) gives what owners() gives for each path, in the same order. */
static void check_owners_many(struct pkguard_pkgdb *db, const char *const *paths, size_t n)
{
	struct seen *one = seen_new(), *many = seen_new();
	size_t i, j, k = 0;

	assert_int_equal(ops->owners_many(db, paths, n, seen_owner, many), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(ops->owners(db, paths[i], seen_pkg, one), 0);
		for (j = 0; j < one->n; j++, k++) {
			char want[512];

			snprintf(want, sizeof(want), "%zu %s", i, one->items[j]);
			if (k >= many->n || strcmp(many->items[k], want) != 0)
				fail_msg("owners_many: '%s' gives '%s', owners() '%s'", paths[i],
					 k < many->n ? many->items[k] : "(nothing)", want);
		}
		seen_clear(one);
	}
	assert_int_equal(k, many->n);
	seen_free(one);
	seen_free(many);
}

/* Collects the files of packages, but not their directories (hundreds of owners each). */
static int add_to_paths(void *userdata, const struct pkguard_pkginfo *pkg, const char *path)
{
	struct seen *paths = userdata;
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		seen_add(paths, strdup(path));
	return 0;
}

static void test_host_owners_many(void **state)
{
	static const char *const pkgs[] = {"libc6", "bash", "dpkg", "base-files", "coreutils"};
	static const char *const extra[] = {
		"/usr/bin/bash",
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/share/doc",
		"/usr",
		"/",
		"/usr/share/pkguard-nobody/owns-this",
		"/usr/lib/",
		"//usr/bin/bash",
	};
	struct seen *paths = seen_new();
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	const char *bad[] = {"/usr/bin/bash", "relative/path"};
	size_t i;

	need_host();
	ctx = ctx_at("/");
	db = open_at(ctx);

	/* A few directories have many owners: their order is checked too. */
	for (i = 0; i < sizeof(pkgs) / sizeof(pkgs[0]); i++)
		assert_int_equal(ops->files(db, pkgs[i], add_to_paths, paths), 0);
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		seen_add(paths, strdup(extra[i]));
	/* files() loaded those lists first, which changes the order owners() gives. */
	ops->close(db);
	db = open_at(ctx);
	check_owners_many(db, (const char *const *)paths->items, paths->n);
	assert_int_equal(ops->owners_many(db, bad, 2, seen_owner, paths), -EINVAL);

	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(paths);
}

static void test_host_lookup(void **state)
{
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	struct seen *seen = seen_new();
	char want[128];

	need_host();
	if (native_arch[0] == '\0' && read_native_arch() < 0)
		fail_msg("cannot run dpkg --print-architecture");
	ctx = ctx_at("/");
	db = open_at(ctx);

	snprintf(want, sizeof(want), "libc6:%s ", native_arch);
	assert_int_equal(ops->lookup(db, "libc6", seen_pkg, seen), 0);
	assert_true(seen->n >= 1);
	assert_true(seen_has_prefix(seen, want));
	/* A version follows the space. */
	assert_true(strlen(seen->items[0]) > strlen("libc6:") + strlen(native_arch) + 1);
	seen_clear(seen);

	snprintf(want, sizeof(want), "libc6:%s", native_arch);
	assert_int_equal(ops->lookup(db, want, seen_pkg, seen), 0);
	assert_int_equal(seen->n, 1);
	seen_clear(seen);

	assert_int_equal(ops->lookup(db, "libc6:nosucharch", seen_pkg, seen), -PKGUARD_ENOPKG);
	assert_int_equal(ops->lookup(db, "no-such-package-xyz", seen_pkg, seen), -PKGUARD_ENOPKG);
	assert_int_equal(seen->n, 0);

	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(seen);
}

static void test_no_database(void **state)
{
	struct pkguard_ctx *ctx = ctx_at(tmpdir);
	struct pkguard_pkgdb *db = NULL;

	/* An empty directory: libdpkg alone would report an empty database. */
	assert_int_equal(ops->open(ctx, &db), -PKGUARD_EBACKEND);
	assert_null(db);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), tmpdir));
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "no dpkg database"));
	pkguard_ctx_free(ctx);
}

static void test_busy(void **state)
{
	struct pkguard_ctx *ctx, *ctx2;
	struct pkguard_pkgdb *db, *db2 = NULL;

	need_host();
	ctx = ctx_at("/");
	ctx2 = ctx_at("/");
	db = open_at(ctx);

	assert_int_equal(ops->open(ctx2, &db2), -EBUSY);
	assert_null(db2);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx2), "another is open"));

	ops->close(db);
	db2 = open_at(ctx2);
	ops->close(db2);
	ops->close(NULL);
	pkguard_ctx_free(ctx);
	pkguard_ctx_free(ctx2);
}

static void test_private_files(void **state)
{
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	struct seen *seen = seen_new();

	need_private();
	ctx = ctx_at(private_root);
	db = open_at(ctx);

	assert_int_equal(ops->files(db, "guard-demo", seen_path, seen), 0);
	assert_true(seen_has(seen, "/bin/guard-demo"));
	assert_true(seen_has(seen, "/sbin/guard-sbin"));
	assert_true(seen_has(seen, "/opt/demo"));
	/* The local diversion put the package's run.sh elsewhere. */
	assert_true(seen_has(seen, "/opt/demo/run.sh.orig"));
	assert_false(seen_has(seen, "/opt/demo/run.sh"));
	seen_clear(seen);

	assert_int_equal(ops->lookup(db, "guard-demo", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 1);
	assert_string_equal(seen->items[0], "guard-demo:all 1.0");
	seen_clear(seen);

	/* The host's bash is not in this database, nor left over from the
	 * host database an earlier test opened in this process. */
	assert_int_equal(ops->files(db, "bash", seen_path, seen), -PKGUARD_ENOPKG);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), private_root));
	assert_int_equal(ops->lookup(db, "bash", seen_pkg, seen), -PKGUARD_ENOPKG);
	assert_int_equal(ops->owners(db, "/bin/bash", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 0);

	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(seen);
}

/* owners(PATH) in the private root is exactly WANT ("" for nobody). */
static void check_owner(struct pkguard_pkgdb *db, const char *path, const char *want)
{
	struct seen *seen = seen_new();

	assert_int_equal(ops->owners(db, path, seen_pkg, seen), 0);
	if (want[0] == '\0') {
		if (seen->n != 0)
			fail_msg("'%s' owned by '%s'", path, seen->items[0]);
	} else {
		if (seen->n != 1)
			fail_msg("'%s' has %zu owners, not '%s'", path, seen->n, want);
		assert_string_equal(seen->items[0], want);
	}
	seen_free(seen);
}

static void test_private_owners(void **state)
{
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;

	need_private();
	ctx = ctx_at(private_root);
	db = open_at(ctx);

	check_owner(db, "/bin/guard-demo", "guard-demo:all 1.0");
	/* ROOT/bin links to usr/bin: one file, two names. */
	check_owner(db, "/usr/bin/guard-demo", "guard-demo:all 1.0");
	/* ROOT/sbin is a directory: /usr/sbin/guard-sbin is another file. */
	check_owner(db, "/sbin/guard-sbin", "guard-demo:all 1.0");
	check_owner(db, "/usr/sbin/guard-sbin", "");
	/* The diverted file is at run.sh.orig; nobody's file is at run.sh. */
	check_owner(db, "/opt/demo/run.sh.orig", "guard-demo:all 1.0");
	check_owner(db, "/opt/demo/run.sh", "");
	check_owner(db, "/opt/demo", "guard-demo:all 1.0");
	check_owner(db, "/opt/demo/nothing", "");

	ops->close(db);
	pkguard_ctx_free(ctx);
}

static void test_private_owners_many(void **state)
{
	static const char *const paths[] = {
		"/bin/guard-demo",
		"/usr/bin/guard-demo",
		"/sbin/guard-sbin",
		"/usr/sbin/guard-sbin",
		"/opt/demo/run.sh.orig",
		"/opt/demo/run.sh",
		"/opt/demo",
		"/opt/demo/nothing",
		"/usr/share/doc/guard-lib/README",
		"/etc/guard-gone.conf",
		"/usr/lib/guard-lib",
		"/bin/guard-demo",
	};
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;

	need_private();
	ctx = ctx_at(private_root);
	db = open_at(ctx);
	check_owners_many(db, paths, sizeof(paths) / sizeof(paths[0]));
	ops->close(db);
	pkguard_ctx_free(ctx);
}

static void test_private_multiarch(void **state)
{
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	struct seen *seen = seen_new();
	char path[128], name[128], want[128];

	need_private();
	ctx = ctx_at(private_root);
	db = open_at(ctx);

	assert_int_equal(ops->lookup(db, "guard-lib", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 2);
	snprintf(want, sizeof(want), "guard-lib:%s 1.0", native_arch);
	assert_true(seen_has(seen, want));
	snprintf(want, sizeof(want), "guard-lib:%s 1.0", foreign_arch);
	assert_true(seen_has(seen, want));
	seen_clear(seen);

	/* The shared file belongs to both instances. */
	assert_int_equal(ops->owners(db, "/usr/share/doc/guard-lib/README", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 2);
	seen_clear(seen);

	assert_int_equal(ops->files(db, "guard-lib", seen_path, seen), 0);
	snprintf(path, sizeof(path), "/usr/lib/guard-lib/%s.txt", native_arch);
	assert_true(seen_has(seen, path));
	snprintf(path, sizeof(path), "/usr/lib/guard-lib/%s.txt", foreign_arch);
	assert_true(seen_has(seen, path));
	seen_clear(seen);

	snprintf(name, sizeof(name), "guard-lib:%s", foreign_arch);
	assert_int_equal(ops->files(db, name, seen_path, seen), 0);
	assert_true(seen_has(seen, path));
	assert_true(seen_has(seen, "/usr/share/doc/guard-lib/README"));
	snprintf(path, sizeof(path), "/usr/lib/guard-lib/%s.txt", native_arch);
	assert_false(seen_has(seen, path));
	seen_clear(seen);

	snprintf(path, sizeof(path), "/usr/lib/guard-lib/%s.txt", foreign_arch);
	snprintf(want, sizeof(want), "guard-lib:%s 1.0", foreign_arch);
	check_owner(db, path, want);

	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(seen);
}

static void test_private_config_files(void **state)
{
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	struct seen *seen = seen_new();

	need_private();
	ctx = ctx_at(private_root);
	db = open_at(ctx);

	/* Removed, not purged: only the conffile is left, and it counts for nothing. */
	assert_int_equal(ops->lookup(db, "guard-gone", seen_pkg, seen), -PKGUARD_ENOPKG);
	assert_int_equal(ops->files(db, "guard-gone", seen_path, seen), -PKGUARD_ENOPKG);
	check_owner(db, "/etc/guard-gone.conf", "");

	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(seen);
}

/*
 * A root whose database we write by hand, for the cases dpkg itself would not
 * produce: DIR/var/lib/dpkg with STATUS and, for package x, X_LIST.
 */
static void make_root(char *root, size_t size, const char *name, const char *status,
		      const char *x_list)
{
	char path[512];

	snprintf(root, size, "%s/%s", tmpdir, name);
	assert_int_equal(
		run_shell("mkdir -p %s/var/lib/dpkg/updates %s/var/lib/dpkg/info", root, root), 0);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", root);
	assert_int_equal(write_file(path, status), 0);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/info/x.list", root);
	assert_int_equal(write_file(path, x_list), 0);
}

static const char x_status[] = "Package: x\nStatus: install ok installed\nVersion: 1\n"
			       "Architecture: all\nMaintainer: pkguard <pkguard@example.invalid>\n"
			       "Description: x\n";

/* libdpkg would exit(2) on these files lists; we refuse them instead. */
static void test_malformed_list(void **state)
{
	static const struct {
		const char *list, *why;
	} cases[] = {
		{"/.\n/opt/x", "line 2: missing final newline"},
		{"/.\n\n/opt/x\n", "line 2: empty file name"},
		{"/.\n/\n", "line 2: empty file name"},
	};
	char root[sizeof(tmpdir) + 16], list[sizeof(root) + 64];
	const char *opt_x = "/opt/x";
	struct seen *seen = seen_new();
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	const char *msg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_root(root, sizeof(root), "badlist", x_status, cases[i].list);
		snprintf(list, sizeof(list), "%s/var/lib/dpkg/info/x.list", root);
		ctx = ctx_at(root);
		db = open_at(ctx);

		assert_int_equal(ops->files(db, "x", seen_path, seen), -PKGUARD_EBACKEND);
		msg = pkguard_ctx_errmsg(ctx);
		assert_non_null(strstr(msg, list));
		assert_non_null(strstr(msg, cases[i].why));
		assert_int_equal(ops->owners(db, "/opt/x", seen_pkg, seen), -PKGUARD_EBACKEND);
		assert_int_equal(seen->n, 0);
		assert_int_equal(ops->owners_many(db, &opt_x, 1, seen_owner, seen),
				 -PKGUARD_EBACKEND);
		assert_non_null(strstr(pkguard_ctx_errmsg(ctx), cases[i].why));
		assert_int_equal(seen->n, 0);
		/* Our refusal is not a libdpkg failure: the rest still works. */
		assert_int_equal(ops->lookup(db, "x", seen_pkg, seen), 0);
		assert_int_equal(seen->n, 1);
		seen_clear(seen);

		ops->close(db);
		pkguard_ctx_free(ctx);
	}
	seen_free(seen);
}

/* An ohshit() inside libdpkg comes back as an error, and the next open works. */
static void test_broken_status(void **state)
{
	char root[sizeof(tmpdir) + 16], status[sizeof(root) + 64];
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db = NULL;
	const char *msg;

	/* A stanza without a Package field is an error, not a warning. */
	make_root(root, sizeof(root), "badstatus", "Status: install ok installed\nVersion: 1\n",
		  "");
	snprintf(status, sizeof(status), "%s/var/lib/dpkg/status", root);
	ctx = ctx_at(root);

	assert_int_equal(ops->open(ctx, &db), -PKGUARD_EBACKEND);
	assert_null(db);
	msg = pkguard_ctx_errmsg(ctx);
	assert_non_null(strstr(msg, "libdpkg: "));
	assert_non_null(strstr(msg, status));
	assert_null(strchr(msg, '\n'));

	assert_int_equal(write_file(status, x_status), 0);
	db = open_at(ctx);
	assert_int_equal(ops->lookup(db, "guard-demo", seen_pkg, NULL), -PKGUARD_ENOPKG);
	ops->close(db);
	pkguard_ctx_free(ctx);
}

/* After a libdpkg error a database answers nothing until it is reopened. */
static void test_dpkg_error_sticks(void **state)
{
	char root[sizeof(tmpdir) + 16], format[sizeof(root) + 64];
	struct seen *seen = seen_new();
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;

	make_root(root, sizeof(root), "badformat", x_status, "/.\n/opt\n/opt/x\n");
	snprintf(format, sizeof(format), "%s/var/lib/dpkg/info/format", root);
	assert_int_equal(write_file(format, "99\n"), 0);
	ctx = ctx_at(root);
	db = open_at(ctx);

	/* libdpkg reads the info database format for the first files list. */
	assert_int_equal(ops->owners(db, "/opt/x", seen_pkg, seen), -PKGUARD_EBACKEND);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "libdpkg: info database format (99)"));
	assert_int_equal(ops->lookup(db, "x", seen_pkg, seen), -PKGUARD_EBACKEND);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "after a libdpkg error"));
	assert_int_equal(seen->n, 0);
	ops->close(db);

	assert_int_equal(write_file(format, "1\n"), 0);
	db = open_at(ctx);
	assert_int_equal(ops->owners(db, "/opt/x", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 1);
	assert_string_equal(seen->items[0], "x:all 1");
	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(seen);
}

/* A digest of what files() yields: how many paths, and an FNV-1a hash of them in order. */
struct digest {
	uint64_t hash;
	size_t n;
};

static int digest_path(void *userdata, const struct pkguard_pkginfo *pkg, const char *path)
{
	struct digest *d = userdata;
	const char *c;

	for (c = path; *c; c++)
		d->hash = (d->hash ^ (unsigned char)*c) * 0x100000001b3ull;
	d->hash = (d->hash ^ '\n') * 0x100000001b3ull;
	d->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What lookup() and files() of NAME answer in DB, as one string. */
static char *describe(struct pkguard_pkgdb *db, const char *name)
{
	struct seen *seen = seen_new();
	struct digest d = {0xcbf29ce484222325ull, 0};
	int lookup_rc, files_rc;
	char *text = NULL, *out;
	size_t i;

	lookup_rc = ops->lookup(db, name, seen_pkg, seen);
	files_rc = ops->files(db, name, digest_path, &d);
	qsort(seen->items, seen->n, sizeof(seen->items[0]), cmp_str);
	assert_true(asprintf(&text, "%s: lookup %d files %d: %zu paths %016llx;", name, lookup_rc,
			     files_rc, d.n, (unsigned long long)d.hash) > 0);
	for (i = 0; i < seen->n; i++) {
		assert_true(asprintf(&out, "%s %s", text, seen->items[i]) > 0);
		free(text);
		text = out;
	}
	seen_free(seen);
	return text;
}

static struct pkguard_pkgdb *open_for_at(struct pkguard_ctx *ctx, const char *const *names,
					 size_t n)
{
	struct pkguard_pkgdb *db = NULL;
	int rc;

	rc = ops->open_for(ctx, names, n, &db);
	if (rc != 0)
		fail_msg("open_for: %d %s", rc, pkguard_ctx_errmsg(ctx));
	assert_non_null(db);
	return db;
}

/*
 * open_for() of each name answers lookup() and files() as open() does: for
 * every package of ROOT, by itself and with the others of NAMES.
 */
static void check_open_for(const char *root, char **names, size_t n)
{
	struct pkguard_ctx *ctx = ctx_at(root);
	struct pkguard_pkgdb *db = open_at(ctx);
	char **whole = calloc(n, sizeof(*whole)), *some;
	size_t i;

	assert_non_null(whole);
	for (i = 0; i < n; i++)
		whole[i] = describe(db, names[i]);
	ops->close(db);
	for (i = 0; i < n; i++) {
		db = open_for_at(ctx, (const char *const *)&names[i], 1);
		some = describe(db, names[i]);
		if (strcmp(some, whole[i]) != 0)
			fail_msg("open_for() and open() differ:\n  %s\n  %s", some, whole[i]);
		free(some);
		ops->close(db);
	}
	db = open_for_at(ctx, (const char *const *)names, n);
	for (i = 0; i < n; i++) {
		some = describe(db, names[i]);
		assert_string_equal(some, whole[i]);
		free(some);
		free(whole[i]);
	}
	ops->close(db);
	free(whole);
	pkguard_ctx_free(ctx);
}

/* Every package of the host, with and without ":arch", and one that is not there. */
static void test_host_open_for(void **state)
{
	char **names = NULL, line[512];
	size_t n = 0, cap = 0, i;
	FILE *p;

	need_host();
	p = popen("dpkg-query -W -f '${Package}\\n${binary:Package}\\n' | sort -u", "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			names = realloc(names, (cap + 1) * sizeof(*names));
			assert_non_null(names);
		}
		names[n++] = strdup(line);
	}
	assert_int_equal(pclose(p), 0);
	assert_true(n > 10);
	names[n++] = strdup("pkguard-no-such-package");
	check_open_for("/", names, n);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Both architectures of guard-lib, one of them, a removed package, a diversion. */
static void test_private_open_for(void **state)
{
	char lib_foreign[128], path[512];
	char *names[] = {"guard-lib", lib_foreign, "guard-demo", "guard-gone", "GUARD-DEMO"};
	const char *demo = "guard-demo";
	struct seen *seen = seen_new();
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;

	need_private();
	snprintf(lib_foreign, sizeof(lib_foreign), "guard-lib:%s", foreign_arch);
	check_open_for(private_root, names, sizeof(names) / sizeof(names[0]));

	/* Owners are anyone's: a database of some packages refuses to name them. */
	ctx = ctx_at(private_root);
	db = open_for_at(ctx, &demo, 1);
	assert_int_equal(ops->owners(db, "/bin/guard-demo", seen_pkg, seen), -EINVAL);
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "some packages only"));
	assert_int_equal(ops->owners_many(db, &demo, 1, seen_owner, seen), -EINVAL);
	assert_int_equal(seen->n, 0);
	ops->close(db);

	/* An interrupted dpkg run's journal: the update file wins over status. */
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/updates/0000000000", private_root);
	assert_int_equal(write_file(path, "Package: guard-demo\nStatus: install ok installed\n"
					  "Version: 2.0\nArchitecture: all\n"
					  "Maintainer: pkguard <pkguard@example.invalid>\n"
					  "Description: pkguard test package\n"),
			 0);
	db = open_for_at(ctx, &demo, 1);
	assert_int_equal(ops->lookup(db, "guard-demo", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 1);
	assert_string_equal(seen->items[0], "guard-demo:all 2.0");
	seen_clear(seen);
	ops->close(db);
	check_open_for(private_root, names, sizeof(names) / sizeof(names[0]));
	assert_int_equal(unlink(path), 0);

	pkguard_ctx_free(ctx);
	seen_free(seen);
}

static void debug_logger(void *userdata, enum pkguard_log_level level, const char *msg)
{
	struct seen *seen = userdata;

	if (level == PKGUARD_LOG_DEBUG)
		seen_add(seen, strdup(msg));
}

/*
 * How open_for() picks stanzas, against open() on hand-written status
 * files: a field name in any case, a "Package:" in another field's
 * continuation line (not a field), a package name in capitals; and what it
 * leaves to libdpkg: a carriage return, a stanza without a Package field.
 */
static void test_open_for_picking(void **state)
{
	static const char y_status[] =
		"Package: y\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n"
		"Maintainer: pkguard <pkguard@example.invalid>\nDescription: y\n Package: x\n\n"
		"PACKAGE:  X \t\nStatus: install ok installed\nVersion: 2\nArchitecture: all\n"
		"Maintainer: pkguard <pkguard@example.invalid>\nDescription: x\n";
	char root[sizeof(tmpdir) + 16], status[sizeof(root) + 64];
	char *names[] = {"x", "y", "X", "z"};
	const char *x = "x";
	struct seen *seen = seen_new(), *log = seen_new();
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;

	make_root(root, sizeof(root), "picking", y_status, "/.\n/opt\n/opt/x\n");
	/* A missing files list is a warning that leaks in libdpkg: y has one. */
	snprintf(status, sizeof(status), "%s/var/lib/dpkg/info/y.list", root);
	assert_int_equal(write_file(status, "/.\n/opt\n/opt/y\n"), 0);
	check_open_for(root, names, sizeof(names) / sizeof(names[0]));
	ctx = ctx_at(root);
	pkguard_ctx_set_logger(ctx, debug_logger, log);
	pkguard_ctx_set_log_level(ctx, PKGUARD_LOG_DEBUG);
	db = open_for_at(ctx, &x, 1);
	assert_int_equal(ops->lookup(db, "x", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 1);
	assert_string_equal(seen->items[0], "x:all 2");
	seen_clear(seen);
	/* Only x's stanza was read. */
	assert_int_equal(ops->lookup(db, "y", seen_pkg, seen), -PKGUARD_ENOPKG);
	assert_false(seen_has_prefix(log, "dpkg: reading every package"));
	ops->close(db);

	/* A carriage return: libdpkg reads it all, as open() does. */
	snprintf(status, sizeof(status), "%s/var/lib/dpkg/status", root);
	assert_int_equal(write_file(status, "Package: x\r\nStatus: install ok installed\n"
					    "Version: 1\nArchitecture: all\n"
					    "Maintainer: pkguard <pkguard@example.invalid>\n"
					    "Description: x\n\nPackage: y\n"
					    "Status: install ok installed\nVersion: 1\n"
					    "Architecture: all\n"
					    "Maintainer: pkguard <pkguard@example.invalid>\n"
					    "Description: y\n"),
			 0);
	db = open_for_at(ctx, &x, 1);
	assert_true(seen_has_prefix(log, "dpkg: reading every package"));
	assert_int_equal(ops->lookup(db, "y", seen_pkg, seen), 0);
	seen_clear(seen);
	ops->close(db);
	check_open_for(root, names, sizeof(names) / sizeof(names[0]));
	seen_clear(log);

	/* A stanza without a Package field: libdpkg's error, as from open(). */
	assert_int_equal(write_file(status, "Status: install ok installed\nVersion: 1\n\n"), 0);
	db = NULL;
	assert_int_equal(ops->open_for(ctx, &x, 1, &db), -PKGUARD_EBACKEND);
	assert_null(db);
	assert_true(seen_has_prefix(log, "dpkg: reading every package"));
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), "libdpkg: "));
	assert_non_null(strstr(pkguard_ctx_errmsg(ctx), status));

	pkguard_ctx_free(ctx);
	seen_free(seen);
	seen_free(log);
}

/* After other roots, the host database loads in full again. */
static void test_host_again(void **state)
{
	struct pkguard_ctx *ctx;
	struct pkguard_pkgdb *db;
	struct seen *seen = seen_new();

	need_host();
	ctx = ctx_at("/");
	db = open_at(ctx);
	assert_int_equal(ops->owners(db, "/usr/bin/bash", seen_pkg, seen), 0);
	assert_int_equal(seen->n, 1);
	assert_true(seen_has_prefix(seen, "bash:"));
	assert_int_equal(ops->lookup(db, "guard-demo", seen_pkg, seen), -PKGUARD_ENOPKG);
	ops->close(db);
	pkguard_ctx_free(ctx);
	seen_free(seen);
}

/*
 * test_broken_status leaks by design: libdpkg does not free its parser state
 * when a parse error longjmp()s out of parsedb() (dpkg exits then). The
 * slow unwinder sees through libdpkg, which has no frame pointers, so that
 * the suppression matches. Sanitizer builds call these; others ignore them.
 */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);

const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

const char *__lsan_default_suppressions(void)
{
	return "leak:parsedb\n";
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manages),
		cmocka_unit_test(test_host_files),
		cmocka_unit_test(test_host_owners),
		cmocka_unit_test(test_host_owners_many),
		cmocka_unit_test(test_host_lookup),
		cmocka_unit_test(test_no_database),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_private_files),
		cmocka_unit_test(test_private_owners),
		cmocka_unit_test(test_private_owners_many),
		cmocka_unit_test(test_private_multiarch),
		cmocka_unit_test(test_private_config_files),
		cmocka_unit_test(test_malformed_list),
		cmocka_unit_test(test_broken_status),
		cmocka_unit_test(test_dpkg_error_sticks),
		cmocka_unit_test(test_host_open_for),
		cmocka_unit_test(test_private_open_for),
		cmocka_unit_test(test_open_for_picking),
		cmocka_unit_test(test_host_again),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
