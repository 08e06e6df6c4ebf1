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

int cli_hook_run(struct cli *cli, const char *entry, const struct run_target *targets, size_t n)
{
	struct run r = {.cli = cli, .mode = RUN_ACT, .entry = entry};
	int rc;

	rc = run_execute(&r, targets, n);
	if (rc == 0) {
		run_report_hook(&r, stderr);
		if (r.verdict == PKGUARD_ACTION_BLOCK || r.verdict == PKGUARD_ACTION_DEFER)
			rc = CLI_IN_USE;
	}
	run_release(&r);
	return rc;
}

/* manual: `pkguard hook manual PKG[=NEWVERSION]...`, for an admin's own scripts. */
static int hook_manual(struct cli *cli, int argc, char **argv)
{
	struct run_target *targets;
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
		targets[i] = (struct run_target){argv[i], eq ? eq + 1 : NULL};
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
};

/* The program recorded for a stopped unit tells how to start it again. */
static enum pkguard_service_kind kind_of(const char *program)
{
	const char *base = strrchr(program, '/');

	base = base ? base + 1 : program;
	if (strcmp(base, "systemctl") == 0)
		return PKGUARD_SERVICE_SYSTEMD;
	if (strcmp(base, "rc-service") == 0)
		return PKGUARD_SERVICE_OPENRC;
	return PKGUARD_SERVICE_PROGRAM;
}

struct pending_unit {
	char *unit;
	char *manager;
};

struct pending {
	struct pending_unit *items;
	size_t n;
};

static int collect_unit(void *userdata, const struct pkguard_state_row *row)
{
	struct pending *p = userdata;
	struct pending_unit *items;
	const char *unit = NULL, *manager = NULL;
	size_t i;

	for (i = 0; i < row->n; i++) {
		if (strcmp(row->names[i], "unit") == 0)
			unit = row->values[i];
		else if (strcmp(row->names[i], "manager") == 0)
			manager = row->values[i];
	}
	if (!unit || !manager)
		return 0;
	items = realloc(p->items, (p->n + 1) * sizeof(*items));
	if (!items)
		return -ENOMEM;
	p->items = items;
	p->items[p->n].unit = strdup(unit);
	p->items[p->n].manager = strdup(manager);
	if (!p->items[p->n].unit || !p->items[p->n].manager) {
		free(p->items[p->n].unit);
		free(p->items[p->n].manager);
		return -ENOMEM;
	}
	p->n++;
	return 0;
}

int cli_start_stopped_units(struct cli *cli, struct pkguard_state *st)
{
	struct pending p = {NULL, 0};
	size_t i;
	int rc, failed = 0;

	rc = pkguard_state_list(st, PKGUARD_STATE_STOPPED_UNITS, 0, collect_unit, &p);
	for (i = 0; rc >= 0 && i < p.n; i++) {
		int started = pkguard_service_run(cli->ctx, p.items[i].manager,
						  kind_of(p.items[i].manager), p.items[i].unit,
						  true, 90000);

		if (started < 0) {
			fprintf(stderr, "pkguard: error: cannot start '%s' again: %s\n",
				p.items[i].unit, pkguard_ctx_errmsg(cli->ctx));
			failed++;
		} else {
			fprintf(stderr, "pkguard: started %s again\n", p.items[i].unit);
		}
		rc = pkguard_state_unit_started(st, p.items[i].unit,
						started < 0 ? pkguard_ctx_errmsg(cli->ctx) : NULL);
	}
	for (i = 0; i < p.n; i++) {
		free(p.items[i].unit);
		free(p.items[i].manager);
	}
	free(p.items);
	return rc < 0 ? rc : failed;
}

/*
 * After a transaction (also a failed one): start the units stopped for it,
 * record what now runs replaced code, close the run. It never refuses
 * anything: errors are reported, not returned.
 */
static int run_post(struct cli *cli, int argc, char **argv)
{
	struct pkguard_run_info info = {NULL, cli->backend ? cli->backend->name : NULL,
					pkguard_ctx_root(cli->ctx)};
	struct pkguard_state *st = NULL;
	size_t n_restart = 0;
	int64_t run_id = 0;
	char entry[32];
	int rc;

	if (argc != 2 || (strcmp(argv[1], "manual") != 0 && strcmp(argv[1], "apt") != 0 &&
			  strcmp(argv[1], "dpkg") != 0))
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "post: name the protocol (apt, dpkg or manual)");
	snprintf(entry, sizeof(entry), "post %s", argv[1]);
	info.entry = entry;
	rc = cli_open_state(cli, &st);
	if (rc == 0)
		rc = pkguard_state_run_begin(st, &info, &run_id);
	if (rc == 0)
		rc = cli_start_stopped_units(cli, st);
	if (rc >= 0)
		rc = cli_needs_restart_record(cli, st, run_id, &n_restart);
	if (rc < 0)
		fprintf(stderr, "pkguard: error: post step: %s\n", pkguard_ctx_errmsg(cli->ctx));
	else if (n_restart)
		fprintf(stderr,
			"pkguard: %zu process%s now run%s replaced files: see pkguard "
			"needs-restart\n",
			n_restart, n_restart == 1 ? "" : "es", n_restart == 1 ? "s" : "");
	if (st && run_id)
		pkguard_state_run_end(st, run_id, rc >= 0 ? "done" : "error",
				      rc < 0 ? pkguard_ctx_errmsg(cli->ctx) : NULL);
	pkguard_state_close(st);
	return 0;
}

const struct pkguard_command cmd_post = {
	.name = "post",
	.args = "apt|dpkg|manual",
	.summary = "after a transaction: start stopped units, record needs-restart",
	.run = run_post,
};
