/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard hook PROTOCOL ...: the pre-transaction entry point, and
 * pkguard post PROTOCOL: the post-transaction one.
 *
 * Each package manager's protocol (apt's Pre-Install-Pkgs stream, dpkg's
 * arguments, pacman's NeedsTargets, Portage's environment) becomes a list of
 * targets here; "manual" takes them from the command line, for an admin's own
 * upgrade scripts: `pkguard hook manual PKG[=NEWVERSION]...`.
 *
 * A hook exits non-zero only for a deliberate refusal: an internal error
 * fails open (run.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkguard/act.h"
#include "run.h"

int cli_hook_run(struct cli *cli, const char *entry, const struct pkguard_run_target *targets,
		 size_t n)
{
	struct pkguard_run_opts opts = cli_run_opts(cli, PKGUARD_RUN_ACT, entry);
	struct pkguard_run r = {0};
	int rc;

	rc = pkguard_run_execute(&r, cli->ctx, &opts, targets, n);
	if (rc == 0) {
		pkguard_run_report(&r, stderr);
		if (pkguard_run_refuses(&r))
			rc = CLI_IN_USE;
	}
	pkguard_run_release(&r);
	return rc;
}

int cli_hook_fail_open(struct cli *cli, const char *entry, const char *stage)
{
	struct pkguard_run_opts opts = cli_run_opts(cli, PKGUARD_RUN_ACT, entry);

	return pkguard_run_fail_open(cli->ctx, &opts, stage) ? CLI_IN_USE : 0;
}

/* manual: `pkguard hook manual PKG[=NEWVERSION]...`, for an admin's own scripts. */
static int hook_manual(struct cli *cli, int argc, char **argv)
{
	struct pkguard_run_target *targets;
	int i, rc;

	if (argc < 1)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "hook manual: name at least one package");
	targets = calloc((size_t)argc, sizeof(*targets));
	if (!targets)
		return pkguard_fail(cli->ctx, -ENOMEM, "hook");
	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq)
			*eq = '\0';
		targets[i] = (struct pkguard_run_target){.name = argv[i],
							 .new_version = eq ? eq + 1 : NULL};
	}
	rc = cli_hook_run(cli, "hook manual", targets, (size_t)argc);
	free(targets);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
} protocols[] = {
	{"apt", hook_apt},
	{"dpkg", hook_dpkg},
	{"manual", hook_manual},
};

static int run_hook(struct cli *cli, int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "hook: name the protocol (apt, dpkg or manual)");
	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		if (strcmp(argv[1], protocols[i].name) == 0)
			return protocols[i].run(cli, argc - 2, argv + 2);
	}
	return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE, "hook: unknown protocol '%s'", argv[1]);
}

const struct pkguard_command cmd_hook = {
	.name = "hook",
	.args = "apt|dpkg|manual",
	.summary = "decide and act before a transaction: wait, stop units, defer or refuse",
	.run = run_hook,
	.prefault = true,
};

/*
 * After a transaction (also a failed one): start the units stopped for it,
 * record what now runs replaced code, close the run. It never refuses
 * anything: errors are reported, not returned.
 */
static int run_post(struct cli *cli, int argc, char **argv)
{
	struct pkguard_run_opts opts = cli_run_opts(cli, PKGUARD_RUN_ACT, NULL);
	char entry[32];

	if (argc != 2 || (strcmp(argv[1], "manual") != 0 && strcmp(argv[1], "apt") != 0 &&
			  strcmp(argv[1], "dpkg") != 0))
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "post: name the protocol (apt, dpkg or manual)");
	snprintf(entry, sizeof(entry), "post %s", argv[1]);
	opts.entry = entry;
	pkguard_post(cli->ctx, &opts);
	return 0;
}

const struct pkguard_command cmd_post = {
	.name = "post",
	.args = "apt|dpkg|manual",
	.summary = "after a transaction: start stopped units, record needs-restart",
	.run = run_post,
};
