/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard resume: release what pkguard holds once it is no longer needed.
 * Units stopped for an upgrade are started again (after a crash the post step
 * never ran); deferrals whose package is no longer in use end, and the holds
 * pkguard placed on them are lifted. A hold the admin placed is never
 * touched: only holds recorded as pkguard's are lifted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

struct names {
	char **items;
	size_t n;
};

static int collect_package(void *userdata, const struct pkguard_state_row *row)
{
	struct names *names = userdata;
	char **items;
	size_t i;

	for (i = 0; i < row->n; i++) {
		if (strcmp(row->names[i], "package") != 0 || !row->values[i])
			continue;
		items = realloc(names->items, (names->n + 1) * sizeof(*items));
		if (!items)
			return -ENOMEM;
		names->items = items;
		names->items[names->n] = strdup(row->values[i]);
		if (!names->items[names->n])
			return -ENOMEM;
		names->n++;
	}
	return 0;
}

/* 1 when PACKAGE is still in use (findings that count), 0 when not, <0. */
static int still_in_use(struct cli *cli, const char *package)
{
	struct pkguard_run_opts opts = cli_run_opts(cli, PKGUARD_RUN_DRY, "resume");
	struct pkguard_run_target target = {.name = package};
	struct pkguard_run r = {0};
	int rc;

	rc = pkguard_run_execute(&r, cli->ctx, &opts, &target, 1);
	if (rc == 0)
		rc = r.dec->n == 1 && r.dec->items[0].n_counted > 0;
	pkguard_run_release(&r);
	return rc;
}

static int release(struct cli *cli, struct pkguard_state *st, const char *package)
{
	int rc = pkguard_state_hold_placed(st, package);

	if (rc == 0) {
		if (cli->backend && cli->backend->hold) {
			rc = cli->backend->hold(cli->ctx, package, NULL, false);
			if (rc < 0)
				return rc;
		}
		rc = pkguard_state_hold_remove(st, package);
		if (rc < 0)
			return rc;
		printf("%s: hold lifted\n", esc(0, package));
	} else if (rc < 0) {
		return rc;
	}
	rc = pkguard_state_deferral_end(st, package, "released");
	if (rc == 0)
		printf("%s: no longer in use, deferral released: the next upgrade installs it\n",
		       esc(0, package));
	return rc < 0 ? rc : 0;
}

static int run_resume(struct cli *cli, int argc, char **argv)
{
	struct pkguard_state *st = NULL;
	struct names deferred = {NULL, 0};
	size_t i;
	int rc, failed;

	if (argc > 1)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE, "resume: unexpected argument '%s'",
				    argv[1]);
	rc = cli_open_state(cli, &st);
	if (rc < 0)
		return rc;
	failed = pkguard_start_stopped_units(cli->ctx, st);
	rc = failed < 0 ? failed : 0;
	if (rc == 0)
		rc = pkguard_state_list(st, PKGUARD_STATE_DEFERRALS, 0, collect_package, &deferred);
	for (i = 0; rc == 0 && i < deferred.n; i++) {
		rc = still_in_use(cli, deferred.items[i]);
		if (rc == 1) {
			printf("%s: still in use, stays deferred\n", esc(0, deferred.items[i]));
			rc = 0;
		} else if (rc == 0) {
			rc = release(cli, st, deferred.items[i]);
		} else if (rc == -PKGUARD_ENOPKG) {
			/* Removed meanwhile: nothing left to hold back. */
			rc = release(cli, st, deferred.items[i]);
		}
	}
	for (i = 0; i < deferred.n; i++)
		free(deferred.items[i]);
	free(deferred.items);
	pkguard_state_close(st);
	if (rc == 0 && failed > 0)
		rc = pkguard_fail(cli->ctx, -PKGUARD_EINTERNAL, "%d unit%s could not be started",
				  failed, failed == 1 ? "" : "s");
	return rc;
}

const struct pkguard_command cmd_resume = {
	.name = "resume",
	.args = "",
	.summary = "start units stopped for an upgrade; release deferrals no longer in use",
	.run = run_resume,
};
