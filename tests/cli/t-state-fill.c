/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-state-fill DB SCENARIO: fill a state database through the state API, the
 * way the hooks will, so that the status tests have something to show before
 * any command writes deferrals, holds or stopped units.
 *
 *   full     one of everything status shows, and a few things it must not
 *            (a released deferral, a lifted hold, a unit started again, a
 *            consumed override, an info event)
 *   hostile  the same sections with ESC, CR, LF, '"', '\' and a bidi
 *            override in every string a writer could pass
 *
 * Prints nothing on success; a message and exit status 1 on failure.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pkguard/context.h"
#include "pkguard/state.h"

/* ESC [2J clears the screen, ESC ]0; sets the title, U+202E reverses the text. */
#define EVIL "\033[2J\033]0;owned\a\r\n\"q\"\\b\xe2\x80\xae"

struct names {
	const char *deferred, *held, *unit, *comm, *file, *message, *detail, *origin, *version;
};

static const struct names full = {
	.deferred = "lightningd",
	.held = "lightningd",
	.unit = "postfix.service",
	.comm = "master",
	.file = "/usr/lib/postfix/sbin/master",
	.message = "cannot read '/proc/1234/maps': permission denied",
	.detail = "1 instance (lightningd[4242]) ships 9 helpers",
	.origin = "/etc/pkguard/policy.d/c-lightning.conf:2",
	.version = "24.08-1",
};

static const struct names hostile = {
	.deferred = "evil" EVIL "pkg",
	.held = "held" EVIL,
	.unit = "unit" EVIL ".service",
	.comm = "comm" EVIL,
	.file = "/usr/lib/" EVIL ".so",
	.message = "message" EVIL,
	.detail = "detail" EVIL,
	.origin = "/etc/pkguard/" EVIL ".conf:1",
	.version = "1.0" EVIL,
};

/* RC of the call WHAT: true if it succeeded, else says why. */
static bool ok(struct pkguard_ctx *ctx, int rc, const char *what)
{
	if (rc >= 0)
		return true;
	fprintf(stderr, "t-state-fill: %s: %s\n", what, pkguard_ctx_errmsg(ctx));
	return false;
}

static int fill(struct pkguard_ctx *ctx, struct pkguard_state *st, const struct names *n)
{
	struct pkguard_run_info hook = {"hook apt", "dpkg", "/"}, post = {"post apt", "dpkg", "/"};
	struct pkguard_state_target deferred = {
		.name = n->deferred,
		.old_version = "23.11-1",
		.new_version = n->version,
		.action = "defer",
		.origin = n->origin,
		.detail = n->detail,
	};
	struct pkguard_state_target allowed = {
		.name = "libssl3",
		.old_version = "3.0.11-1",
		.new_version = "3.0.13-1",
		.action = "warn",
		.origin = "default",
		.detail = NULL,
	};
	struct pkguard_state_finding needs[] = {
		{"postfix", 4100, 900, 0, n->comm, n->unit, "exe", n->file},
		{"libssl3", 4100, 900, 0, n->comm, n->unit, "map",
		 "/usr/lib/x86_64-linux-gnu/libssl.so.3"},
		{"libssl3", 4200, 950, 65534, "curl", NULL, "map",
		 "/usr/lib/x86_64-linux-gnu/libssl.so.3"},
		{"libssl3", 4300, 990, 0, "sshd", "ssh.service", "map",
		 "/usr/lib/x86_64-linux-gnu/libssl.so.3"},
	};
	int64_t run1 = 0, run2 = 0;

	/* An older run that deferred, then the newest one, which let libssl3 through. */
	if (!ok(ctx, pkguard_state_run_begin(st, &hook, &run1), "run_begin"))
		return -1;
	if (!ok(ctx, pkguard_state_add_target(st, run1, &deferred), "add_target"))
		return -1;
	if (!ok(ctx, pkguard_state_defer(st, run1, n->deferred, n->version, NULL), "defer"))
		return -1;
	if (!ok(ctx, pkguard_state_defer(st, run1, n->deferred, n->version, NULL), "defer"))
		return -1;
	if (!ok(ctx, pkguard_state_hold_add(st, n->held, "dpkg"), "hold_add"))
		return -1;
	if (!ok(ctx, pkguard_state_add_event(st, run1, "warning", n->message), "add_event"))
		return -1;
	if (!ok(ctx, pkguard_state_run_end(st, run1, "defer", NULL), "run_end"))
		return -1;

	if (!ok(ctx, pkguard_state_run_begin(st, &post, &run2), "run_begin"))
		return -1;
	if (!ok(ctx, pkguard_state_add_target(st, run2, &allowed), "add_target"))
		return -1;
	if (!ok(ctx, pkguard_state_unit_stopped(st, run2, n->unit, "systemd"), "unit_stopped"))
		return -1;
	if (!ok(ctx, pkguard_state_unit_started(st, n->unit, n->message), "unit_started"))
		return -1;
	if (!ok(ctx, pkguard_state_unit_stopped(st, run2, "started-again.service", "systemd"),
		"unit_stopped"))
		return -1;
	if (!ok(ctx, pkguard_state_unit_started(st, "started-again.service", NULL), "unit_started"))
		return -1;
	if (!ok(ctx,
		pkguard_state_needs_restart_set(st, run2, needs, sizeof(needs) / sizeof(needs[0])),
		"needs_restart_set"))
		return -1;
	if (!ok(ctx, pkguard_state_add_event(st, run2, "error", "the deadline passed"),
		"add_event"))
		return -1;
	if (!ok(ctx,
		pkguard_state_add_event(st, run2, "info", "an info event status does not show"),
		"add_event"))
		return -1;
	if (!ok(ctx, pkguard_state_run_end(st, run2, "warn", NULL), "run_end"))
		return -1;

	/* Ended things, which status must not list. */
	if (!ok(ctx, pkguard_state_defer(st, run1, "released-pkg", "1.0", NULL), "defer"))
		return -1;
	if (!ok(ctx, pkguard_state_deferral_end(st, "released-pkg", "released"), "deferral_end"))
		return -1;
	if (!ok(ctx, pkguard_state_hold_add(st, "lifted-pkg", "dpkg"), "hold_add"))
		return -1;
	if (!ok(ctx, pkguard_state_hold_remove(st, "lifted-pkg"), "hold_remove"))
		return -1;
	if (!ok(ctx, pkguard_state_override_add(st, "consumed-pkg", 0), "override_add"))
		return -1;
	if (!ok(ctx, pkguard_state_override_consume(st, "consumed-pkg", run2), "override_consume"))
		return -1;

	if (!ok(ctx, pkguard_state_override_add(st, n->deferred, 0), "override_add"))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct pkguard_ctx *ctx = NULL;
	struct pkguard_state *st = NULL;
	const struct names *n;
	int rc = 1;

	if (argc != 3 || (strcmp(argv[2], "full") != 0 && strcmp(argv[2], "hostile") != 0)) {
		fprintf(stderr, "usage: t-state-fill DB full|hostile\n");
		return 2;
	}
	n = strcmp(argv[2], "full") == 0 ? &full : &hostile;
	if (pkguard_ctx_new(&ctx) < 0) {
		fprintf(stderr, "t-state-fill: out of memory\n");
		return 1;
	}
	if (ok(ctx, pkguard_state_open(ctx, argv[1], &st), "open") && fill(ctx, st, n) == 0)
		rc = 0;
	pkguard_state_close(st);
	pkguard_ctx_free(ctx);
	return rc;
}
