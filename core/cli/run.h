/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The program's side of a run (the run itself is libpkguard's, pkguard/run.h):
 * check's report, and the hooks' entry points.
 */
#ifndef PKGUARD_CLI_RUN_H
#define PKGUARD_CLI_RUN_H

#include "cli.h"
#include "pkguard/run.h"

/*
 * A real run for a hook: pkguard_run_execute(), the hook's messages on
 * stderr, and CLI_IN_USE (exit 1) only for a deliberate refusal (block or
 * defer).
 */
int cli_hook_run(struct cli *cli, const char *entry, const struct pkguard_run_target *targets,
		 size_t n);

/*
 * A hook that cannot even find its targets (a malformed protocol stream)
 * fails open like any internal error (pkguard_run_fail_open()). Returns 0,
 * or CLI_IN_USE for on-error = block.
 */
int cli_hook_fail_open(struct cli *cli, const char *entry, const char *stage);

/* The package managers' pre-transaction protocols (hook_apt.c, hook_dpkg.c). */
int hook_apt(struct cli *cli, int argc, char **argv);
int hook_dpkg(struct cli *cli, int argc, char **argv);

/* The per-package report (check's output): stdout, text or JSON. */
int run_report(struct cli *cli, const struct pkguard_run *r);

#endif
