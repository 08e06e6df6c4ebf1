/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The decision: from targets, findings, policy and state to an action per
 * target and a verdict for the transaction.
 *
 * The safety rules (ARCHITECTURE.md, threats.md #1, #13, #20) live here and
 * nowhere else:
 *  - a finding from a process of a non-system user (real and effective uid
 *    above system-uid-max) never blocks or defers on its own: per
 *    `unprivileged` it is ignored or makes the target "warn" at most;
 *  - a lock counts only on a lockfile the policy names that is owned by root
 *    and not writable by group or others; a lock on anything else (any user
 *    can lock a world-readable package file) is reported and ignored;
 *  - an instance of a package that ships helpers escalates the action to the
 *    `helpers` action when that is stricter;
 *  - a process that could not be read counts per `denied` (by default as in
 *    use, for every target);
 *  - a process that vanished mid-read is reported and ignored;
 *  - a pending one-shot override (`pkguard allow --once PKG`) wins;
 *  - a deferral older than max-defer is released: the upgrade is allowed.
 * Actions are ordered allow < warn < wait < restart < defer < block; the
 * verdict is the strictest action of all targets.
 */
#ifndef PKGUARD_DECIDE_H
#define PKGUARD_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkguard/detect.h"
#include "pkguard/fileset.h"
#include "pkguard/policy.h"
#include "pkguard/proc.h"

/* What the state knows of a target before the decision. */
struct pkguard_target_state {
	bool override;		/* a pending `allow --once` */
	int64_t deferred_since; /* Unix time of the first deferral still active; 0: none */
};

enum pkguard_why {
	PKGUARD_WHY_NOT_IN_USE,	   /* nothing that counts uses it */
	PKGUARD_WHY_IN_USE,	   /* instances, users or lock holders that count */
	PKGUARD_WHY_HELPERS,	   /* an instance, and the package ships helpers */
	PKGUARD_WHY_DENIED,	   /* processes that could not be read */
	PKGUARD_WHY_UNPRIVILEGED,  /* only processes of unprivileged users: warn */
	PKGUARD_WHY_OVERRIDE,	   /* allowed once by the admin */
	PKGUARD_WHY_DEFER_EXPIRED, /* deferred longer than max-defer: allowed */
};

struct pkguard_decision {
	enum pkguard_action action;
	struct pkguard_origin origin; /* the setting that chose the action */
	enum pkguard_why why;
	struct pkguard_policy
		policy;	    /* resolved for this target (owned, see pkguard_decisions_free) */
	size_t n_counted;   /* findings of this target that count */
	size_t n_ignored;   /* findings of this target that do not */
	size_t n_instances; /* distinct processes running a file of it (counted) */
	char detail[256];   /* one line for the sysadmin */
};

struct pkguard_decisions {
	struct pkguard_decision *items; /* one per target, in fileset order */
	size_t n;
	/* Per finding (same index as the findings): does it count for its target? */
	bool *counts;
	enum pkguard_action verdict; /* the strictest action */
};

/*
 * Add the lockfiles the policy names for each target of FS to FS, before the
 * scan, so that locks on them are attributed to their holders.
 */
int pkguard_decide_prepare(struct pkguard_ctx *ctx, const struct pkguard_config *cfg,
			   struct pkguard_fileset *fs);

/*
 * Decide. STATE has one entry per target (NULL: nothing known). NOW is the
 * Unix time for deferral ages. Pure: no I/O, no side effects. Returns 0 with
 * *OUT set (free with pkguard_decisions_free()), or -ENOMEM.
 */
int pkguard_decide(struct pkguard_ctx *ctx, const struct pkguard_config *cfg,
		   const struct pkguard_fileset *fs, const struct pkguard_proctab *procs,
		   const struct pkguard_findings *findings,
		   const struct pkguard_target_state *state, int64_t now,
		   struct pkguard_decisions **out);

void pkguard_decisions_free(struct pkguard_decisions *d);

/* The strictness rank of an action: allow 0 ... block 5. */
int pkguard_action_rank(enum pkguard_action action);

/* true when the process counts as a non-system user's. */
bool pkguard_proc_unprivileged(const struct pkguard_config *cfg, const struct pkguard_proc *p);

/*
 * Why finding F does not count toward its target's decision ("unprivileged
 * user", "lock on a file anyone may lock", "vanished", ...), or NULL when it
 * counts. For reports: the same rules as pkguard_decide().
 */
const char *pkguard_finding_note(const struct pkguard_config *cfg, const struct pkguard_finding *f,
				 const struct pkguard_proc *p);

/* "not in use", "in use", "helpers", ... */
const char *pkguard_why_name(enum pkguard_why why);

#endif
