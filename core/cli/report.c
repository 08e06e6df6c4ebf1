/* SPDX-License-Identifier: GPL-2.0-or-later */
/* check's report of a dry run: text or JSON on stdout. */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

static size_t n_denied(const struct pkguard_run *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->ins.findings->n; i++)
		n += r->ins.findings->items[i].reason == PKGUARD_REASON_DENIED;
	return n;
}

static void report_text(const struct pkguard_run *r)
{
	size_t t;

	for (t = 0; t < r->dec->n; t++) {
		const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
		const struct pkguard_decision *d = &r->dec->items[t];
		char title[512], origin[600];

		pkguard_run_target_title(r, t, title, sizeof(title));
		printf("%s: %s: %s\n", title, pkguard_action_name(r->out[t].action), d->detail);
		if (d->origin.file || d->why == PKGUARD_WHY_IN_USE || d->why == PKGUARD_WHY_HELPERS)
			printf("  policy: %s = %s (%s)\n", pkguard_decision_setting(d),
			       pkguard_action_name(d->action),
			       pkguard_origin_text(&d->origin, origin, sizeof(origin)));
		if (r->out[t].note[0])
			printf("  %s\n", r->out[t].note);
		if (d->action == PKGUARD_ACTION_WAIT && r->out[t].action == PKGUARD_ACTION_WAIT)
			printf("  would wait up to %llu s for them, then %s\n",
			       (unsigned long long)(d->policy.wait_timeout_ms / 1000),
			       pkguard_action_name(d->policy.then));
		pkguard_run_findings(r, t, stdout, "  ");
		if (d->n_instances && target->n_helpers) {
			printf("  helpers (programs its instances may start later, from the new "
			       "version):\n");
			pkguard_run_helpers(r, t, stdout, "  ");
		}
	}
	if (n_denied(r)) {
		printf("could not inspect (may use any of the packages):\n");
		pkguard_run_findings(r, PKGUARD_TARGET_ANY, stdout, "  ");
	}
	printf("verdict: %s; scanned %zu processes in %.3f s\n", pkguard_action_name(r->verdict),
	       r->ins.procs->n_scanned, r->ins.seconds);
}

static json_object *json_str(const char *s)
{
	return s ? json_object_new_string(esc(4, s)) : NULL;
}

static json_object *json_finding(const struct pkguard_run *r, size_t i)
{
	const struct pkguard_finding *x = &r->ins.findings->items[i];
	const char *note = pkguard_finding_note(r->cfg, x, &r->ins.procs->procs[x->proc]);
	json_object *o = cli_json_process(&r->ins, x);

	json_object_object_add(o, "counts", json_object_new_boolean(r->dec->counts[i]));
	json_object_object_add(o, "note", note ? json_object_new_string(note) : NULL);
	return o;
}

/* Distinct processes per reason among all of target T's findings, counted or not. */
struct reason_counts {
	size_t instances, users, lockers;
};

static struct reason_counts count_reasons(const struct pkguard_run *r, size_t t)
{
	const struct pkguard_findings *f = r->ins.findings;
	struct reason_counts c = {0};
	size_t i = 0;

	/* Findings come grouped by process: decide each process once. */
	while (i < f->n) {
		size_t proc = f->items[i].proc;
		bool exe = false, map = false, lock = false;

		for (; i < f->n && f->items[i].proc == proc; i++) {
			if (f->items[i].target != t)
				continue;
			exe |= f->items[i].reason == PKGUARD_REASON_EXE;
			map |= f->items[i].reason == PKGUARD_REASON_MAP;
			lock |= f->items[i].reason == PKGUARD_REASON_LOCK;
		}
		c.instances += exe;
		c.users += map && !exe;
		c.lockers += lock;
	}
	return c;
}

static json_object *json_target(const struct pkguard_run *r, size_t t)
{
	struct reason_counts c = count_reasons(r, t);
	const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
	const struct pkguard_decision *d = &r->dec->items[t];
	json_object *o = json_object_new_object(), *procs, *helpers;
	char origin[600];
	size_t i;

	json_object_object_add(o, "name", json_str(target->name));
	json_object_object_add(o, "version", json_str(target->old_version));
	json_object_object_add(o, "new_version", json_str(target->new_version));
	json_object_object_add(o, "arch", json_str(target->arch));
	json_object_object_add(o, "action",
			       json_object_new_string(pkguard_action_name(r->out[t].action)));
	json_object_object_add(o, "decided",
			       json_object_new_string(pkguard_action_name(d->action)));
	json_object_object_add(o, "why", json_object_new_string(pkguard_why_name(d->why)));
	json_object_object_add(o, "origin",
			       json_str(pkguard_origin_text(&d->origin, origin, sizeof(origin))));
	json_object_object_add(o, "detail", json_str(d->detail));
	json_object_object_add(o, "note", r->out[t].note[0] ? json_str(r->out[t].note) : NULL);
	json_object_object_add(o, "in_use", json_object_new_boolean(d->n_counted > 0));
	json_object_object_add(o, "instances", json_object_new_uint64(c.instances));
	json_object_object_add(o, "users", json_object_new_uint64(c.users));
	json_object_object_add(o, "lock_holders", json_object_new_uint64(c.lockers));
	json_object_object_add(o, "files", json_object_new_uint64(target->n_files));
	procs = json_object_new_array();
	for (i = 0; i < r->ins.findings->n; i++) {
		if (r->ins.findings->items[i].target == t)
			json_object_array_add(procs, json_finding(r, i));
	}
	json_object_object_add(o, "processes", procs);
	helpers = json_object_new_array();
	for (i = 0; i < pkguard_fileset_n_files(r->ins.fs); i++) {
		const struct pkguard_file *f = pkguard_fileset_file(r->ins.fs, i);

		if (f->target == t && (f->flags & PKGUARD_FILE_HELPER))
			json_object_array_add(helpers, json_str(f->path));
	}
	json_object_object_add(o, "helpers", helpers);
	return o;
}

static int report_json(struct cli *cli, const struct pkguard_run *r)
{
	json_object *root = json_object_new_object(), *pkgs = json_object_new_array(), *denied;
	size_t i;

	json_object_object_add(root, "root", json_str(pkguard_ctx_root(cli->ctx)));
	json_object_object_add(root, "backend", json_str(cli->backend->name));
	json_object_object_add(root, "verdict",
			       json_object_new_string(pkguard_action_name(r->verdict)));
	for (i = 0; i < r->dec->n; i++)
		json_object_array_add(pkgs, json_target(r, i));
	json_object_object_add(root, "packages", pkgs);
	denied = json_object_new_array();
	for (i = 0; i < r->ins.findings->n; i++) {
		if (r->ins.findings->items[i].reason == PKGUARD_REASON_DENIED)
			json_object_array_add(denied, json_finding(r, i));
	}
	json_object_object_add(root, "denied", denied);
	json_object_object_add(root, "processes_scanned",
			       json_object_new_uint64(r->ins.procs->n_scanned));
	json_object_object_add(root, "seconds", json_object_new_double(r->ins.seconds));
	return json_print(root);
}

int run_report(struct cli *cli, const struct pkguard_run *r)
{
	if (cli->json)
		return report_json(cli, r);
	report_text(r);
	return 0;
}
