/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Findings: which process uses which target, and why.
 *
 * A finding links a target to a process with a reason: it runs a file of the
 * target (an instance), maps one (a user), holds a lock on one, vanished while
 * it was being read after it was seen using one, or could not be read at all.
 */
#ifndef PKGUARD_DETECT_H
#define PKGUARD_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "pkguard/context.h"
#include "pkguard/fileset.h"
#include "pkguard/proc.h"

enum pkguard_reason {
	PKGUARD_REASON_EXE,    /* runs a file of the target: an instance */
	PKGUARD_REASON_MAP,    /* maps a file of the target: a user */
	PKGUARD_REASON_LOCK,   /* holds a lock on a file of the target */
	PKGUARD_REASON_GONE,   /* was seen using a file, then vanished mid-read */
	PKGUARD_REASON_DENIED, /* could not be read: it may use any target */
};

/* For a DENIED finding, which is not about one target. */
#define PKGUARD_TARGET_ANY SIZE_MAX

struct pkguard_finding {
	size_t target; /* index in the fileset, or PKGUARD_TARGET_ANY */
	size_t proc;   /* index in the proctab's procs[] */
	enum pkguard_reason reason;
	const struct pkguard_file
		*file; /* the matching file (borrowed from the fileset); NULL for DENIED */
	const struct pkguard_seen
		*seen; /* what the process showed for it (borrowed); NULL for DENIED */
};

struct pkguard_findings {
	struct pkguard_finding *items;
	size_t n;
};

/*
 * Match the processes of TAB against the files of FS. Findings come grouped
 * by process, in scan order. Returns 0 with *out set (free with
 * pkguard_findings_free()), or -ENOMEM with detail in ctx. FS and TAB must
 * outlive the findings.
 */
int pkguard_detect(struct pkguard_ctx *ctx, const struct pkguard_fileset *fs,
		   const struct pkguard_proctab *tab, struct pkguard_findings **out);

/* Called once per finding; a non-zero return stops the walk and is returned. */
typedef int (*pkguard_finding_fn)(void *userdata, const struct pkguard_finding *finding);

/*
 * The same findings, in the same order, handed to FN one at a time and not
 * kept: for a caller that only counts them (scan), whose memory would
 * otherwise grow with every mapping of every process. ITEM is valid during
 * the call only. Returns 0 or FN's non-zero value.
 */
int pkguard_detect_each(const struct pkguard_fileset *fs, const struct pkguard_proctab *tab,
			pkguard_finding_fn fn, void *userdata);

void pkguard_findings_free(struct pkguard_findings *f);

/* "exe", "map", "lock", "gone", "denied". */
const char *pkguard_reason_name(enum pkguard_reason reason);

#endif
