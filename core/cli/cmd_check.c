/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pkguard check PKG...: what would happen if these packages were upgraded now. */
#include <errno.h>
#include <stdlib.h>

#include "run.h"

static int run_check(struct cli *cli, int argc, char **argv)
{
	struct run_target *targets;
	struct run r = {.cli = cli, .mode = RUN_DRY, .entry = "check"};
	int i, rc;

	if (argc < 2)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE, "check: name at least one package");
	targets = calloc((size_t)argc, sizeof(*targets));
	if (!targets)
		return pkguard_fail(cli->ctx, -ENOMEM, "check");
	for (i = 1; i < argc; i++)
		targets[i - 1] = (struct run_target){argv[i], NULL};
	rc = run_execute(&r, targets, (size_t)argc - 1);
	if (rc == 0)
		rc = run_report(&r);
	/* The verdict decides: an upgrade now would be refused, or would wait. */
	if (rc == 0 && pkguard_action_rank(r.verdict) >= pkguard_action_rank(PKGUARD_ACTION_WAIT) &&
	    r.verdict != PKGUARD_ACTION_RESTART)
		rc = CLI_IN_USE;
	run_release(&r);
	free(targets);
	return rc;
}

const struct pkguard_command cmd_check = {
	.name = "check",
	.args = "PKG...",
	.summary = "what would happen if these packages were upgraded now (no side effects)",
	.run = run_check,
};
