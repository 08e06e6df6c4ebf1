/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading a .deb's Package, Version and Architecture: packages built here
 * with dpkg-deb in each compression dpkg-deb offers, .debs put together by
 * hand with tar and ar for what dpkg-deb would never write, files that are
 * no .deb at all or not regular files, and control stanzas as literal
 * strings. Skips (77) without dpkg-deb, tar or ar.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "debfile.h"

static char tmpdir[] = "/tmp/pkguard-test-debfile.XXXXXX";
static bool have_tools;

/*
 * $1: the directory to fill. dpkg-deb builds demo-x in four compressions
 * and odd-x from a control file with fields in odd case and spacing;
 * hand() builds a .deb from a debian-binary text, a control.tar holding
 * the given files, compressed as told, and an empty data.tar, in that
 * order unless told otherwise.
 */
static const char build_script[] =
	"set -e\n"
	"T=$1; cd $T\n"
	"mkdir -p demo/DEBIAN demo/usr/bin odd/DEBIAN\n"
	"printf 'Package: demo-x\\nVersion: 1.0-1\\nArchitecture: all\\n"
	"Maintainer: pkguard <pkguard@example.invalid>\\nDescription: demo\\n' "
	">demo/DEBIAN/control\n"
	"echo demo >demo/usr/bin/demo-x\n"
	"for z in gzip xz zstd none; do\n"
	"	dpkg-deb -Z$z --root-owner-group --build demo demo-$z.deb >/dev/null\n"
	"done\n"
	"printf 'package:    odd-x+1.y \\nMaintainer: pkguard <pkguard@example.invalid>\\n"
	"X-Custom: first\\n  continued: not a field\\n\\tand tabbed\\n"
	"VERSION:\\t2:1.0~rc1+dfsg-3 \\nDescription: odd\\n long\\n .\\n more\\n"
	"architecture:amd64\\n' >odd/DEBIAN/control\n"
	"dpkg-deb --root-owner-group --build odd odd.deb >/dev/null 2>&1\n"
	"ln -s demo-gzip.deb link.deb\n"
	"hand() {\n"
	"	out=$1; version=$2; z=$3; shift 3\n"
	"	rm -rf h; mkdir -p h/c; cd h\n"
	"	printf \"$version\" >debian-binary\n"
	"	while [ $# -gt 0 ] && [ \"$1\" != -- ]; do\n"
	"		printf \"$2\" >\"c/$1\"; shift 2\n"
	"	done\n"
	"	[ \"${1:-}\" = -- ] && shift\n"
	"	(cd c && tar --owner=0 --group=0 -cf ../control.tar .)\n"
	"	case $z in\n"
	"	gz) gzip -n control.tar; m=control.tar.gz ;;\n"
	"	xz-as-gz) xz control.tar; mv control.tar.xz control.tar.gz; m=control.tar.gz ;;\n"
	"	bz2) bzip2 control.tar; m=control.tar.bz2 ;;\n"
	"	none) m=control.tar ;;\n"
	"	esac\n"
	"	tar -cf data.tar -T /dev/null\n"
	"	echo extra >_extra\n"
	"	ar rc ../$out ${*:-debian-binary $m data.tar}\n"
	"	cd ..; rm -rf h\n"
	"}\n"
	"C='Package: hand-x\\nVersion: 3\\nArchitecture: all\\n'\n"
	"hand hand.deb '2.0\\n' gz control \"$C\"\n"
	"hand underscore.deb '2.0\\n' gz control \"$C\" -- debian-binary _extra control.tar.gz "
	"data.tar\n"
	"hand bad-version.deb '3.0\\n' gz control \"$C\"\n"
	"hand bad-order.deb '2.0\\n' gz control \"$C\" -- control.tar.gz debian-binary data.tar\n"
	"hand data-first.deb '2.0\\n' gz control \"$C\" -- debian-binary data.tar "
	"control.tar.gz\n"
	"hand bz2.deb '2.0\\n' bz2 control \"$C\"\n"
	"hand lying.deb '2.0\\n' xz-as-gz control \"$C\"\n"
	"hand no-control.deb '2.0\\n' gz md5sums 'x  usr/bin/x\\n'\n"
	"hand no-fields.deb '2.0\\n' none control 'Package: hand-x\\nVersion: 3\\n'\n"
	/* tar keeps both ./control entries when appended: the last one counts */
	"mkdir -p two/a two/b\n"
	"printf 'Package: first\\nVersion: 1\\nArchitecture: all\\n' >two/a/control\n"
	"printf 'Package: second\\nVersion: 2\\nArchitecture: all\\n' >two/b/control\n"
	"(cd two/a && tar -cf ../control.tar ./control)\n"
	"(cd two/b && tar -rf ../control.tar ./control)\n"
	"(cd two && printf '2.0\\n' >debian-binary && tar -cf data.tar -T /dev/null &&"
	" ar rc ../two.deb debian-binary control.tar data.tar)\n"
	"mkdir -p sym && ln -s /etc/passwd sym/control\n"
	"(cd sym && tar -cf control.tar ./control && printf '2.0\\n' >debian-binary &&"
	" tar -cf data.tar -T /dev/null && ar rc ../symlink.deb debian-binary control.tar"
	" data.tar)\n"
	"size=$(stat -c %s demo-gzip.deb)\n"
	"head -c 8 demo-gzip.deb >trunc-magic.deb\n"
	"head -c 100 demo-gzip.deb >trunc-header.deb\n"
	"head -c 200 demo-gzip.deb >trunc-control.deb\n"
	"head -c $((size - 10)) demo-gzip.deb >trunc-data.deb\n"
	"echo 'not an archive' >text.deb\n"
	": >empty.deb\n"
	"mkfifo fifo.deb\n"
	"mkdir dir.deb\n";

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

static int group_setup(void **state)
{
	char script[sizeof(tmpdir) + 16];
	FILE *fp;

	if (run_shell("{ command -v dpkg-deb && command -v ar && command -v tar && command -v "
		      "zstd && command -v xz && command -v bzip2; } >/dev/null") < 0)
		return 0;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(script, sizeof(script), "%s/build.sh", tmpdir);
	fp = fopen(script, "w");
	if (!fp)
		return -1;
	fputs(build_script, fp);
	if (fclose(fp) != 0)
		return -1;
	if (run_shell("bash %s %s", script, tmpdir) < 0)
		return -1;
	have_tools = true;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int group_teardown(void **state)
{
	if (!have_tools)
		return 0;
	return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct pkguard_ctx *ctx;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	*state = ctx;
	return 0;
}

/* The tests on files need the files. */
static int setup_files(void **state)
{
	if (!have_tools)
		skip();
	return setup(state);
}

static int teardown(void **state)
{
	pkguard_ctx_free(*state);
	return 0;
}

/* Read $tmpdir/NAME. */
static int read_deb(struct pkguard_ctx *ctx, const char *name, struct pkguard_debinfo *info)
{
	char path[sizeof(tmpdir) + 64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return pkguard_debfile_read(ctx, AT_FDCWD, path, info);
}

static void assert_info(const struct pkguard_debinfo *info, const char *package,
			const char *version, const char *arch)
{
	assert_string_equal(info->package, package);
	assert_string_equal(info->version, version);
	assert_string_equal(info->architecture, arch);
}

static void assert_fails(struct pkguard_ctx *ctx, const char *name, int code, const char *text)
{
	struct pkguard_debinfo info;

	assert_int_equal(read_deb(ctx, name, &info), code);
	if (!strstr(pkguard_ctx_errmsg(ctx), text) || !strstr(pkguard_ctx_errmsg(ctx), name))
		fail_msg("%s: message '%s' lacks '%s' or the name", name, pkguard_ctx_errmsg(ctx),
			 text);
	/* Nothing half-read is left behind. */
	assert_string_equal(info.package, "");
}

static void test_compressions(void **state)
{
	static const char *const names[] = {"demo-gzip.deb", "demo-xz.deb", "demo-zstd.deb",
					    "demo-none.deb"};
	struct pkguard_debinfo info;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(read_deb(*state, names[i], &info), 0);
		assert_info(&info, "demo-x", "1.0-1", "all");
	}
}

static void test_odd_control(void **state)
{
	struct pkguard_debinfo info;

	assert_int_equal(read_deb(*state, "odd.deb", &info), 0);
	assert_info(&info, "odd-x+1.y", "2:1.0~rc1+dfsg-3", "amd64");
}

static void test_relative_and_symlink(void **state)
{
	struct pkguard_debinfo info;
	int dir = open(tmpdir, O_RDONLY | O_DIRECTORY);

	assert_true(dir >= 0);
	/* A symlink is followed, as dpkg follows it (apt's --recursive directory). */
	assert_int_equal(pkguard_debfile_read(*state, dir, "link.deb", &info), 0);
	assert_info(&info, "demo-x", "1.0-1", "all");
	close(dir);
}

static void test_hand_made(void **state)
{
	struct pkguard_debinfo info;

	assert_int_equal(read_deb(*state, "hand.deb", &info), 0);
	assert_info(&info, "hand-x", "3", "all");
	/* Members named _* before control.tar are skipped, as dpkg-deb skips them. */
	assert_int_equal(read_deb(*state, "underscore.deb", &info), 0);
	assert_info(&info, "hand-x", "3", "all");
	/* dpkg extracts control.tar whole: a later control file replaces an earlier one. */
	assert_int_equal(read_deb(*state, "two.deb", &info), 0);
	assert_info(&info, "second", "2", "all");
}

static void test_malformed(void **state)
{
	const int parse = -PKGUARD_EPARSE;

	assert_fails(*state, "bad-version.deb", parse, "format version");
	assert_fails(*state, "bad-order.deb", parse, "debian-binary");
	assert_fails(*state, "data-first.deb", parse, "unexpected member 'data.tar'");
	assert_fails(*state, "bz2.deb", parse, "unknown compression");
	assert_fails(*state, "lying.deb", parse, "control.tar");
	assert_fails(*state, "no-control.deb", parse, "no control file");
	assert_fails(*state, "no-fields.deb", parse, "no Architecture");
	assert_fails(*state, "symlink.deb", parse, "not a regular file");
	assert_fails(*state, "text.deb", parse, "not a valid .deb");
	assert_fails(*state, "empty.deb", parse, "not a valid .deb");
}

static void test_truncated(void **state)
{
	assert_fails(*state, "trunc-magic.deb", -PKGUARD_EPARSE, "not a valid .deb");
	assert_fails(*state, "trunc-header.deb", -PKGUARD_EPARSE, "not a valid .deb");
	assert_fails(*state, "trunc-control.deb", -PKGUARD_EPARSE, "not a valid .deb");
}

/* data.tar is never read: a .deb cut short there still names its package. */
static void test_data_not_read(void **state)
{
	struct pkguard_debinfo info;

	assert_int_equal(read_deb(*state, "trunc-data.deb", &info), 0);
	assert_info(&info, "demo-x", "1.0-1", "all");
}

static void test_not_regular(void **state)
{
	struct pkguard_debinfo info;

	/* Refused before any open: a FIFO with no writer would block a plain open. */
	assert_fails(*state, "fifo.deb", -PKGUARD_EUNSAFE, "not a regular file");
	assert_fails(*state, "dir.deb", -PKGUARD_EUNSAFE, "not a regular file");
	assert_int_equal(pkguard_debfile_read(*state, AT_FDCWD, "/dev/null", &info),
			 -PKGUARD_EUNSAFE);
	assert_fails(*state, "missing.deb", -ENOENT, "cannot read");
}

/* --- The control stanza, from literal strings --- */

static int parse(struct pkguard_ctx *ctx, const char *text, struct pkguard_debinfo *info)
{
	return pkguard_debfile_parse_control(ctx, "t.deb", text, strlen(text), info);
}

static void test_parse_ok(void **state)
{
	struct pkguard_debinfo info;

	assert_int_equal(parse(*state, "Package: a\nVersion: 1\nArchitecture: all\n", &info), 0);
	assert_info(&info, "a", "1", "all");
	/* Blank lines first, comments, no final newline, a second stanza ignored. */
	assert_int_equal(
		parse(*state,
		      "\n \n# comment\nARCHITECTURE:\tarm64 \t\nversion:0:1.2.3-4~bpo1"
		      "\nX-Odd-Field_1: v\n  Package: nope\nPackage: lib.foo-2+x\n\nPackage"
		      ": other",
		      &info),
		0);
	assert_info(&info, "lib.foo-2+x", "0:1.2.3-4~bpo1", "arm64");
	/* A long Description with continuation lines and a "." paragraph. */
	assert_int_equal(parse(*state,
			       "Package: d\nDescription: x\n more\n .\n\tend\nVersion: 1\n"
			       "Architecture: all",
			       &info),
			 0);
	assert_info(&info, "d", "1", "all");
}

static void assert_parse_fails(struct pkguard_ctx *ctx, const char *text, size_t len,
			       const char *why)
{
	struct pkguard_debinfo info;

	assert_int_equal(pkguard_debfile_parse_control(ctx, "t.deb", text, len, &info),
			 -PKGUARD_EPARSE);
	if (!strstr(pkguard_ctx_errmsg(ctx), why) || !strstr(pkguard_ctx_errmsg(ctx), "t.deb"))
		fail_msg("'%s': message '%s' lacks '%s'", text, pkguard_ctx_errmsg(ctx), why);
	assert_string_equal(info.package, "");
	assert_string_equal(info.version, "");
}

#define PARSE_FAILS(ctx, text, why) assert_parse_fails(ctx, text, sizeof(text) - 1, why)

static void test_parse_bad(void **state)
{
	char long_name[PKGUARD_DEB_NAME_MAX + 64];

	PARSE_FAILS(*state, "", "no Package");
	PARSE_FAILS(*state, "Version: 1\nArchitecture: all\n", "no Package");
	PARSE_FAILS(*state, "Package: a\nArchitecture: all\n", "no Version");
	PARSE_FAILS(*state, "Package: a\nVersion: 1\nVersion: 2\nArchitecture: all\n",
		    "line 3: a second Version");
	PARSE_FAILS(*state, "Package: Foo\nVersion: 1\nArchitecture: all\n",
		    "line 1: invalid Package");
	PARSE_FAILS(*state, "Package: -a\nVersion: 1\nArchitecture: all\n", "invalid Package");
	PARSE_FAILS(*state, "Package: a b\nVersion: 1\nArchitecture: all\n", "invalid Package");
	PARSE_FAILS(*state, "Package:\nVersion: 1\nArchitecture: all\n", "invalid Package");
	PARSE_FAILS(*state, "Package: a\nVersion: 1 2\nArchitecture: all\n", "invalid Version");
	PARSE_FAILS(*state, "Package: a\nVersion: x:1\nArchitecture: all\n", "invalid Version");
	PARSE_FAILS(*state, "Package: a\nVersion: 1:\nArchitecture: all\n", "invalid Version");
	PARSE_FAILS(*state, "Package: a\nVersion: 1\nArchitecture: all\r\n",
		    "invalid Architecture");
	PARSE_FAILS(*state, "Package: a\n b\nVersion: 1\nArchitecture: all\n",
		    "line 2: Package spans several lines");
	PARSE_FAILS(*state, " Package: a\n", "line 1: continuation line before any field");
	PARSE_FAILS(*state, "Package a\n", "line 1: not a \"Field: value\" line");
	PARSE_FAILS(*state, "Pack age: a\n", "invalid field name");
	PARSE_FAILS(*state, ": a\n", "invalid field name");
	PARSE_FAILS(*state, "Package: a\0\nVersion: 1\nArchitecture: all\n", "NUL");
	snprintf(long_name, sizeof(long_name), "Package: %0*d\n", PKGUARD_DEB_NAME_MAX, 0);
	assert_parse_fails(*state, long_name, strlen(long_name), "Package is too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_compressions, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_odd_control, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_relative_and_symlink, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_hand_made, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_data_not_read, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_not_regular, setup_files, teardown),
		cmocka_unit_test_setup_teardown(test_parse_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_bad, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
