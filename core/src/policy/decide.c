/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkguard/decide.h"
#include "util/internal.h"

int pkguard_action_rank(enum pkguard_action action)
{
	switch (action) {
	case PKGUARD_ACTION_ALLOW:
		return 0;
	case PKGUARD_ACTION_WARN:
		return 1;
	case PKGUARD_ACTION_WAIT:
		return 2;
	case PKGUARD_ACTION_RESTART:
		return 3;
	case PKGUARD_ACTION_DEFER:
		return 4;
	case PKGUARD_ACTION_BLOCK:
		break;
	}
	return 5;
}

const char *pkguard_why_name(enum pkguard_why why)
{
	switch (why) {
	case PKGUARD_WHY_NOT_IN_USE:
		return "not in use";
	case PKGUARD_WHY_IN_USE:
		return "in use";
	case PKGUARD_WHY_HELPERS:
		return "helpers";
	case PKGUARD_WHY_DENIED:
		return "denied";
	case PKGUARD_WHY_UNPRIVILEGED:
		return "unprivileged";
	case PKGUARD_WHY_OVERRIDE:
		return "override";
	case PKGUARD_WHY_DEFER_EXPIRED:
		break;
	}
	return "defer expired";
}

/*
 * Both uids: a setuid program run by a user has the user's real uid but
 * root's effective one, and can do what root does.
 */
bool pkguard_proc_unprivileged(const struct pkguard_config *cfg, const struct pkguard_proc *p)
{
	return p->uid > cfg->system_uid_max && p->euid > cfg->system_uid_max;
}

int pkguard_decide_prepare(struct pkguard_ctx *ctx, const struct pkguard_config *cfg,
			   struct pkguard_fileset *fs)
{
	size_t t, i, n = pkguard_fileset_n_targets(fs);
	int rc = 0;

	for (t = 0; t < n && rc == 0; t++) {
		struct pkguard_policy policy;

		rc = pkguard_config_resolve(cfg, pkguard_fileset_target(fs, t)->name, &policy);
		if (rc < 0)
			return pkguard_fail(ctx, rc, "cannot resolve the policy");
		for (i = 0; i < policy.n_lockfiles && rc == 0; i++)
			rc = pkguard_fileset_add_lockfile(fs, t, policy.lockfiles[i]);
		pkguard_policy_release(&policy);
	}
	return rc;
}

/* A lock is evidence only on a lockfile the policy names that only root can have made. */
static bool trusted_lock(const struct pkguard_file *f)
{
	return (f->flags & PKGUARD_FILE_LOCKFILE) && f->uid == 0 && !(f->mode & 022);
}

/* How one finding weighs for its target. */
enum weight { IGNORED, WARN_ONLY, COUNTED };

static enum weight weigh(const struct pkguard_config *cfg, const struct pkguard_finding *f,
			 const struct pkguard_proc *p)
{
	switch (f->reason) {
	case PKGUARD_REASON_GONE:
		return IGNORED;
	case PKGUARD_REASON_DENIED:
		return cfg->denied == PKGUARD_DENIED_IN_USE ? COUNTED
		       : cfg->denied == PKGUARD_DENIED_WARN ? WARN_ONLY
							    : IGNORED;
	case PKGUARD_REASON_LOCK:
		if (!trusted_lock(f->file))
			return IGNORED;
		break;
	case PKGUARD_REASON_EXE:
	case PKGUARD_REASON_MAP:
		break;
	}
	if (pkguard_proc_unprivileged(cfg, p))
		return cfg->unprivileged == PKGUARD_UNPRIV_WARN ? WARN_ONLY : IGNORED;
	return COUNTED;
}

const char *pkguard_finding_note(const struct pkguard_config *cfg, const struct pkguard_finding *f,
				 const struct pkguard_proc *p)
{
	switch (weigh(cfg, f, p)) {
	case COUNTED:
		return NULL;
	case WARN_ONLY:
		return f->reason == PKGUARD_REASON_DENIED ? "unreadable: warn"
							  : "unprivileged user: warn";
	case IGNORED:
		break;
	}
	if (f->reason == PKGUARD_REASON_GONE)
		return "vanished";
	if (f->reason == PKGUARD_REASON_DENIED)
		return "unreadable: ignored";
	if (f->reason == PKGUARD_REASON_LOCK && !trusted_lock(f->file))
		return (f->file->flags & PKGUARD_FILE_LOCKFILE)
			       ? "lockfile not root's 0600-style: ignored"
			       : "lock on a package file: ignored";
	return "unprivileged user: ignored";
}

struct tally {
	size_t counted, warn_only, ignored, denied, instances, users, lockers;
};

/* Append to BUF (of SIZE) at *LEN, keeping it NUL-terminated when cut. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	*len = n < 0 ? size : *len + (size_t)n;
}

static const char *s(size_t n)
{
	return n == 1 ? "" : "s";
}

static void describe(struct pkguard_decision *d, const struct pkguard_target *t,
		     const struct tally *c)
{
	size_t size = sizeof(d->detail), len = 0;

	switch (d->why) {
	case PKGUARD_WHY_NOT_IN_USE:
		append(d->detail, size, &len, "not in use");
		break;
	case PKGUARD_WHY_OVERRIDE:
		append(d->detail, size, &len, "allowed once by the admin (pkguard allow --once)");
		break;
	case PKGUARD_WHY_DEFER_EXPIRED:
		append(d->detail, size, &len, "deferred for longer than max-defer: released");
		break;
	case PKGUARD_WHY_UNPRIVILEGED:
		append(d->detail, size, &len, "used only by unprivileged users' processes");
		break;
	case PKGUARD_WHY_DENIED:
		if (!c->instances && !c->users && !c->lockers) {
			append(d->detail, size, &len,
			       "not in use as far as can be seen: %zu process%s could not be read",
			       c->denied, c->denied == 1 ? "" : "es");
			break;
		}
		/* fall through */
	case PKGUARD_WHY_IN_USE:
	case PKGUARD_WHY_HELPERS:
		append(d->detail, size, &len,
		       "in use: %zu instance%s, %zu user%s, %zu lock holder%s", c->instances,
		       s(c->instances), c->users, s(c->users), c->lockers, s(c->lockers));
		if (c->denied)
			append(d->detail, size, &len, ", %zu unreadable process%s", c->denied,
			       c->denied == 1 ? "" : "es");
		break;
	}
	if (t->n_helpers)
		append(d->detail, size, &len, "; ships %zu helper%s", t->n_helpers,
		       s(t->n_helpers));
}

static void decide_one(const struct pkguard_config *cfg, const struct pkguard_target *t,
		       const struct pkguard_target_state *st, int64_t now, const struct tally *c,
		       struct pkguard_decision *d)
{
	const struct pkguard_policy *pol = &d->policy;

	d->n_counted = c->counted;
	d->n_ignored = c->ignored;
	d->n_instances = c->instances;
	d->origin = (struct pkguard_origin){NULL, 0};
	if (st && st->override) {
		d->action = PKGUARD_ACTION_ALLOW;
		d->why = PKGUARD_WHY_OVERRIDE;
	} else if (!c->counted && !c->warn_only) {
		d->action = PKGUARD_ACTION_ALLOW;
		d->why = PKGUARD_WHY_NOT_IN_USE;
	} else if (!c->counted) {
		d->action = PKGUARD_ACTION_WARN;
		d->why = c->denied ? PKGUARD_WHY_DENIED : PKGUARD_WHY_UNPRIVILEGED;
	} else {
		d->action = pol->action;
		d->origin = pol->action_origin;
		d->why = c->counted == c->denied ? PKGUARD_WHY_DENIED : PKGUARD_WHY_IN_USE;
		if (c->instances && t->n_helpers &&
		    pkguard_action_rank(pol->helpers) > pkguard_action_rank(d->action)) {
			d->action = pol->helpers;
			d->origin = pol->helpers_origin;
			d->why = PKGUARD_WHY_HELPERS;
		}
		if (d->action == PKGUARD_ACTION_DEFER && st && st->deferred_since &&
		    (uint64_t)(now - st->deferred_since) * 1000 >= pol->max_defer_ms) {
			d->action = PKGUARD_ACTION_ALLOW;
			d->origin = (struct pkguard_origin){NULL, 0};
			d->why = PKGUARD_WHY_DEFER_EXPIRED;
		}
	}
	describe(d, t, c);
}

int pkguard_decide(struct pkguard_ctx *ctx, const struct pkguard_config *cfg,
		   const struct pkguard_fileset *fs, const struct pkguard_proctab *procs,
		   const struct pkguard_findings *findings,
		   const struct pkguard_target_state *state, int64_t now,
		   struct pkguard_decisions **out)
{
	size_t n = pkguard_fileset_n_targets(fs), t, i;
	struct pkguard_decisions *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return pkguard_fail(ctx, -ENOMEM, "cannot decide");
	d->items = calloc(n ? n : 1, sizeof(*d->items));
	d->counts = calloc(findings->n ? findings->n : 1, sizeof(*d->counts));
	if (!d->items || !d->counts) {
		pkguard_decisions_free(d);
		return pkguard_fail(ctx, -ENOMEM, "cannot decide");
	}
	d->n = n;
	d->verdict = PKGUARD_ACTION_ALLOW;
	for (t = 0; t < n; t++) {
		const struct pkguard_target *target = pkguard_fileset_target(fs, t);
		struct tally c = {0};
		size_t last_instance = SIZE_MAX, last_user = SIZE_MAX, last_locker = SIZE_MAX;

		rc = pkguard_config_resolve(cfg, target->name, &d->items[t].policy);
		if (rc < 0) {
			pkguard_decisions_free(d);
			return pkguard_fail(ctx, rc, "cannot decide");
		}
		for (i = 0; i < findings->n; i++) {
			const struct pkguard_finding *f = &findings->items[i];
			const struct pkguard_proc *p = &procs->procs[f->proc];
			enum weight w;

			if (f->target != t && f->target != PKGUARD_TARGET_ANY)
				continue;
			w = weigh(cfg, f, p);
			if (w == IGNORED) {
				c.ignored++;
				continue;
			}
			if (w == WARN_ONLY) {
				c.warn_only++;
				c.denied += f->reason == PKGUARD_REASON_DENIED;
				continue;
			}
			d->counts[i] = true;
			c.counted++;
			c.denied += f->reason == PKGUARD_REASON_DENIED;
			/* Findings come grouped by process: count each process once per kind. */
			if (f->reason == PKGUARD_REASON_EXE && last_instance != f->proc) {
				last_instance = f->proc;
				c.instances++;
			} else if (f->reason == PKGUARD_REASON_MAP && last_user != f->proc &&
				   last_instance != f->proc) {
				last_user = f->proc;
				c.users++;
			} else if (f->reason == PKGUARD_REASON_LOCK && last_locker != f->proc) {
				last_locker = f->proc;
				c.lockers++;
			}
		}
		decide_one(cfg, target, state ? &state[t] : NULL, now, &c, &d->items[t]);
		if (pkguard_action_rank(d->items[t].action) > pkguard_action_rank(d->verdict))
			d->verdict = d->items[t].action;
	}
	*out = d;
	return 0;
}

void pkguard_decisions_free(struct pkguard_decisions *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; d->items && i < d->n; i++)
		pkguard_policy_release(&d->items[i].policy);
	free(d->items);
	free(d->counts);
	free(d);
}
