/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One run: targets → fileset → scan → decision → (acting) → record. check
 * makes a dry run (no waiting, no stopping, no state written); the hooks make
 * a real one. Every backend's entry point ends up here.
 */
#ifndef PKGUARD_CLI_RUN_H
#define PKGUARD_CLI_RUN_H

#include "cli.h"
#include "pkguard/decide.h"

struct run_target {
	const char *name;
	const char *new_version; /* NULL: unknown, or a removal */
};

enum run_mode {
	RUN_DRY, /* decide and report only */
	RUN_ACT, /* wait, stop units, defer, record */
};

/* What became of one target. */
struct run_outcome {
	enum pkguard_action
		action; /* allow, warn, defer or block after acting; as decided when dry */
	char note[256]; /* what acting did, for the report */
	char **units;	/* units stopped for the transaction (owned) */
	size_t n_units;
};

struct run {
	struct cli *cli;
	enum run_mode mode;
	const char *entry; /* "check", "hook manual", ... */
	struct pkguard_config *cfg;
	struct pkguard_state *st; /* NULL when dry and there is no database */
	int64_t run_id;
	struct inspection ins;
	struct pkguard_target_state *tstate;
	struct pkguard_decisions *dec;
	struct run_outcome *out;
	enum pkguard_action verdict;
	bool failed_open; /* an internal error was turned into "allow" */
};

/*
 * Run the decision for TARGETS. In RUN_ACT mode an internal error (config,
 * state, /proc, deadline) fails open: the verdict is allow (or block with
 * on-error = block), the error is reported loudly and recorded, and 0 is
 * returned. In RUN_DRY mode errors are returned (<0, detail in ctx).
 * A target that is not installed is skipped in RUN_ACT mode (nothing of it
 * can be replaced) and an error in RUN_DRY mode.
 */
int run_execute(struct run *r, const struct run_target *targets, size_t n);

void run_release(struct run *r);

/*
 * A real run for a hook: run_execute(), the hook's messages on stderr, and
 * CLI_IN_USE (exit 1) only for a deliberate refusal (block or defer).
 */
int cli_hook_run(struct cli *cli, const char *entry, const struct run_target *targets, size_t n);

/*
 * A hook that cannot even find its targets (a malformed protocol stream)
 * fails open like any internal error: the context's message and STAGE are
 * printed loudly and recorded, and the upgrade goes on unless the
 * configuration says on-error = block. Returns 0, or CLI_IN_USE for block.
 */
int cli_hook_fail_open(struct cli *cli, const char *entry, const char *stage);

/* The package managers' pre-transaction protocols (hook_apt.c, hook_dpkg.c). */
int hook_apt(struct cli *cli, int argc, char **argv);
int hook_dpkg(struct cli *cli, int argc, char **argv);

/* report.c */

/* The per-package report (check's output): stdout, text or JSON. */
int run_report(const struct run *r);

/* What a hook prints on stderr: refusals in full, warnings and waits in short. */
void run_report_hook(const struct run *r, FILE *out);

#endif
