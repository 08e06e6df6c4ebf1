/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pkguard check PKG...: what would happen if these packages were upgraded now. */
#include <errno.h>
#include <stdlib.h>

#include "run.h"

static int run_check(struct cli *cli, int argc, char **argv)
{
	struct pkguard_run_target *targets;
	struct pkguard_run_opts opts = cli_run_opts(cli, PKGUARD_RUN_DRY, "check");
	struct pkguard_run r = {0};
	int i, rc;

	if (argc < 2)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE, "check: name at least one package");
	targets = calloc((size_t)argc, sizeof(*targets));
	if (!targets)
		return pkguard_fail(cli->ctx, -ENOMEM, "check");
	for (i = 1; i < argc; i++)
		targets[i - 1] = (struct pkguard_run_target){.name = argv[i]};
	rc = pkguard_run_execute(&r, cli->ctx, &opts, targets, (size_t)argc - 1);
	if (rc == -PKGUARD_EPARSE || rc == -PKGUARD_EUNSAFE)
		rc = -PKGUARD_EUSAGE; /* a configuration error: exit 2 */
	if (rc == 0)
		rc = run_report(cli, &r);
	/* The verdict decides: an upgrade now would be refused, or would wait. */
	if (rc == 0 && pkguard_action_rank(r.verdict) >= pkguard_action_rank(PKGUARD_ACTION_WAIT) &&
	    r.verdict != PKGUARD_ACTION_RESTART)
		rc = CLI_IN_USE;
	pkguard_run_release(&r);
	free(targets);
	return rc;
}

const struct pkguard_command cmd_check = {
	.name = "check",
	.args = "PKG...",
	.summary = "what would happen if these packages were upgraded now (no side effects)",
	.run = run_check,
	.prefault = true,
};
