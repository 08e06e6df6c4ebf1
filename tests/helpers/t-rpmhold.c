/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-rpmhold ROOT NAME [EVR]: hold NAME at EVR on ROOT, or lift its hold
 * without EVR, and print "rc CODE MESSAGE". Exits 0 unless the arguments
 * are wrong: the caller judges CODE.
 */
#include <stdio.h>

#include "hold.h"
#include "pkguard/context.h"

int main(int argc, char **argv)
{
	struct pkguard_ctx *ctx = NULL;
	int rc;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: t-rpmhold ROOT NAME [EVR]\n");
		return 2;
	}
	if (pkguard_ctx_new(&ctx) < 0 || pkguard_ctx_set_root(ctx, argv[1]) < 0) {
		fprintf(stderr, "t-rpmhold: cannot use root '%s'\n", argv[1]);
		pkguard_ctx_free(ctx);
		return 2;
	}
	rc = pkguard_rpm_hold(ctx, argv[2], argc == 4 ? argv[3] : NULL, argc == 4);
	printf("rc %d %s\n", rc, pkguard_ctx_errmsg(ctx));
	pkguard_ctx_free(ctx);
	return 0;
}
