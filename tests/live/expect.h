/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The live C tests' one assertion: a line "ok: ..." or "FAIL: ...", failures counted. */
#ifndef PKGUARD_TESTS_LIVE_EXPECT_H
#define PKGUARD_TESTS_LIVE_EXPECT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int failures;

__attribute__((format(printf, 2, 3))) static void expect(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("%s: ", ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	failures += !ok;
}

#endif
