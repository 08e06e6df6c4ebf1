/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rpm hold: dnf's versionlock list and zypper's locks file in scratch
 * roots made by each test, files compared byte for byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hold.h"
#include "pkguard/context.h"
#include "pkguard/error.h"

#define DNF_CONF   "/etc/dnf/plugins/versionlock.conf"
#define DNF_LIST   "/etc/dnf/plugins/versionlock.list"
#define ZYPP_CONF  "/etc/zypp/zypp.conf"
#define ZYPP_LOCKS "/etc/zypp/locks"

/* What Debian's dnf-plugins-core 4.3.1 installs as versionlock.conf. */
#define DNF_CONF_TEXT "[main]\nenabled = 1\nlocklist = /etc/dnf/plugins/versionlock.list\n"

/* An admin's list as `dnf versionlock add bar` and a hand edit leave it. */
#define DNF_ADMIN                                                                                  \
	"# my locks\n"                                                                             \
	"\n"                                                                                       \
	"# Added lock on Mon Nov 16 10:00:00 2026\n"                                               \
	"bar-0:2.1-3.fc39.*\n"                                                                     \
	"!baz-0:1.0-1.*\n"

/* An admin's locks as `zypper addlock bar` writes them (serialize()). */
#define ZYPP_ADMIN                                                                                 \
	"\n"                                                                                       \
	"type: package\n"                                                                          \
	"match_type: glob\n"                                                                       \
	"case_sensitive: on\n"                                                                     \
	"solvable_name: bar\n"                                                                     \
	"\n"

struct fixture {
	char root[64];
	struct pkguard_ctx *ctx;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *path_in(struct fixture *fx, const char *path)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", fx->root, path);
	return buf[i];
}

static void mkdirs(struct fixture *fx, const char *path)
{
	char sub[256];
	const char *p;

	for (p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
		snprintf(sub, sizeof(sub), "%.*s", p != NULL ? (int)(p - path) : (int)strlen(path),
			 path);
		if (mkdir(path_in(fx, sub), 0755) < 0)
			assert_int_equal(errno, EEXIST);
		if (p == NULL)
			break;
	}
}

static void put(struct fixture *fx, const char *path, const char *text)
{
	FILE *f = fopen(path_in(fx, path), "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The file's contents (owned: free()), or NULL when there is none. */
static char *get(struct fixture *fx, const char *path)
{
	FILE *f = fopen(path_in(fx, path), "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int c;

	if (f == NULL)
		return NULL;
	mem = open_memstream(&buf, &len);
	assert_non_null(mem);
	while ((c = fgetc(f)) != EOF)
		fputc(c, mem);
	fclose(mem);
	fclose(f);
	return buf;
}

static void assert_file(struct fixture *fx, const char *path, const char *want)
{
	char *got = get(fx, path);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void with_dnf(struct fixture *fx, const char *list)
{
	mkdirs(fx, "/etc/dnf/plugins");
	put(fx, DNF_CONF, DNF_CONF_TEXT);
	if (list != NULL)
		put(fx, DNF_LIST, list);
}

static void with_zypp(struct fixture *fx, const char *locks)
{
	mkdirs(fx, "/etc/zypp");
	put(fx, ZYPP_CONF, "[main]\n# locksfile.path = /etc/zypp/locks\n");
	if (locks != NULL)
		put(fx, ZYPP_LOCKS, locks);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	umask(022);
	snprintf(fx->root, sizeof(fx->root), "/tmp/pkguard-test-rpmhold.XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	/* A root directory others can write to would be refused, as it should. */
	assert_int_equal(chmod(fx->root, 0755), 0);
	assert_int_equal(pkguard_ctx_new(&fx->ctx), 0);
	assert_int_equal(pkguard_ctx_set_root(fx->ctx, fx->root), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	pkguard_ctx_free(fx->ctx);
	free(fx);
	return 0;
}

/* ---- dnf ---- */

static void test_dnf_place_lift(void **state)
{
	struct fixture *fx = *state;

	with_dnf(fx, DNF_ADMIN);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1.fc39", true), 0);
	assert_file(fx, DNF_LIST, DNF_ADMIN "# pkguard: deferred foo\nfoo-0:1.0-1.fc39.*\n");
	/* Held now, by pkguard: nothing more to do, and nothing to count. */
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1.fc39", true), 1);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 0);
	assert_file(fx, DNF_LIST, DNF_ADMIN);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 1);
	assert_file(fx, DNF_LIST, DNF_ADMIN);
}

static void test_dnf_epoch_and_new_list(void **state)
{
	struct fixture *fx = *state;
	struct stat st;

	/* No list yet: created 0644. An epoch is kept as given. */
	with_dnf(fx, NULL);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "lightningd", "2:24.08-1", true), 0);
	assert_file(fx, DNF_LIST, "# pkguard: deferred lightningd\nlightningd-2:24.08-1.*\n");
	assert_int_equal(stat(path_in(fx, DNF_LIST), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "lightningd", NULL, false), 0);
	assert_file(fx, DNF_LIST, "");
}

static void test_dnf_no_final_newline(void **state)
{
	struct fixture *fx = *state;

	with_dnf(fx, "bar-0:1-1.*");
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1-2", true), 0);
	assert_file(fx, DNF_LIST, "bar-0:1-1.*\n# pkguard: deferred foo\nfoo-0:1-2.*\n");
}

static void test_dnf_admin_entry(void **state)
{
	struct fixture *fx = *state;
	static const char *const lists[] = {
		DNF_ADMIN "\n# Added lock on Tue Nov 17 10:00:00 2026\nfoo-0:1.0-1.*\n",
		"!foo-0:2.0-1.*\n",	   /* an exclude */
		"  foo  \n",		   /* a bare name, spaces stripped by dnf */
		"foo.x86_64\n",		   /* NAME.ARCH */
		"foo-1.0-1.fc39.noarch\n", /* NEVRA without epoch */
		"fo*\n",		   /* a glob */
	};
	size_t i;

	with_dnf(fx, NULL);
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		put(fx, DNF_LIST, lists[i]);
		assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 1);
		assert_file(fx, DNF_LIST, lists[i]);
		/* The admin's entry is never pkguard's to lift. */
		assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 1);
		assert_file(fx, DNF_LIST, lists[i]);
	}
}

static void test_dnf_other_names(void **state)
{
	struct fixture *fx = *state;
#define OTHERS "foo-libs-0:1.0-1.*\nlibfoo-0:1.0-1.*\n"

	/* foo-libs and libfoo are not foo. */
	with_dnf(fx, OTHERS);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 0);
	assert_file(fx, DNF_LIST, OTHERS "# pkguard: deferred foo\nfoo-0:1.0-1.*\n");
#undef OTHERS
}

static void test_dnf_lift_keeps_admin(void **state)
{
	struct fixture *fx = *state;
	/* pkguard's mark above an entry for another package is not pkguard's
	 * entry; an admin's entry for foo without the mark neither. */
	static const char before[] = "# keep\n"
				     "# pkguard: deferred foo\n"
				     "bar-0:1-1.*\n"
				     "# pkguard: deferred foo\n"
				     "foo-0:1.0-1.*\n"
				     "foo-0:0.9-1.*\n"
				     "# trailing comment\n";
	static const char after[] = "# keep\n"
				    "# pkguard: deferred foo\n"
				    "bar-0:1-1.*\n"
				    "foo-0:0.9-1.*\n"
				    "# trailing comment\n";

	with_dnf(fx, before);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 0);
	assert_file(fx, DNF_LIST, after);
}

static void test_dnf_disabled(void **state)
{
	struct fixture *fx = *state;
	static const char list[] = "# pkguard: deferred foo\nfoo-0:1.0-1.*\n";

	with_dnf(fx, list);
	put(fx, DNF_CONF, "[main]\nenabled = 0\nlocklist = /etc/dnf/plugins/versionlock.list\n");
	/* A disabled plugin holds nothing: no hold placed... */
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "bar", "1-1", true), -ENOTSUP);
	assert_file(fx, DNF_LIST, list);
	/* ...but pkguard's entry is still lifted from it. */
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 0);
	assert_file(fx, DNF_LIST, "");
}

static void test_dnf_locklist_elsewhere(void **state)
{
	struct fixture *fx = *state;

	with_dnf(fx, NULL);
	mkdirs(fx, "/etc/locks");
	put(fx, DNF_CONF, "[main]\nlocklist = /etc/locks/vl.list\n");
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 0);
	assert_file(fx, "/etc/locks/vl.list", "# pkguard: deferred foo\nfoo-0:1.0-1.*\n");
	assert_null(get(fx, DNF_LIST));
}

/* ---- zypper ---- */

#define ZYPP_OURS(name)                                                                            \
	"\n"                                                                                       \
	"type: package\n"                                                                          \
	"match_type: exact\n"                                                                      \
	"case_sensitive: on\n"                                                                     \
	"solvable_name: " name "\n"                                                                \
	"comment: pkguard: deferred " name "\n"                                                    \
	"\n"

static void test_zypp_place_lift(void **state)
{
	struct fixture *fx = *state;
	static const char admin[] = "# admin's note\n" ZYPP_ADMIN;

	with_zypp(fx, admin);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 0);
	assert_file(fx, ZYPP_LOCKS, "# admin's note\n" ZYPP_ADMIN ZYPP_OURS("foo"));
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 1);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 0);
	assert_file(fx, ZYPP_LOCKS, admin);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 1);
}

static void test_zypp_new_file(void **state)
{
	struct fixture *fx = *state;

	/* /etc/zypp without zypp.conf nor locks: the defaults. */
	mkdirs(fx, "/etc/zypp");
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 0);
	assert_file(fx, ZYPP_LOCKS, ZYPP_OURS("foo"));
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 0);
	assert_file(fx, ZYPP_LOCKS, "");
}

static void test_zypp_after_rewrite(void **state)
{
	struct fixture *fx = *state;
	/* libzypp rewrote the file after pkguard's hold: its own order, "#"
	 * lines gone, records back to back. Only pkguard's record goes. */
	static const char before[] = "\nsolvable_name: foo\ntype: package\n"
				     "comment: pkguard: deferred foo\nmatch_type: exact\n"
				     "case_sensitive: on\n\n" ZYPP_ADMIN;
	static const char after[] = ZYPP_ADMIN;

	with_zypp(fx, before);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 0);
	assert_file(fx, ZYPP_LOCKS, after);
}

static void test_zypp_admin_entry(void **state)
{
	struct fixture *fx = *state;
	static const char *const locks[] = {
		ZYPP_ADMIN "\ntype: package\nmatch_type: glob\ncase_sensitive: on\n"
			   "solvable_name: fo*\n\n",
		/* Old style, no match_type: a case-insensitive substring. */
		"solvable_name: FO\n",
		/* A versioned lock names the package too. */
		"\nsolvable_name: foo > 1\nmatch_type: exact\n\n",
		/* Someone else's comment. */
		"\ntype: package\nmatch_type: exact\ncase_sensitive: on\nsolvable_name: foo\n"
		"comment: do not touch\n\n",
	};
	size_t i;

	with_zypp(fx, NULL);
	for (i = 0; i < sizeof(locks) / sizeof(locks[0]); i++) {
		put(fx, ZYPP_LOCKS, locks[i]);
		assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 1);
		assert_file(fx, ZYPP_LOCKS, locks[i]);
		assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 1);
		assert_file(fx, ZYPP_LOCKS, locks[i]);
	}
	/* A lock of a pattern, or of another package, does not hold foo. */
	put(fx, ZYPP_LOCKS,
	    "\ntype: pattern\nmatch_type: exact\nsolvable_name: foo\n\n" ZYPP_ADMIN);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 0);
}

static void test_zypp_locksfile_path(void **state)
{
	struct fixture *fx = *state;

	with_zypp(fx, ZYPP_ADMIN);
	mkdirs(fx, "/var/lib/zypp");
	put(fx, ZYPP_CONF, "[main]\nlocksfile.path = /var/lib/zypp/mylocks\n");
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), 0);
	assert_file(fx, "/var/lib/zypp/mylocks", ZYPP_OURS("foo"));
	assert_file(fx, ZYPP_LOCKS, ZYPP_ADMIN);

	/* locksfile.apply = false: libzypp ignores the file, so no new hold. */
	put(fx, ZYPP_CONF, "[main]\nlocksfile.apply = false\n");
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "bar2", "1.0-1", true), -ENOTSUP);
}

/* ---- both, neither ---- */

static void test_both(void **state)
{
	struct fixture *fx = *state;

	with_dnf(fx, DNF_ADMIN);
	with_zypp(fx, ZYPP_ADMIN);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "3:1.0-1", true), 0);
	assert_file(fx, DNF_LIST, DNF_ADMIN "# pkguard: deferred foo\nfoo-3:1.0-1.*\n");
	assert_file(fx, ZYPP_LOCKS, ZYPP_ADMIN ZYPP_OURS("foo"));
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), 0);
	assert_file(fx, DNF_LIST, DNF_ADMIN);
	assert_file(fx, ZYPP_LOCKS, ZYPP_ADMIN);

	/* bar is the admin's in both: nothing to do. In one only: placed in
	 * the other, and lifted from there alone. */
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "bar", "1-1", true), 1);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "baz", "1.0-1", true), 0);
	assert_file(fx, DNF_LIST, DNF_ADMIN);
	assert_file(fx, ZYPP_LOCKS, ZYPP_ADMIN ZYPP_OURS("baz"));
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "baz", NULL, false), 0);
	assert_file(fx, ZYPP_LOCKS, ZYPP_ADMIN);
}

static void test_both_undo(void **state)
{
	struct fixture *fx = *state;

	/* zypper's file cannot be used: the dnf hold just placed goes again. */
	with_dnf(fx, DNF_ADMIN);
	with_zypp(fx, ZYPP_ADMIN);
	assert_int_equal(chmod(path_in(fx, ZYPP_LOCKS), 0666), 0);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -PKGUARD_EUNSAFE);
	assert_non_null(strstr(pkguard_ctx_errmsg(fx->ctx), path_in(fx, ZYPP_LOCKS)));
	assert_file(fx, DNF_LIST, DNF_ADMIN);
}

static void test_neither(void **state)
{
	struct fixture *fx = *state;

	/* A root with rpm alone. */
	mkdirs(fx, "/var/lib/rpm");
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -ENOTSUP);
	assert_non_null(strstr(pkguard_ctx_errmsg(fx->ctx), fx->root));
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, false), -ENOTSUP);
	/* dnf itself, without the versionlock plugin, is no front-end here. */
	mkdirs(fx, "/etc/dnf/plugins");
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -ENOTSUP);
}

/* ---- refusals ---- */

static void test_unsafe_world_writable(void **state)
{
	struct fixture *fx = *state;

	with_dnf(fx, DNF_ADMIN);
	assert_int_equal(chmod(path_in(fx, DNF_LIST), 0646), 0);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -PKGUARD_EUNSAFE);
	assert_non_null(strstr(pkguard_ctx_errmsg(fx->ctx), path_in(fx, DNF_LIST)));
	assert_file(fx, DNF_LIST, DNF_ADMIN);

	/* A writable configuration could point the list anywhere. */
	assert_int_equal(chmod(path_in(fx, DNF_LIST), 0644), 0);
	assert_int_equal(chmod(path_in(fx, DNF_CONF), 0664), 0);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -PKGUARD_EUNSAFE);
	assert_non_null(strstr(pkguard_ctx_errmsg(fx->ctx), path_in(fx, DNF_CONF)));

	/* So could a writable directory. */
	assert_int_equal(chmod(path_in(fx, DNF_CONF), 0644), 0);
	assert_int_equal(chmod(path_in(fx, "/etc/dnf/plugins"), 0777), 0);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -PKGUARD_EUNSAFE);
	assert_file(fx, DNF_LIST, DNF_ADMIN);
}

static void test_unsafe_symlink(void **state)
{
	struct fixture *fx = *state;

	with_dnf(fx, NULL);
	put(fx, "/etc/target", "precious\n");
	assert_int_equal(symlink(path_in(fx, "/etc/target"), path_in(fx, DNF_LIST)), 0);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -PKGUARD_EUNSAFE);
	assert_non_null(strstr(pkguard_ctx_errmsg(fx->ctx), "symbolic link"));
	assert_file(fx, "/etc/target", "precious\n");

	/* A dangling one must not create its target either. */
	with_zypp(fx, NULL);
	assert_int_equal(unlink(path_in(fx, DNF_LIST)), 0);
	put(fx, DNF_LIST, "");
	assert_int_equal(symlink(path_in(fx, "/etc/created"), path_in(fx, ZYPP_LOCKS)), 0);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -PKGUARD_EUNSAFE);
	assert_null(get(fx, "/etc/created"));
	assert_file(fx, DNF_LIST, "");

	/* A hard link to another file. */
	assert_int_equal(unlink(path_in(fx, ZYPP_LOCKS)), 0);
	assert_int_equal(link(path_in(fx, "/etc/target"), path_in(fx, ZYPP_LOCKS)), 0);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -PKGUARD_EUNSAFE);
	assert_file(fx, "/etc/target", "precious\n");
}

static void test_unsafe_fifo(void **state)
{
	struct fixture *fx = *state;

	/* Must not hang on a FIFO planted as the list. */
	with_dnf(fx, NULL);
	assert_int_equal(mkfifo(path_in(fx, DNF_LIST), 0644), 0);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1", true), -PKGUARD_EUNSAFE);
}

static void test_bad_words(void **state)
{
	struct fixture *fx = *state;

	with_dnf(fx, "");
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo\nbar-0:1-1.*", "1-1", true), -EINVAL);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "fo*", "1-1", true), -EINVAL);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "", "1-1", true), -EINVAL);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", NULL, true), -EINVAL);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0", true), -EINVAL);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "x:1.0-1", true), -EINVAL);
	assert_int_equal(pkguard_rpm_hold(fx->ctx, "foo", "1.0-1 ", true), -EINVAL);
	assert_file(fx, DNF_LIST, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dnf_place_lift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnf_epoch_and_new_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnf_no_final_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnf_admin_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnf_other_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnf_lift_keeps_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnf_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dnf_locklist_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zypp_place_lift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zypp_new_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zypp_after_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zypp_admin_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zypp_locksfile_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neither, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_world_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_words, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
