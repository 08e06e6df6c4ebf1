/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a package manager's user reads about a run: refusals in full, the rest in short. */
#include <stdlib.h>
#include <string.h>

#include "pkguard/escape.h"
#include "pkguard/run.h"
#include "pkguard/table.h"

const char *pkguard_origin_text(const struct pkguard_origin *o, char *buf, size_t size)
{
	if (!o->file)
		return "built-in default";
	snprintf(buf, size, "%s:%u", o->file, o->line);
	return buf;
}

const char *pkguard_decision_setting(const struct pkguard_decision *d)
{
	return d->why == PKGUARD_WHY_HELPERS ? "helpers" : "action";
}

void pkguard_run_target_title(const struct pkguard_run *r, size_t t, char *buf, size_t size)
{
	struct pkguard_escslots e = {0};
	const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
	int n;

	n = snprintf(buf, size, "%s", pkguard_escslots(&e, 0, target->name));
	if (n > 0 && (size_t)n < size && target->old_version)
		n += snprintf(buf + n, size - (size_t)n, " %s",
			      pkguard_escslots(&e, 0, target->old_version));
	if (n > 0 && (size_t)n < size && target->new_version)
		n += snprintf(buf + n, size - (size_t)n, " -> %s",
			      pkguard_escslots(&e, 0, target->new_version));
	if (n > 0 && (size_t)n < size && target->arch)
		snprintf(buf + n, size - (size_t)n, " (%s)", pkguard_escslots(&e, 0, target->arch));
	pkguard_escslots_release(&e);
}

/* The findings of target T (or the unreadable processes, T = PKGUARD_TARGET_ANY). */
void pkguard_run_findings(const struct pkguard_run *r, size_t t, FILE *out, const char *indent)
{
	struct pkguard_escslots e = {0};
	uid_t user_uid = 0;
	char user[64] = "";
	static const char *const headers[] = {"REASON",	 "PID",	 "USER", "UNIT",
					      "COMMAND", "FILE", "NOTE"};
	const struct pkguard_findings *f = r->ins.findings;
	struct pkguard_table tab;
	size_t i;

	pkguard_table_init(&tab, 7, headers);
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
		/* Runs of processes share a user: the password database is read once per run. */
		if (p->uid != user_uid || !user[0])
			pkguard_user_name(p->uid, user, sizeof(user));
		user_uid = p->uid;
		row[2] = user;
		row[3] = p->unit[0] ? pkguard_escslots(&e, 1, p->unit) : "-";
		row[4] = pkguard_escslots(&e, 2, p->comm);
		row[5] = x->file ? pkguard_escslots(&e, 3, x->file->path)
				 : pkguard_strerror(p->error);
		row[6] = note ? note : "";
		if (pkguard_table_add(&tab, row) < 0)
			break;
	}
	if (tab.nrows)
		pkguard_table_print(&tab, out, indent);
	pkguard_table_release(&tab);
	pkguard_escslots_release(&e);
}

void pkguard_run_helpers(const struct pkguard_run *r, size_t t, FILE *out, const char *indent)
{
	struct pkguard_escslots e = {0};
	size_t i;

	for (i = 0; i < pkguard_fileset_n_files(r->ins.fs); i++) {
		const struct pkguard_file *f = pkguard_fileset_file(r->ins.fs, i);

		if (f->target == t && (f->flags & PKGUARD_FILE_HELPER))
			fprintf(out, "%s  %s\n", indent, pkguard_escslots(&e, 0, f->path));
	}
	pkguard_escslots_release(&e);
}

/* The units of target T's counted processes, for "the way out". */
static void way_out(const struct pkguard_run *r, size_t t, FILE *out)
{
	struct pkguard_escslots e = {0};
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
					pkguard_escslots(&e, 0, p->unit));
	}
	if (units[0])
		fprintf(out,
			"pkguard:   way out: stop %s (e.g. systemctl stop %s) and retry, or run\n"
			"pkguard:            pkguard allow --once %s\n",
			units, units, pkguard_escslots(&e, 0, target->name));
	else
		fprintf(out,
			"pkguard:   way out: stop the processes above and retry, or run\n"
			"pkguard:            pkguard allow --once %s\n",
			pkguard_escslots(&e, 0, target->name));
	pkguard_escslots_release(&e);
}

static void refusal(const struct pkguard_run *r, size_t t, FILE *out)
{
	struct pkguard_escslots e = {0};
	const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
	const struct pkguard_decision *d = &r->dec->items[t];
	char title[512], origin[600];

	pkguard_run_target_title(r, t, title, sizeof(title));
	/* An upgrade, a downgrade, a reinstall or a removal: all replace its files. */
	fprintf(out, "pkguard: %s the change to %s: %s\n",
		r->out[t].action == PKGUARD_ACTION_DEFER ? "deferring" : "refusing", title,
		d->detail);
	fprintf(out, "pkguard:   policy: %s = %s (%s)\n", pkguard_decision_setting(d),
		pkguard_action_name(d->action),
		pkguard_origin_text(&d->origin, origin, sizeof(origin)));
	if (r->out[t].note[0])
		fprintf(out, "pkguard:   %s\n", r->out[t].note);
	pkguard_run_findings(r, t, out, "pkguard:   ");
	if (d->n_instances && target->n_helpers) {
		fprintf(out,
			"pkguard:   it ships helpers that a running instance may start from the "
			"new version:\n");
		pkguard_run_helpers(r, t, out, "pkguard:   ");
	}
	if (d->policy.message)
		fprintf(out, "pkguard:   %s\n", pkguard_escslots(&e, 0, d->policy.message));
	way_out(r, t, out);
	pkguard_escslots_release(&e);
}

void pkguard_run_report(const struct pkguard_run *r, FILE *out)
{
	struct pkguard_escslots e = {0};
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
				fprintf(out, "pkguard: warning: %s: %s\n",
					pkguard_escslots(&e, 0, target->name), d->detail);
			else
				fprintf(out,
					"pkguard: warning: replacing the files of %s while it is "
					"in use (%s); its processes will run replaced code until "
					"restarted (see pkguard needs-restart)\n",
					pkguard_escslots(&e, 0, target->name), d->detail);
			break;
		case PKGUARD_ACTION_ALLOW:
		case PKGUARD_ACTION_WAIT:
		case PKGUARD_ACTION_RESTART:
			if (r->out[t].note[0])
				fprintf(out, "pkguard: %s: %s\n",
					pkguard_escslots(&e, 0, target->name), r->out[t].note);
			break;
		}
	}
	pkguard_escslots_release(&e);
}
