/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: apt's DPkg::Pre-Install-Pkgs stream (protocol 2 and 3) on literal text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apthook.h"
#include "pkguard/error.h"

/* What apt 2.6 wrote for a real run (trimmed config dump). */
#define V3_HEAD                                                                                    \
	"VERSION 3\n"                                                                              \
	"APT::Architecture=amd64\n"                                                                \
	"APT::Architectures::=amd64\n"                                                             \
	"APT::Architectures::=i386\n"                                                              \
	"Acquire::IndexTargets::deb::Packages::flatDescription=$(RELEASE)%20Packages\n"            \
	"DPkg::Pre-Install-Pkgs::=PKGUARD_APT_HOOK=1%20sh%20-c%20'if%20[%20-x%20/usr/sbin/"        \
	"pkguard%20];%20then%20exec%20/usr/sbin/pkguard%20hook%20apt;%20fi'\n"                     \
	"DPkg::Tools::Options::PKGUARD_APT_HOOK%3d1::Version=3\n"                                  \
	"DPkg::Tools::Options::PKGUARD_APT_HOOK%3d1::InfoFD=3\n"                                   \
	"\n"

#define V2_HEAD                                                                                    \
	"VERSION 2\n"                                                                              \
	"APT::Architecture=amd64\n"                                                                \
	"\n"

static void parse_ok(const char *text, struct pkguard_apt_hook *h)
{
	int rc = pkguard_apt_hook_parse(text, strlen(text), h);

	if (rc != 0)
		fail_msg("parse failed (%d): %s", rc, h->error);
	assert_string_equal(h->error, "");
}

/* The stream is refused, with "line N: " and WANT in the message (N 0: no line). */
static void parse_bad_n(const char *text, size_t len, unsigned line, const char *want)
{
	struct pkguard_apt_hook h;
	char prefix[32];
	int rc;

	rc = pkguard_apt_hook_parse(text, len, &h);
	if (rc != -PKGUARD_EPARSE)
		fail_msg("expected -PKGUARD_EPARSE, got %d for %.60s", rc, text);
	if (line) {
		snprintf(prefix, sizeof(prefix), "line %u: ", line);
		if (strncmp(h.error, prefix, strlen(prefix)) != 0)
			fail_msg("'%s' does not start with '%s'", h.error, prefix);
	}
	if (!strstr(h.error, want))
		fail_msg("'%s' does not say '%s'", h.error, want);
	assert_int_equal(h.n_targets, 0);
	pkguard_apt_hook_release(&h);
}

static void parse_bad(const char *text, unsigned line, const char *want)
{
	parse_bad_n(text, strlen(text), line, want);
}

static const struct pkguard_apt_target *target(const struct pkguard_apt_hook *h, size_t i)
{
	assert_true(i < h->n_targets);
	return &h->targets[i];
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void check_target(const struct pkguard_apt_target *t, const char *name, const char *old,
			 const char *old_arch, const char *new, const char *new_arch, bool remove)
{
	assert_string_equal(t->name, name);
	assert_string_equal(t->old_version, old);
	assert_str_or_null(t->old_arch, old_arch);
	assert_str_or_null(t->new_version, new);
	assert_str_or_null(t->new_arch, new_arch);
	assert_int_equal(t->remove, remove);
}

static void test_v3_every_kind(void **state)
{
	struct pkguard_apt_hook h;

	parse_ok(
		V3_HEAD
		"up 1.0 amd64 foreign < 2.0 amd64 foreign "
		"/var/cache/apt/archives/up_2.0_amd64.deb\n"
		"down 2:1.5-3 all none > 2:1.4-1 all none /var/cache/apt/archives/down.deb\n"
		"same 1.0~rc1+b1 amd64 none = 1.0~rc1+b1 amd64 none /var/cache/apt/archives/s.deb\n"
		"gone 3.1 amd64 none > - - none **REMOVE**\n"
		"fresh - - none < 1.0 all none /var/cache/apt/archives/fresh_1.0_all.deb\n"
		"up 1.0 amd64 foreign < 2.0 amd64 foreign **CONFIGURE**\n"
		"fresh - - none < 1.0 all none **CONFIGURE**\n"
		"pending 1.0 amd64 none = 1.0 amd64 none **CONFIGURE**\n",
		&h);
	assert_int_equal(h.version, 3);
	assert_string_equal(h.native_arch, "amd64");
	assert_int_equal(h.n_lines, 8);
	assert_int_equal(h.n_fresh, 1);
	assert_int_equal(h.n_configure, 3);
	assert_int_equal(h.n_targets, 4);
	check_target(target(&h, 0), "up", "1.0", "amd64", "2.0", "amd64", false);
	check_target(target(&h, 1), "down", "2:1.5-3", "all", "2:1.4-1", "all", false);
	check_target(target(&h, 2), "same", "1.0~rc1+b1", "amd64", "1.0~rc1+b1", "amd64", false);
	check_target(target(&h, 3), "gone", "3.1", "amd64", NULL, NULL, true);
	assert_int_equal(target(&h, 0)->line, 10);
	assert_int_equal(target(&h, 3)->line, 13);
	pkguard_apt_hook_release(&h);
	/* Released: zeroed, and releasing again is harmless. */
	assert_null(h.targets);
	pkguard_apt_hook_release(&h);
}

static void test_v2_every_kind(void **state)
{
	struct pkguard_apt_hook h;

	parse_ok(V2_HEAD "up 1.0 < 2.0 /var/cache/apt/archives/up_2.0_amd64.deb\n"
			 "down 1.5 > 1.4 /var/cache/apt/archives/down.deb\n"
			 "again 1.0 = 1.0 /var/cache/apt/archives/again.deb\n"
			 "gone 3.1 > - **REMOVE**\n"
			 "fresh - < 1.0 /var/cache/apt/archives/fresh.deb\n"
			 "up 1.0 < 2.0 **CONFIGURE**\n"
			 "fresh - < 1.0 **CONFIGURE**\n",
		 &h);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.n_lines, 7);
	assert_int_equal(h.n_fresh, 1);
	assert_int_equal(h.n_configure, 2);
	assert_int_equal(h.n_targets, 4);
	check_target(target(&h, 0), "up", "1.0", NULL, "2.0", NULL, false);
	check_target(target(&h, 1), "down", "1.5", NULL, "1.4", NULL, false);
	check_target(target(&h, 2), "again", "1.0", NULL, "1.0", NULL, false);
	check_target(target(&h, 3), "gone", "3.1", NULL, NULL, NULL, true);
	pkguard_apt_hook_release(&h);
}

/* Only Multi-Arch: same instances carry their arch: dpkg can have several side by side. */
static void test_multiarch_names(void **state)
{
	struct pkguard_apt_hook h;

	parse_ok(V3_HEAD "libfoo 1.0 i386 same < 2.0 i386 same /a/libfoo_2.0_i386.deb\n"
			 "libfoo 1.0 amd64 same < 2.0 amd64 same /a/libfoo_2.0_amd64.deb\n"
			 "libfoo 1.0 i386 same < 2.0 i386 same **CONFIGURE**\n"
			 "libfoo 1.0 amd64 same < 2.0 amd64 same **CONFIGURE**\n"
			 "tool 1.0 i386 foreign < 2.0 i386 foreign /a/tool_2.0_i386.deb\n"
			 "py 1.0 all allowed < 2.0 all allowed /a/py.deb\n"
			 "odd 1.0 all same < 2.0 all same /a/odd.deb\n"
			 "libbar 1.0 armhf same > - - none **REMOVE**\n"
			 "cross 1.0 amd64 none > - - none **REMOVE**\n"
			 "cross - - none < 1.0 i386 none /a/cross_1.0_i386.deb\n",
		 &h);
	assert_int_equal(h.n_targets, 7);
	check_target(target(&h, 0), "libfoo:i386", "1.0", "i386", "2.0", "i386", false);
	check_target(target(&h, 1), "libfoo:amd64", "1.0", "amd64", "2.0", "amd64", false);
	/* A foreign-arch package that is not M-A: same has one instance: its plain name. */
	check_target(target(&h, 2), "tool", "1.0", "i386", "2.0", "i386", false);
	check_target(target(&h, 3), "py", "1.0", "all", "2.0", "all", false);
	check_target(target(&h, 4), "odd", "1.0", "all", "2.0", "all", false);
	check_target(target(&h, 5), "libbar:armhf", "1.0", "armhf", NULL, NULL, true);
	/* A crossgrade: the old instance goes, the new one is a fresh install. */
	check_target(target(&h, 6), "cross", "1.0", "amd64", NULL, NULL, true);
	assert_int_equal(h.n_fresh, 1);
	pkguard_apt_hook_release(&h);

	/* Version 2 has no arch: the plain name covers every instance. */
	parse_ok(V2_HEAD "libfoo 1.0 < 2.0 /a/libfoo_2.0_i386.deb\n"
			 "libfoo 1.0 < 2.0 /a/libfoo_2.0_amd64.deb\n",
		 &h);
	assert_int_equal(h.n_targets, 1);
	check_target(target(&h, 0), "libfoo", "1.0", NULL, "2.0", NULL, false);
	pkguard_apt_hook_release(&h);
}

/* apt removes a package and unpacks it again later in one run to break a loop. */
static void test_remove_then_unpack(void **state)
{
	struct pkguard_apt_hook h;

	parse_ok(V3_HEAD "loop 1.0 amd64 none < 2.0 amd64 none **REMOVE**\n"
			 "other 1.0 amd64 none < 2.0 amd64 none /a/other.deb\n"
			 "loop 1.0 amd64 none < 2.0 amd64 none /a/loop_2.0_amd64.deb\n"
			 "loop 1.0 amd64 none < 2.0 amd64 none **CONFIGURE**\n",
		 &h);
	assert_int_equal(h.n_targets, 2);
	check_target(target(&h, 0), "loop", "1.0", "amd64", "2.0", "amd64", false);
	assert_int_equal(target(&h, 0)->line, 10);
	check_target(target(&h, 1), "other", "1.0", "amd64", "2.0", "amd64", false);
	pkguard_apt_hook_release(&h);
}

static void test_actions(void **state)
{
	struct pkguard_apt_hook h;

	/* A .deb path is the rest of the line: it may hold spaces. **ERROR** is an unpack. */
	parse_ok(V3_HEAD "spaced 1.0 all none < 2.0 all none /tmp/my debs/spaced_2.0_all.deb\n"
			 "err 1.0 all none < 2.0 all none **ERROR**\n"
			 "utf 1.0 all none < 2.0 all none /tmp/d\xc3\xa9j\xc3\xa0/utf.deb\n",
		 &h);
	assert_int_equal(h.n_targets, 3);
	check_target(target(&h, 1), "err", "1.0", "all", "2.0", "all", false);
	pkguard_apt_hook_release(&h);

	/* Nothing but the version line and the blank line: a valid, empty run. */
	parse_ok("VERSION 3\n\n", &h);
	assert_int_equal(h.n_targets, 0);
	assert_null(h.native_arch);
	pkguard_apt_hook_release(&h);
}

static void test_percent_decoding(void **state)
{
	struct pkguard_apt_hook h;

	parse_ok("VERSION 3\nAPT::Architecture=x%20y%25z%0aw%7e\n\n", &h);
	assert_string_equal(h.native_arch, "x y%z\nw~");
	pkguard_apt_hook_release(&h);

	/* Keys are decoded too, compared case-insensitively like apt's; uppercase hex decodes. */
	parse_ok("VERSION 3\napt::architectur%65=arm%3A64\nfoo%3dbar::baz=%C3%A9\n\n", &h);
	assert_string_equal(h.native_arch, "arm:64");
	pkguard_apt_hook_release(&h);

	/* Only the first '=' splits: a value may hold more. */
	parse_ok("VERSION 3\nAPT::Architecture=a=b\n\n", &h);
	assert_string_equal(h.native_arch, "a=b");
	pkguard_apt_hook_release(&h);

	parse_bad("VERSION 3\nAPT::Architecture=amd64%\n\n", 2, "malformed percent escape '%'");
	parse_bad("VERSION 3\nAPT::Architecture=amd64%2\n\n", 2, "malformed percent escape '%2'");
	parse_bad("VERSION 3\nAPT::Architecture=%zz64\n\n", 2,
		  "malformed percent escape '%zz' in a config value");
	parse_bad("VERSION 3\nA%g0=1\n\n", 2, "malformed percent escape '%g0' in a config key");
	parse_bad("VERSION 3\nA=%00\n\n", 2, "%00 (a NUL byte) in a config value");
	parse_bad("VERSION 3\nA=b c\n\n", 2, "blank line after them missing?");
	parse_bad("VERSION 3\nA=caf\xc3\xa9\n\n", 2,
		  "byte 0xc3 at column 6 is not percent-encoded");
	parse_bad("VERSION 3\nno-equals-sign\n\n", 2, "expected a config item key=value");
	parse_bad("VERSION 3\n=value\n\n", 2, "empty key");
}

static void test_version_line(void **state)
{
	parse_bad("APT::Architecture=amd64\n\n", 1,
		  "expected 'VERSION 2' or 'VERSION 3', found 'APT::Architecture=amd64'");
	parse_bad("VERSION 1\n\n", 1, "protocol version '1' is not supported");
	parse_bad("VERSION 4\n\n", 1, "protocol version '4' is not supported");
	parse_bad("VERSION 33\n\n", 1, "protocol version '33' is not supported");
	parse_bad("VERSION 3 \n\n", 1, "protocol version '3 ' is not supported");
	parse_bad("version 3\n\n", 1, "expected 'VERSION 2' or 'VERSION 3'");
	parse_bad("\nVERSION 3\n\n", 1, "found an empty line");
	/* Protocol 1: a bare list of .deb paths. */
	parse_bad("/var/cache/apt/archives/a_1_all.deb\n", 1, "apt speaks protocol version 1");
	parse_bad("", 0, "the stream is empty");
}

static void test_framing(void **state)
{
	/* The blank line after the config items is missing, or the stream ends before it. */
	parse_bad("VERSION 3\nA=b\nfoo 1.0 all none < 2.0 all none /a.deb\n", 3,
		  "is the blank line after them missing?");
	parse_bad("VERSION 3\nA=b\n", 0, "the stream ends after line 2, before the blank line");
	parse_bad("VERSION 3\n", 0, "the stream ends after line 1");
	/* A second blank line. */
	parse_bad(V3_HEAD "\nfoo 1.0 all none < 2.0 all none /a.deb\n", 10,
		  "an empty line among the package lines");
	/* Cut short: the last line has no newline. */
	parse_bad(V3_HEAD "foo 1.0 all none < 2.0 all none /a.deb", 10, "cut short");
	parse_bad("VERSION 3", 1, "cut short");
	/* CRLF is not apt's: refused rather than guessed at. */
	parse_bad("VERSION 3\r\n\r\n", 1, "a carriage return at column 10");
	parse_bad(V3_HEAD "foo 1.0 all none < 2.0 all none /a.deb\r\n", 10, "carriage return");
	parse_bad("VERSION 3\nA=\tb\n\n", 2, "control byte 0x09 at column 3");
	parse_bad("VERSION 3\nA=\x7f\n\n", 2, "control byte 0x7f");
}

static void test_nul_bytes(void **state)
{
	static const char cfg[] = "VERSION 3\nA=b\0c\n\n";
	static const char pkg[] = V3_HEAD "foo 1.0 all none < 2.0 all none /a\0.deb\n";
	static const char ver[] = "VERSION 3\0\n\n";

	parse_bad_n(cfg, sizeof(cfg) - 1, 2, "a NUL byte at column 4");
	parse_bad_n(pkg, sizeof(pkg) - 1, 10, "a NUL byte at column 35");
	parse_bad_n(ver, sizeof(ver) - 1, 1, "a NUL byte at column 10");
}

static void test_package_fields(void **state)
{
	/* Too few fields, for each protocol. */
	parse_bad(V3_HEAD "foo 1.0 < 2.0 /a.deb\n", 10,
		  "5 fields where protocol 3 has 9 (NAME OLDVER OLDARCH OLDMA OP NEWVER NEWARCH "
		  "NEWMA ACTION)");
	parse_bad(V3_HEAD "foo\n", 10, "1 field where protocol 3 has 9");
	parse_bad(V2_HEAD "foo 1.0 <\n", 4, "3 fields where protocol 2 has 5");
	/* Too many: the extra words end up in the action. */
	parse_bad(V3_HEAD "foo 1.0 all none < 2.0 all none **CONFIGURE** x\n", 10,
		  "unknown action '**CONFIGURE** x'");
	/* Protocol 3's line sent as protocol 2: its arch lands where the operator goes. */
	parse_bad(V2_HEAD "foo 1.0 all none < 2.0 all none /a.deb\n", 4,
		  "the operator 'all' is none of <, > and =");
	parse_bad(V3_HEAD "foo 1.0 all none << 2.0 all none /a.deb\n", 10, "the operator '<<'");
	parse_bad(V3_HEAD "foo  1.0 all none < 2.0 all none /a.deb\n", 10, "field 2 is empty");
	parse_bad(V3_HEAD " foo 1.0 all none < 2.0 all none /a.deb\n", 10, "field 1 is empty");
	parse_bad(V3_HEAD "foo 1.0 all none < 2.0 all none relative.deb\n", 10,
		  "unknown action 'relative.deb'");
	parse_bad(V3_HEAD "foo/../x 1.0 all none < 2.0 all none /a.deb\n", 10,
		  "invalid package name 'foo/../x'");
	parse_bad(V3_HEAD "-foo 1.0 all none < 2.0 all none /a.deb\n", 10, "invalid package name");
	parse_bad(V3_HEAD "foo:amd64 1.0 all none < 2.0 all none /a.deb\n", 10,
		  "invalid package name 'foo:amd64'");
	parse_bad(V3_HEAD "foo 1.0 all none < 2.0$ all none /a.deb\n", 10,
		  "invalid version '2.0$'");
	parse_bad(V3_HEAD "foo 1.0 am/d64 none < 2.0 all none /a.deb\n", 10,
		  "invalid architecture or Multi-Arch type 'am/d64' in field 3");
	parse_bad(V3_HEAD "foo 1.0 all none < 2.0 all n\xc3\xb6ne /a.deb\n", 10, "in field 8");
	/* The error stops the parse: targets before it are not handed out. */
	parse_bad(V3_HEAD "ok 1.0 all none < 2.0 all none /a.deb\nbad\n", 11, "1 field");
}

static void test_long_lines(void **state)
{
	size_t head = strlen("VERSION 3\nA=");
	size_t len = head + (PKGUARD_APT_HOOK_MAX_LINE - 2) + 2;
	struct pkguard_apt_hook h;
	char *s = malloc(len + 2);

	/* Exactly the longest line: accepted. */
	assert_non_null(s);
	memcpy(s, "VERSION 3\nA=", head);
	memset(s + head, 'x', PKGUARD_APT_HOOK_MAX_LINE - 2);
	memcpy(s + head + PKGUARD_APT_HOOK_MAX_LINE - 2, "\n\n", 2);
	assert_int_equal(pkguard_apt_hook_parse(s, len, &h), 0);
	pkguard_apt_hook_release(&h);

	/* One byte more: refused, with a newline or without one. */
	s[head + PKGUARD_APT_HOOK_MAX_LINE - 2] = 'x';
	memcpy(s + head + PKGUARD_APT_HOOK_MAX_LINE - 1, "\n\n", 2);
	parse_bad_n(s, len + 1, 2, "longer than 65536 bytes");
	parse_bad_n(s, len - 1, 2, "longer than 65536 bytes");
	free(s);
}

/* A huge transaction: many packages, each named twice, merged fast and in order. */
static void test_many_targets(void **state)
{
	size_t n = 20000, i, size = n * 2 * 80 + 64, len;
	struct pkguard_apt_hook h;
	char *s = malloc(size);

	assert_non_null(s);
	len = (size_t)snprintf(s, size, "VERSION 3\n\n");
	for (i = n; i > 0; i--)
		len += (size_t)snprintf(s + len, size - len,
					"pkg%zu 1.%zu amd64 none < 2.%zu amd64 none /a/p%zu.deb\n",
					i, i, i, i);
	for (i = 1; i <= n; i++)
		len += (size_t)snprintf(
			s + len, size - len,
			"pkg%zu 1.%zu amd64 none < 2.%zu amd64 none **CONFIGURE**\n", i, i, i);
	assert_true(len < size);
	assert_int_equal(pkguard_apt_hook_parse(s, len, &h), 0);
	assert_int_equal(h.n_targets, n);
	assert_int_equal(h.n_configure, n);
	/* apt's order: the first line that names each. */
	assert_string_equal(target(&h, 0)->name, "pkg20000");
	assert_string_equal(target(&h, n - 1)->name, "pkg1");
	assert_string_equal(target(&h, n - 1)->new_version, "2.1");
	pkguard_apt_hook_release(&h);
	free(s);
}

/* Input shown in a message is escaped and cut short. */
static void test_messages_are_escaped(void **state)
{
	parse_bad(V3_HEAD "foo 1.0 all none < 2.0 all none \xff\x1b[2J/x.deb\n", 10,
		  "control byte 0x1b");
	parse_bad(V3_HEAD "foo 1.0 all none < 2.0 all none \xff/" /* long, non-UTF-8 action */
			  "0123456789012345678901234567890123456789\n",
		  10, "unknown action '\\xff/01234567890123456789012345678901234567...'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v3_every_kind),
		cmocka_unit_test(test_v2_every_kind),
		cmocka_unit_test(test_multiarch_names),
		cmocka_unit_test(test_remove_then_unpack),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_percent_decoding),
		cmocka_unit_test(test_version_line),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_package_fields),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_many_targets),
		cmocka_unit_test(test_messages_are_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
