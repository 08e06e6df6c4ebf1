/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkguard/act.h"
#include "pkguard/escape.h"
#include "pkguard/restarts.h"
#include "pkguard/run.h"

/*
 * An internal error in a real run: the upgrade goes on (or, with
 * on-error = block, is refused), loudly, and the event is recorded.
 */
static int fail_open(struct pkguard_run *r, const char *stage)
{
	bool block = r->cfg && r->cfg->on_error == PKGUARD_ON_ERROR_BLOCK;
	char msg[768];

	snprintf(msg, sizeof(msg), "%s failed: %s; %s the upgrade (on-error = %s)", stage,
		 pkguard_ctx_errmsg(r->ctx), block ? "refusing" : "ALLOWING",
		 block ? "block" : "allow");
	pkguard_log(r->ctx, PKGUARD_LOG_ERR, "%s", msg);
	if (r->st)
		pkguard_state_add_event(r->st, r->run_id, "error", msg);
	r->failed_open = true;
	r->verdict = block ? PKGUARD_ACTION_BLOCK : PKGUARD_ACTION_ALLOW;
	return 0;
}

/* A target whose files the caller listed: the transaction's own view of it. */
static int add_listed(struct pkguard_run *r, const struct pkguard_run_target *target)
{
	size_t t, i;
	int rc;

	rc = pkguard_fileset_add_target(r->ins.fs, target->name, target->arch, target->old_version,
					target->new_version, &t);
	for (i = 0; rc == 0 && i < target->n_files; i++)
		rc = pkguard_fileset_add_path(r->ins.fs, t, target->files[i]);
	return rc;
}

static int add_targets(struct pkguard_run *r, struct pkguard_pkgdb *db,
		       const struct pkguard_run_target *targets, size_t n)
{
	size_t i;
	int rc;

	rc = pkguard_fileset_new(r->ctx, &r->ins.fs);
	for (i = 0; rc == 0 && i < n; i++) {
		if (targets[i].files) {
			rc = add_listed(r, &targets[i]);
			continue;
		}
		rc = db ? pkguard_fileset_add_package(r->opts.backend, db, r->ins.fs,
						      targets[i].name, targets[i].new_version)
			: -PKGUARD_ENOPKG;
		/* Not installed: a fresh install replaces nothing that could be running. */
		if (rc == -PKGUARD_ENOPKG && r->opts.mode != PKGUARD_RUN_DRY) {
			pkguard_log(r->ctx, PKGUARD_LOG_DEBUG, "'%s' is not installed: skipped",
				    targets[i].name);
			rc = 0;
		}
	}
	return rc;
}

/* "libfoo" names every instance, so it matches "libfoo:amd64" too. */
static bool same_package(const char *name, const char *target)
{
	size_t n = strlen(name);

	return strcmp(name, target) == 0 || (strncmp(name, target, n) == 0 && target[n] == ':');
}

static int note_override(void *userdata, const struct pkguard_state_row *row)
{
	struct pkguard_run *r = userdata;
	size_t t;

	for (t = 0; t < pkguard_fileset_n_targets(r->ins.fs); t++) {
		if (row->n > 0 && row->values[0] &&
		    same_package(row->values[0], pkguard_fileset_target(r->ins.fs, t)->name))
			r->tstate[t].override = true;
	}
	return 0;
}

/* What the state knows: pending overrides, active deferrals. */
static int load_target_state(struct pkguard_run *r)
{
	size_t t, n = pkguard_fileset_n_targets(r->ins.fs);
	int rc;

	r->tstate = calloc(n ? n : 1, sizeof(*r->tstate));
	if (!r->tstate)
		return pkguard_fail(r->ctx, -ENOMEM, "cannot decide");
	if (!r->st)
		return 0;
	rc = pkguard_state_list(r->st, PKGUARD_STATE_OVERRIDES, 0, note_override, r);
	for (t = 0; rc == 0 && t < n; t++) {
		struct pkguard_deferral d;

		rc = pkguard_state_deferral(r->st, pkguard_fileset_target(r->ins.fs, t)->name, &d);
		if (rc == 0)
			r->tstate[t].deferred_since = d.first;
		rc = rc == 1 ? 0 : rc;
	}
	return rc;
}

int pkguard_run_open_state(struct pkguard_ctx *ctx, const char *path, struct pkguard_state **st)
{
	int rc;

	/* 1: a corrupt file was moved aside; the state module logged where, loudly. */
	rc = pkguard_state_open(ctx, path ? path : PKGUARD_STATE_DEFAULT_PATH, st);
	return rc == 1 ? 0 : rc;
}

static int open_state(struct pkguard_run *r)
{
	const char *path = r->opts.state_path ? r->opts.state_path : PKGUARD_STATE_DEFAULT_PATH;

	/* A dry run has no side effects: it does not create a database. */
	if (r->opts.mode == PKGUARD_RUN_DRY && access(path, F_OK) != 0)
		return 0;
	return pkguard_run_open_state(r->ctx, path, &r->st);
}

/*
 * The processes whose findings count for target T, each once (findings come
 * grouped by process). *PROCS is owned by the caller (free()). Returns 0 or
 * -ENOMEM with detail in ctx.
 */
static int counted_procs(const struct pkguard_run *r, size_t t, size_t **procs, size_t *n)
{
	const struct pkguard_findings *f = r->ins.findings;
	size_t i;

	*n = 0;
	*procs = malloc((f->n ? f->n : 1) * sizeof(**procs));
	if (!*procs)
		return pkguard_fail(r->ctx, -ENOMEM, "cannot list the processes");
	for (i = 0; i < f->n; i++) {
		if (!r->dec->counts[i] || f->items[i].target != t)
			continue;
		if (*n == 0 || (*procs)[*n - 1] != f->items[i].proc)
			(*procs)[(*n)++] = f->items[i].proc;
	}
	return 0;
}

static bool is_service(const char *unit)
{
	size_t n = strlen(unit);

	return n > 8 && strcmp(unit + n - 8, ".service") == 0 && pkguard_unit_name_valid(unit);
}

/*
 * restart needs a service unit for every process that counts; an instance
 * without one (or no service manager at all) falls back to `then`.
 */
static int restart_fallback(struct pkguard_run *r, size_t t)
{
	struct pkguard_decision *d = &r->dec->items[t];
	enum pkguard_service_kind kind;
	char program[256];
	size_t *procs, n, i;
	int rc;

	if (d->action != PKGUARD_ACTION_RESTART)
		return 0;
	if (pkguard_service_manager(r->ctx, r->cfg->service_manager, program, sizeof(program),
				    &kind) != 0) {
		snprintf(r->out[t].note, sizeof(r->out[t].note),
			 "no service manager to restart with: then %s",
			 pkguard_action_name(d->policy.then));
		r->out[t].action = d->policy.then;
		return 0;
	}
	rc = counted_procs(r, t, &procs, &n);
	for (i = 0; rc == 0 && i < n; i++) {
		const struct pkguard_proc *p = &r->ins.procs->procs[procs[i]];

		if (!is_service(p->unit)) {
			snprintf(r->out[t].note, sizeof(r->out[t].note),
				 "process %d is in no service unit: then %s", (int)p->pid,
				 pkguard_action_name(d->policy.then));
			r->out[t].action = d->policy.then;
			break;
		}
	}
	free(procs);
	return rc;
}

/* Wait for the processes that count and the trusted lockfiles of target T. */
static int act_wait(struct pkguard_run *r, size_t t)
{
	struct pkguard_decision *d = &r->dec->items[t];
	struct pkguard_wait_proc *wp = NULL;
	struct pkguard_wait_lock *wl = NULL;
	struct pkguard_wait_spec spec = {0};
	const char *root = pkguard_ctx_root(r->ctx);
	size_t *procs = NULL, n, i, nl = 0;
	uint64_t t0 = pkguard_now_ns();
	int rc;

	rc = counted_procs(r, t, &procs, &n);
	if (rc < 0)
		goto out;
	wp = calloc(n ? n : 1, sizeof(*wp));
	wl = calloc(pkguard_fileset_n_files(r->ins.fs) + 1, sizeof(*wl));
	if (!wp || !wl) {
		rc = pkguard_fail(r->ctx, -ENOMEM, "cannot wait");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct pkguard_proc *p = &r->ins.procs->procs[procs[i]];

		wp[i] = (struct pkguard_wait_proc){p->pid, p->start_time, p->comm};
	}
	for (i = 0; i < pkguard_fileset_n_files(r->ins.fs); i++) {
		const struct pkguard_file *f = pkguard_fileset_file(r->ins.fs, i);
		char *path;

		/* Only lockfiles that count as evidence are waited for. */
		if (f->target != t || !(f->flags & PKGUARD_FILE_LOCKFILE) || f->uid != 0 ||
		    (f->mode & 022))
			continue;
		/* The probe opens the file where it is: under the root. */
		if (asprintf(&path, "%s%s", strcmp(root, "/") == 0 ? "" : root, f->path) < 0) {
			rc = pkguard_fail(r->ctx, -ENOMEM, "cannot wait");
			goto out;
		}
		wl[nl++] = (struct pkguard_wait_lock){path, f->id};
	}
	spec = (struct pkguard_wait_spec){wp,
					  n,
					  wl,
					  nl,
					  t0 + d->policy.wait_timeout_ms * 1000000,
					  r->opts.wait_progress,
					  r->opts.userdata};
	rc = pkguard_wait(r->ctx, &spec);
	/* Done: the progress line can go. */
	if (r->opts.wait_progress)
		r->opts.wait_progress(r->opts.userdata, NULL, 0);
	if (rc < 0)
		goto out;
	if (rc == 0) {
		r->out[t].action = PKGUARD_ACTION_ALLOW;
		snprintf(r->out[t].note, sizeof(r->out[t].note), "waited %.1f s: no longer in use",
			 (double)(pkguard_now_ns() - t0) / 1e9);
	} else {
		r->out[t].action = d->policy.then;
		snprintf(r->out[t].note, sizeof(r->out[t].note), "%s (after %.0f s): then %s",
			 pkguard_ctx_errmsg(r->ctx), (double)(pkguard_now_ns() - t0) / 1e9,
			 pkguard_action_name(d->policy.then));
	}
	rc = 0;
out:
	for (i = 0; i < nl; i++)
		free((char *)wl[i].path);
	free(wl);
	free(wp);
	free(procs);
	return rc;
}

static int add_unit(struct pkguard_run_outcome *o, const char *unit)
{
	char **units;
	size_t i;

	for (i = 0; i < o->n_units; i++) {
		if (strcmp(o->units[i], unit) == 0)
			return 0;
	}
	units = realloc(o->units, (o->n_units + 1) * sizeof(*units));
	if (!units)
		return -ENOMEM;
	o->units = units;
	o->units[o->n_units] = strdup(unit);
	if (!o->units[o->n_units])
		return -ENOMEM;
	o->n_units++;
	return 0;
}

/* Stop the units of target T's processes; the post step starts them again. */
static int act_restart(struct pkguard_run *r, size_t t)
{
	struct pkguard_decision *d = &r->dec->items[t];
	struct pkguard_run_outcome *o = &r->out[t];
	enum pkguard_service_kind kind;
	char program[256];
	size_t *procs, n, i;
	int rc;

	rc = pkguard_service_manager(r->ctx, r->cfg->service_manager, program, sizeof(program),
				     &kind);
	if (rc != 0)
		return rc < 0 ? rc : -PKGUARD_EINTERNAL;
	rc = counted_procs(r, t, &procs, &n);
	if (rc < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		rc = add_unit(o, r->ins.procs->procs[procs[i]].unit);
	free(procs);
	if (rc < 0)
		return pkguard_fail(r->ctx, rc, "cannot restart");
	for (i = 0; i < o->n_units; i++) {
		/* Recorded first: if we die while it stops, resume still starts it. */
		rc = pkguard_state_unit_stopped(r->st, r->run_id, o->units[i], program);
		if (rc < 0)
			return rc;
		rc = pkguard_service_run(r->ctx, program, kind, o->units[i], false,
					 d->policy.wait_timeout_ms);
		if (rc < 0) {
			o->action = d->policy.then;
			snprintf(o->note, sizeof(o->note), "cannot stop %s: %s: then %s",
				 o->units[i], pkguard_ctx_errmsg(r->ctx),
				 pkguard_action_name(d->policy.then));
			return 0;
		}
	}
	o->action = PKGUARD_ACTION_ALLOW;
	snprintf(o->note, sizeof(o->note),
		 "stopped %zu unit%s; started again after the transaction", o->n_units,
		 o->n_units == 1 ? "" : "s");
	return 0;
}

static int act_defer(struct pkguard_run *r, size_t t)
{
	const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
	struct pkguard_run_outcome *o = &r->out[t];
	struct pkguard_deferral d;
	const char *held;
	int rc;

	rc = pkguard_state_defer(r->st, r->run_id, target->name, target->new_version, &d);
	if (rc < 0)
		return rc;
	o->action = PKGUARD_ACTION_DEFER;
	if (!r->cfg->hold || !r->opts.backend || !r->opts.backend->hold) {
		held = r->cfg->hold ? "; this package manager has no hold pkguard can place"
				    : "; no hold placed (hold = no)";
	} else {
		rc = r->opts.backend->hold(r->ctx, target->name, target->old_version, true);
		if (rc == 0)
			rc = pkguard_state_hold_add(r->st, target->name, r->opts.backend->name);
		else if (rc == 1)
			/* Held already: by an earlier deferral, or by the admin (never ours). */
			rc = pkguard_state_hold_placed(r->st, target->name) == 0 ? 0 : 2;
		if (rc == -ENOTSUP) {
			/* No front-end with a hold here (rpm alone): the deferral is recorded. */
			held = "; this system has no hold pkguard can place";
			pkguard_log(r->ctx, PKGUARD_LOG_DEBUG, "%s", pkguard_ctx_errmsg(r->ctx));
		} else if (rc < 0) {
			/* The refusal stands without the hold; the next run defers again. */
			pkguard_log(r->ctx, PKGUARD_LOG_WARN, "%s", pkguard_ctx_errmsg(r->ctx));
			held = " but not held back (see the warning above)";
		} else if (rc == 2) {
			held = "; the admin's hold on it stays as it is";
		} else {
			held = " and held back; pkguard resume lifts the hold once it is no longer "
			       "in "
			       "use";
		}
	}
	snprintf(o->note, sizeof(o->note), "deferred (%u time%s)%s", d.count,
		 d.count == 1 ? "" : "s", held);
	return 0;
}

/* Use up the override of NAME, recorded as "name:arch" or as the bare "name". */
static int consume_override(struct pkguard_run *r, const char *name)
{
	const char *colon = strchr(name, ':');
	char bare[256];
	int rc;

	rc = pkguard_state_override_consume(r->st, name, r->run_id);
	if (rc == 1 && colon && (size_t)(colon - name) < sizeof(bare)) {
		snprintf(bare, sizeof(bare), "%.*s", (int)(colon - name), name);
		rc = pkguard_state_override_consume(r->st, bare, r->run_id);
	}
	return rc == 1 ? 0 : rc;
}

static int act(struct pkguard_run *r)
{
	size_t t, n = r->dec->n;
	int rc = 0;

	for (t = 0; t < n && rc == 0; t++) {
		const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
		struct pkguard_decision *d = &r->dec->items[t];

		/*
		 * A test transaction (dnf's first pass) comes before the real
		 * one, which must find the same override and deferral.
		 */
		if (r->tstate[t].override && r->opts.mode == PKGUARD_RUN_ACT)
			rc = consume_override(r, target->name);
		if (rc == 0 && d->why == PKGUARD_WHY_DEFER_EXPIRED &&
		    r->opts.mode == PKGUARD_RUN_ACT) {
			char msg[512];

			snprintf(msg, sizeof(msg),
				 "'%s' was deferred for longer than max-defer: releasing it, the "
				 "upgrade goes on",
				 target->name);
			pkguard_log(r->ctx, PKGUARD_LOG_WARN, "%s", msg);
			rc = pkguard_state_deferral_end(r->st, target->name, "expired");
			rc = rc == 1 ? 0 : rc;
			if (rc == 0)
				rc = pkguard_state_add_event(r->st, r->run_id, "warning", msg);
		}
		if (rc < 0 || r->out[t].action != d->action)
			continue; /* already resolved (restart fallback) */
		if (r->opts.mode == PKGUARD_RUN_TEST &&
		    (d->action == PKGUARD_ACTION_WAIT || d->action == PKGUARD_ACTION_RESTART)) {
			r->out[t].action = PKGUARD_ACTION_ALLOW;
			snprintf(r->out[t].note, sizeof(r->out[t].note),
				 "a test transaction: the real one will %s",
				 pkguard_action_name(d->action));
			continue;
		}
		switch (d->action) {
		case PKGUARD_ACTION_WAIT:
			rc = act_wait(r, t);
			break;
		case PKGUARD_ACTION_RESTART:
			rc = act_restart(r, t);
			break;
		case PKGUARD_ACTION_DEFER:
			rc = act_defer(r, t);
			break;
		case PKGUARD_ACTION_ALLOW:
		case PKGUARD_ACTION_WARN:
		case PKGUARD_ACTION_BLOCK:
			break;
		}
	}
	return rc;
}

static char *origin_text(const struct pkguard_origin *o, char *buf, size_t size)
{
	if (o->file)
		snprintf(buf, size, "%s:%u", o->file, o->line);
	else
		snprintf(buf, size, "default");
	return buf;
}

static int record(struct pkguard_run *r)
{
	const struct pkguard_findings *f = r->ins.findings;
	size_t t, i;
	int rc = 0;

	for (t = 0; t < r->dec->n && rc == 0; t++) {
		const struct pkguard_target *target = pkguard_fileset_target(r->ins.fs, t);
		const struct pkguard_decision *d = &r->dec->items[t];
		char origin[600], detail[600];
		struct pkguard_state_target st;

		snprintf(detail, sizeof(detail), "%s%s%s", d->detail, r->out[t].note[0] ? "; " : "",
			 r->out[t].note);
		st = (struct pkguard_state_target){target->name,
						   target->old_version,
						   target->new_version,
						   pkguard_action_name(r->out[t].action),
						   origin_text(&d->origin, origin, sizeof(origin)),
						   detail};
		rc = pkguard_state_add_target(r->st, r->run_id, &st);
	}
	for (i = 0; f && i < f->n && rc == 0; i++) {
		const struct pkguard_finding *x = &f->items[i];
		const struct pkguard_proc *p = &r->ins.procs->procs[x->proc];
		struct pkguard_state_finding sf = {
			x->target == PKGUARD_TARGET_ANY
				? "*"
				: pkguard_fileset_target(r->ins.fs, x->target)->name,
			p->pid,
			p->start_time,
			p->uid,
			p->comm,
			p->unit[0] ? p->unit : NULL,
			pkguard_reason_name(x->reason),
			x->file ? x->file->path : NULL,
		};

		rc = pkguard_state_add_finding(r->st, r->run_id, &sf);
	}
	return rc;
}

int pkguard_config_load_file(struct pkguard_ctx *ctx, const char *file, struct pkguard_config **cfg)
{
	struct pkguard_config_paths paths = pkguard_config_default_paths;
	char dir[PATH_MAX], dropins[PATH_MAX];
	int rc;

	if (file) {
		/* A main file of one's own: it and the drop-ins beside it, nothing installed. */
		snprintf(dir, sizeof(dir), "%s", file);
		snprintf(dropins, sizeof(dropins), "%s/policy.d", dirname(dir));
		paths = (struct pkguard_config_paths){file, NULL, dropins};
	}
	rc = pkguard_config_load(ctx, &paths, cfg);
	if (rc == 0)
		pkguard_ctx_set_maps(ctx, (*cfg)->scan_mappings);
	return rc;
}

/* The targets' files, from the caller or from the package database. */
static int build_fileset(struct pkguard_run *r, const struct pkguard_run_target *targets, size_t n)
{
	struct pkguard_pkgdb *db = r->opts.db;
	const char **names;
	size_t i, n_names = 0;
	int rc;

	names = calloc(n ? n : 1, sizeof(*names));
	if (!names)
		return pkguard_fail(r->ctx, -ENOMEM, "cannot read the package database");
	for (i = 0; i < n; i++) {
		if (!targets[i].files)
			names[n_names++] = targets[i].name;
	}
	/* Only the targets are looked up: the rest of the database need not be read. */
	rc = !db && n_names ? pkguard_pkgdb_open_for(r->ctx, r->opts.backend, names, n_names, &db)
			    : 0;
	free(names);
	if (rc < 0)
		return rc;
	rc = add_targets(r, db, targets, n);
	if (db && db != r->opts.db)
		r->opts.backend->close(db);
	return rc;
}

/*
 * fail_open() for an error met before the run could begin (the context
 * holds it): the state is opened, where it can be, to record it.
 */
static int fail_open_recorded(struct pkguard_run *r, const struct pkguard_run_info *info,
			      const char *stage)
{
	char why[512];

	/* Opening the state overwrites the context's message. */
	snprintf(why, sizeof(why), "%s", pkguard_ctx_errmsg(r->ctx));
	if (!r->st && (pkguard_run_open_state(r->ctx, r->opts.state_path, &r->st) < 0 ||
		       pkguard_state_run_begin(r->st, info, &r->run_id) < 0)) {
		pkguard_state_close(r->st);
		r->st = NULL;
	}
	/* Put the original detail back, as it was (a non-negative code adds no suffix). */
	pkguard_fail(r->ctx, 1, "%s", why);
	return fail_open(r, stage);
}

int pkguard_run_execute(struct pkguard_run *r, struct pkguard_ctx *ctx,
			const struct pkguard_run_opts *opts,
			const struct pkguard_run_target *targets, size_t n)
{
	struct pkguard_run_info info = {opts->entry, opts->backend ? opts->backend->name : NULL,
					pkguard_ctx_root(ctx)};
	bool real = opts->mode != PKGUARD_RUN_DRY;
	size_t t;
	int rc;

	r->ctx = ctx;
	r->opts = *opts;
	r->verdict = PKGUARD_ACTION_ALLOW;
	rc = pkguard_config_load_file(ctx, opts->config_path, &r->cfg);
	if (rc < 0 && real) {
		rc = fail_open_recorded(r, &info, "reading the configuration");
		goto end;
	}
	if (rc < 0)
		return rc;
	/* /proc/locks and the BPF iterator, while the state and package databases load. */
	pkguard_scan_early_start(ctx, &r->ins.early);
	rc = open_state(r);
	/* Each real run keeps the history to its configured age. */
	if (rc == 0 && real)
		rc = pkguard_state_prune(r->st, r->cfg->history_ms / 1000);
	if (rc == 0 && real)
		rc = pkguard_state_run_begin(r->st, &info, &r->run_id);
	if (rc < 0)
		return real ? fail_open(r, "opening the state database") : rc;

	/* The deadline bounds pkguard's own work; a wait adds its wait-timeout. */
	pkguard_ctx_set_deadline(ctx, pkguard_now_ns() + r->cfg->deadline_ms * 1000000);
	rc = build_fileset(r, targets, n);
	if (rc == 0)
		rc = pkguard_decide_prepare(ctx, r->cfg, r->ins.fs);
	if (rc == 0)
		rc = pkguard_inspect(ctx, &r->ins);
	if (rc == 0)
		rc = load_target_state(r);
	if (rc == 0)
		rc = pkguard_decide(ctx, r->cfg, r->ins.fs, r->ins.procs, r->ins.findings,
				    r->tstate, (int64_t)time(NULL), &r->dec);
	pkguard_ctx_set_deadline(ctx, 0);
	if (rc == 0) {
		r->out = calloc(r->dec->n ? r->dec->n : 1, sizeof(*r->out));
		rc = r->out ? 0 : pkguard_fail(ctx, -ENOMEM, "cannot decide");
	}
	if (rc < 0) {
		if (!real)
			return rc;
		rc = fail_open(r, "inspecting the system");
		goto end;
	}
	for (t = 0; rc == 0 && t < r->dec->n; t++) {
		r->out[t].action = r->dec->items[t].action;
		rc = restart_fallback(r, t);
	}
	if (rc < 0) {
		if (!real)
			return rc;
		rc = fail_open(r, "deciding");
		goto end;
	}
	if (real) {
		rc = act(r);
		if (rc == 0)
			rc = record(r);
		if (rc < 0) {
			rc = fail_open(r, "acting on the decision");
			goto end;
		}
	}
	for (t = 0; t < r->dec->n; t++) {
		if (pkguard_action_rank(r->out[t].action) > pkguard_action_rank(r->verdict))
			r->verdict = r->out[t].action;
	}
	/*
	 * Refused after all (another target blocks): no transaction follows, so
	 * no post step either; the units stopped for it start again now.
	 */
	if (real && pkguard_run_refuses(r)) {
		for (t = 0; t < r->dec->n && !r->out[t].n_units; t++)
			;
		if (t < r->dec->n && pkguard_start_stopped_units(ctx, r->st) < 0)
			pkguard_log(ctx, PKGUARD_LOG_ERR, "cannot start the units stopped: %s",
				    pkguard_ctx_errmsg(ctx));
	}
end:
	if (r->st && real)
		pkguard_state_run_end(r->st, r->run_id,
				      r->failed_open ? "error" : pkguard_action_name(r->verdict),
				      r->failed_open ? pkguard_ctx_errmsg(ctx) : NULL);
	return rc;
}

bool pkguard_run_refuses(const struct pkguard_run *r)
{
	return r->verdict == PKGUARD_ACTION_BLOCK || r->verdict == PKGUARD_ACTION_DEFER;
}

void pkguard_run_release(struct pkguard_run *r)
{
	size_t t, i;

	for (t = 0; r->out && r->dec && t < r->dec->n; t++) {
		for (i = 0; i < r->out[t].n_units; i++)
			free(r->out[t].units[i]);
		free(r->out[t].units);
	}
	free(r->out);
	pkguard_decisions_free(r->dec);
	free(r->tstate);
	pkguard_inspection_release(&r->ins);
	pkguard_state_close(r->st);
	pkguard_config_free(r->cfg);
	memset(r, 0, sizeof(*r));
}

bool pkguard_run_fail_open(struct pkguard_ctx *ctx, const struct pkguard_run_opts *opts,
			   const char *stage)
{
	struct pkguard_run_info info = {opts->entry, opts->backend ? opts->backend->name : NULL,
					pkguard_ctx_root(ctx)};
	struct pkguard_run r = {.ctx = ctx, .opts = *opts};
	char why[512];
	bool block;

	/* Loading the configuration overwrites the context's message. */
	snprintf(why, sizeof(why), "%s", pkguard_ctx_errmsg(ctx));
	if (pkguard_config_load_file(ctx, opts->config_path, &r.cfg) < 0)
		r.cfg = NULL;
	pkguard_fail(ctx, 1, "%s", why);
	fail_open_recorded(&r, &info, stage);
	if (r.st)
		pkguard_state_run_end(r.st, r.run_id, "error", why);
	block = r.verdict == PKGUARD_ACTION_BLOCK;
	pkguard_run_release(&r);
	return block;
}

bool pkguard_run_disabled(struct pkguard_ctx *ctx, const struct pkguard_run_opts *opts,
			  const char *msg)
{
	struct pkguard_run_info info = {opts->entry, opts->backend ? opts->backend->name : NULL,
					pkguard_ctx_root(ctx)};
	const char *v = secure_getenv("PKGUARD_DISABLE");
	struct pkguard_state *st = NULL;
	int64_t run_id = 0;
	char *shown;

	if (!v || !v[0])
		return false;
	if (strcmp(v, "1") != 0) {
		shown = pkguard_escape(v, strlen(v));
		pkguard_log(ctx, PKGUARD_LOG_WARN,
			    "PKGUARD_DISABLE='%s' is ignored: only PKGUARD_DISABLE=1 turns pkguard "
			    "off",
			    shown ? shown : "?");
		free(shown);
		return false;
	}
	pkguard_log(ctx, PKGUARD_LOG_WARN, "%s", msg);
	if (pkguard_run_open_state(ctx, opts->state_path, &st) < 0 ||
	    pkguard_state_run_begin(st, &info, &run_id) < 0) {
		pkguard_log(ctx, PKGUARD_LOG_WARN, "not recorded: %s", pkguard_ctx_errmsg(ctx));
	} else {
		pkguard_state_add_event(st, run_id, "warning", msg);
		pkguard_state_run_end(st, run_id, "allow", NULL);
	}
	pkguard_state_close(st);
	return true;
}
