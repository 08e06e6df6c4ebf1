/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests: errors, the context, and escaping of process-controlled text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pkguard/context.h"
#include "pkguard/escape.h"

static void test_strerror(void **state)
{
	assert_string_equal(pkguard_strerror(-PKGUARD_ENOPKG), "package is not installed");
	assert_string_equal(pkguard_strerror(-ENOENT), "No such file or directory");
	assert_string_equal(pkguard_strerror(0), "success");
	assert_string_equal(pkguard_strerror(-99999), "unknown error");
}

static void test_fail_keeps_detail(void **state)
{
	struct pkguard_ctx *ctx;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_string_equal(pkguard_ctx_errmsg(ctx), "");
	assert_int_equal(pkguard_fail(ctx, -EACCES, "cannot open '%s'", "/x"), -EACCES);
	assert_string_equal(pkguard_ctx_errmsg(ctx), "cannot open '/x': Permission denied");
	assert_int_equal(pkguard_ctx_set_root(ctx, "/nonexistent/root"), -ENOENT);
	assert_string_equal(pkguard_ctx_errmsg(ctx),
			    "cannot open directory '/nonexistent/root': No such file or directory");
	/* A failed set_root keeps the previous root. */
	assert_string_equal(pkguard_ctx_root(ctx), "/");
	assert_true(pkguard_ctx_root_is_live(ctx));
	pkguard_ctx_free(ctx);
	pkguard_ctx_free(NULL);
}

struct logbuf {
	char text[512];
	int calls;
};

static void buffer_logger(void *userdata, enum pkguard_log_level level, const char *msg)
{
	struct logbuf *b = userdata;

	b->calls++;
	snprintf(b->text, sizeof(b->text), "%d:%s", (int)level, msg);
}

static void test_logger_and_level(void **state)
{
	struct logbuf b = {{0}, 0};
	struct pkguard_ctx *ctx;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	pkguard_log(ctx, PKGUARD_LOG_ERR, "dropped without a logger");
	pkguard_ctx_set_logger(ctx, buffer_logger, &b);
	pkguard_ctx_set_log_level(ctx, PKGUARD_LOG_WARN);
	pkguard_log(ctx, PKGUARD_LOG_INFO, "too verbose");
	assert_int_equal(b.calls, 0);
	pkguard_log(ctx, PKGUARD_LOG_WARN, "cannot read '%s'", "/proc/1/maps");
	assert_int_equal(b.calls, 1);
	assert_string_equal(b.text, "1:cannot read '/proc/1/maps'");
	pkguard_ctx_free(ctx);
}

static void test_deadline(void **state)
{
	struct pkguard_ctx *ctx;

	assert_int_equal(pkguard_ctx_new(&ctx), 0);
	assert_false(pkguard_ctx_expired(ctx));
	pkguard_ctx_set_deadline(ctx, pkguard_now_ns() - 1);
	assert_true(pkguard_ctx_expired(ctx));
	pkguard_ctx_set_deadline(ctx, pkguard_now_ns() + 60ull * 1000000000ull);
	assert_false(pkguard_ctx_expired(ctx));
	pkguard_ctx_free(ctx);
}

static void check_escape(const char *in, size_t len, const char *want)
{
	char *out = pkguard_escape(in, len);

	assert_non_null(out);
	assert_string_equal(out, want);
	free(out);
}

static void test_escape(void **state)
{
	check_escape("plain", 5, "plain");
	check_escape("a\\b", 3, "a\\\\b");
	check_escape("\x1b[2Jx", 5, "\\x1b[2Jx");
	check_escape("line\nfake\r\t", 11, "line\\nfake\\r\\t");
	check_escape("nul\0x", 5, "nul\\x00x");
	check_escape("del\x7f", 4, "del\\x7f");
	/* Valid UTF-8 passes, invalid bytes are escaped one by one. */
	check_escape("caf\xc3\xa9", 5, "caf\xc3\xa9");
	check_escape("bad\xc3", 4, "bad\\xc3");
	check_escape("\xc0\xaf", 2, "\\xc0\\xaf");	    /* overlong '/' */
	check_escape("\xed\xa0\x80", 3, "\\xed\\xa0\\x80"); /* a surrogate */
	/* Bidi overrides would reorder what the admin reads. */
	check_escape("a\xe2\x80\xae"
		     "b",
		     5, "a\\u{202e}b");
	check_escape("\xe2\x81\xa6", 3, "\\u{2066}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strerror),	 cmocka_unit_test(test_fail_keeps_detail),
		cmocka_unit_test(test_logger_and_level), cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
