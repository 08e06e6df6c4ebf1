/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How a run is shown: check's report on stdout, a hook's messages on stderr. */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

static const char *origin_text(const struct pkguard_origin *o, char *buf, size_t size)
{
	if (!o->file)
		return "built-in default";
	snprintf(buf, size, "%s:%u", o->file, o->line);
	return buf;
}

/* Which setting the decision took: "action", "helpers", ... */
static const char *setting_of(const struct pkguard_decision *d)
{
	return d->why == PKGUARD_WHY_HELPERS ? "helpers" : "action";
}

static void target_title(const struct run *r, size_t t, char *buf, size_t size)
{
	const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
	int n;

	n = snprintf(buf, size, "%s", esc(0, target->name));
	if (n > 0 && (size_t)n < size && target->old_version)
		n += snprintf(buf + n, size - (size_t)n, " %s", esc(0, target->old_version));
	if (n > 0 && (size_t)n < size && target->new_version)
		n += snprintf(buf + n, size - (size_t)n, " -> %s", esc(0, target->new_version));
	if (n > 0 && (size_t)n < size && target->arch)
		snprintf(buf + n, size - (size_t)n, " (%s)", esc(0, target->arch));
}

/* The findings of target T (or the unreadable processes, T = PKGUARD_TARGET_ANY). */
static void findings_table(const struct run *r, size_t t, FILE *out, const char *indent)
{
	static const char *const headers[] = {"REASON",	 "PID",	 "USER", "UNIT",
					      "COMMAND", "FILE", "NOTE"};
	const struct pkguard_findings *f = r->ins.findings;
	struct table tab;
	size_t i;

	table_init(&tab, 7, headers);
	for (i = 0; i < f->n; i++) {
		const struct pkguard_finding *x = &f->items[i];
		const struct pkguard_proc *p = &r->ins.procs->procs[x->proc];
		const char *note = pkguard_finding_note(r->cfg, x, p);
		const char *row[7];
		char pid[16];

		if (x->target != t)
			continue;
		snprintf(pid, sizeof(pid), "%d", (int)p->pid);
		row[0] = pkguard_reason_name(x->reason);
		row[1] = pid;
		row[2] = user_name(p->uid);
		row[3] = p->unit[0] ? esc(1, p->unit) : "-";
		row[4] = esc(2, p->comm);
		row[5] = x->file ? esc(3, x->file->path) : pkguard_strerror(p->error);
		row[6] = note ? note : "";
		if (table_add(&tab, row) < 0)
			break;
	}
	if (tab.nrows)
		table_print(&tab, out, indent);
	table_release(&tab);
}

static void helpers_list(const struct run *r, size_t t, FILE *out, const char *indent)
{
	size_t i;

	for (i = 0; i < pkguard_fileset_n_files(r->ins.fs); i++) {
		const struct pkguard_file *f = pkguard_fileset_file(r->ins.fs, i);

		if (f->target == t && (f->flags & PKGUARD_FILE_HELPER))
			fprintf(out, "%s  %s\n", indent, esc(0, f->path));
	}
}

static size_t n_denied(const struct run *r)
{
	size_t i, n = 0;

	for (i = 0; i < r->ins.findings->n; i++)
		n += r->ins.findings->items[i].reason == PKGUARD_REASON_DENIED;
	return n;
}

static void report_text(const struct run *r)
{
	size_t t;

	for (t = 0; t < r->dec->n; t++) {
		const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
		const struct pkguard_decision *d = &r->dec->items[t];
		char title[512], origin[600];

		target_title(r, t, title, sizeof(title));
		printf("%s: %s: %s\n", title, pkguard_action_name(r->out[t].action), d->detail);
		if (d->origin.file || d->why == PKGUARD_WHY_IN_USE || d->why == PKGUARD_WHY_HELPERS)
			printf("  policy: %s = %s (%s)\n", setting_of(d),
			       pkguard_action_name(d->action),
			       origin_text(&d->origin, origin, sizeof(origin)));
		if (r->out[t].note[0])
			printf("  %s\n", r->out[t].note);
		if (d->action == PKGUARD_ACTION_WAIT && r->out[t].action == PKGUARD_ACTION_WAIT)
			printf("  would wait up to %llu s for them, then %s\n",
			       (unsigned long long)(d->policy.wait_timeout_ms / 1000),
			       pkguard_action_name(d->policy.then));
		findings_table(r, t, stdout, "  ");
		if (d->n_instances && target->n_helpers) {
			printf("  helpers (programs its instances may start later, from the new "
			       "version):\n");
			helpers_list(r, t, stdout, "  ");
		}
	}
	if (n_denied(r)) {
		printf("could not inspect (may use any of the packages):\n");
		findings_table(r, PKGUARD_TARGET_ANY, stdout, "  ");
	}
	printf("verdict: %s; scanned %zu processes in %.3f s\n", pkguard_action_name(r->verdict),
	       r->ins.procs->n_scanned, r->ins.seconds);
}

static json_object *json_str(const char *s)
{
	return s ? json_object_new_string(esc(4, s)) : NULL;
}

static json_object *json_finding(const struct run *r, size_t i)
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

static struct reason_counts count_reasons(const struct run *r, size_t t)
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

static json_object *json_target(const struct run *r, size_t t)
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
			       json_str(origin_text(&d->origin, origin, sizeof(origin))));
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

static int report_json(const struct run *r)
{
	json_object *root = json_object_new_object(), *pkgs = json_object_new_array(), *denied;
	size_t i;

	json_object_object_add(root, "root", json_str(pkguard_ctx_root(r->cli->ctx)));
	json_object_object_add(root, "backend", json_str(r->cli->backend->name));
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

int run_report(const struct run *r)
{
	if (r->cli->json)
		return report_json(r);
	report_text(r);
	return 0;
}

/* The units of target T's counted processes, for "the way out". */
static void way_out(const struct run *r, size_t t, FILE *out)
{
	const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
	const struct pkguard_findings *f = r->ins.findings;
	char units[512] = "";
	size_t i, len = 0;

	for (i = 0; i < f->n && len + 1 < sizeof(units); i++) {
		const struct pkguard_proc *p = &r->ins.procs->procs[f->items[i].proc];

		if (f->items[i].target != t || !r->dec->counts[i] || !p->unit[0] ||
		    strstr(units, p->unit))
			continue;
		len += (size_t)snprintf(units + len, sizeof(units) - len, "%s%s", len ? " " : "",
					esc(0, p->unit));
	}
	if (units[0])
		fprintf(out,
			"pkguard:   way out: stop %s (e.g. systemctl stop %s) and retry, or run\n"
			"pkguard:            pkguard allow --once %s\n",
			units, units, esc(0, target->name));
	else
		fprintf(out,
			"pkguard:   way out: stop the processes above and retry, or run\n"
			"pkguard:            pkguard allow --once %s\n",
			esc(0, target->name));
}

static void refusal(const struct run *r, size_t t, FILE *out)
{
	const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
	const struct pkguard_decision *d = &r->dec->items[t];
	char title[512], origin[600];

	target_title(r, t, title, sizeof(title));
	/* An upgrade, a downgrade, a reinstall or a removal: all replace its files. */
	fprintf(out, "pkguard: %s the change to %s: %s\n",
		r->out[t].action == PKGUARD_ACTION_DEFER ? "deferring" : "refusing", title,
		d->detail);
	fprintf(out, "pkguard:   policy: %s = %s (%s)\n", setting_of(d),
		pkguard_action_name(d->action), origin_text(&d->origin, origin, sizeof(origin)));
	if (r->out[t].note[0])
		fprintf(out, "pkguard:   %s\n", r->out[t].note);
	findings_table(r, t, out, "pkguard:   ");
	if (d->n_instances && target->n_helpers) {
		fprintf(out,
			"pkguard:   it ships helpers that a running instance may start from the "
			"new version:\n");
		helpers_list(r, t, out, "pkguard:   ");
	}
	if (d->policy.message)
		fprintf(out, "pkguard:   %s\n", esc(0, d->policy.message));
	way_out(r, t, out);
}

void run_report_hook(const struct run *r, FILE *out)
{
	size_t t;

	/* After a failure the fail-open message said it all: the outcomes are void. */
	if (!r->dec || !r->out || r->failed_open)
		return;
	for (t = 0; t < r->dec->n; t++) {
		const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
		const struct pkguard_decision *d = &r->dec->items[t];

		switch (r->out[t].action) {
		case PKGUARD_ACTION_BLOCK:
		case PKGUARD_ACTION_DEFER:
			refusal(r, t, out);
			break;
		case PKGUARD_ACTION_WARN:
			if (d->why == PKGUARD_WHY_DENIED && !d->n_instances)
				fprintf(out, "pkguard: warning: %s: %s\n", esc(0, target->name),
					d->detail);
			else
				fprintf(out,
					"pkguard: warning: replacing the files of %s while it is "
					"in use (%s); its processes will run replaced code until "
					"restarted (see pkguard needs-restart)\n",
					esc(0, target->name), d->detail);
			break;
		case PKGUARD_ACTION_ALLOW:
		case PKGUARD_ACTION_WAIT:
		case PKGUARD_ACTION_RESTART:
			if (r->out[t].note[0])
				fprintf(out, "pkguard: %s: %s\n", esc(0, target->name),
					r->out[t].note);
			break;
		}
	}
}
