/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>

#include "pkguard/detect.h"
#include "util/internal.h"

static int push(struct pkguard_findings *f, size_t *cap, struct pkguard_finding item)
{
	if (array_grow(&f->items, cap, f->n + 1, sizeof(item)) < 0)
		return -ENOMEM;
	f->items[f->n++] = item;
	return 0;
}

static enum pkguard_reason reason_of(const struct pkguard_proc *p, enum pkguard_use_kind kind)
{
	if (p->state == PKGUARD_PROC_GONE)
		return PKGUARD_REASON_GONE;
	switch (kind) {
	case PKGUARD_USE_EXE:
		return PKGUARD_REASON_EXE;
	case PKGUARD_USE_LOCK:
		return PKGUARD_REASON_LOCK;
	case PKGUARD_USE_MAP:
		break;
	}
	return PKGUARD_REASON_MAP;
}

int pkguard_detect_each(const struct pkguard_fileset *fs, const struct pkguard_proctab *tab,
			pkguard_finding_fn fn, void *userdata)
{
	size_t i, u;
	int rc;

	for (i = 0; i < tab->n_procs; i++) {
		const struct pkguard_proc *p = &tab->procs[i];

		if (p->state == PKGUARD_PROC_DENIED) {
			struct pkguard_finding item = {PKGUARD_TARGET_ANY, i, PKGUARD_REASON_DENIED,
						       NULL, NULL};

			rc = fn(userdata, &item);
			if (rc)
				return rc;
			continue;
		}
		for (u = p->first_use; u < p->first_use + p->n_uses; u++) {
			const struct pkguard_seen *seen = &tab->seen[tab->uses[u].seen];
			const struct pkguard_file *file;
			size_t cursor = 0;

			while (pkguard_fileset_lookup(fs, seen->id, &cursor, &file) == 0) {
				struct pkguard_finding item = {file->target, i,
							       reason_of(p, tab->uses[u].kind),
							       file, seen};

				rc = fn(userdata, &item);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

struct collect {
	struct pkguard_findings *f;
	size_t cap;
};

static int collect_one(void *userdata, const struct pkguard_finding *item)
{
	struct collect *c = userdata;

	return push(c->f, &c->cap, *item);
}

int pkguard_detect(struct pkguard_ctx *ctx, const struct pkguard_fileset *fs,
		   const struct pkguard_proctab *tab, struct pkguard_findings **out)
{
	struct collect c = {calloc(1, sizeof(*c.f)), 0};

	if (!c.f || pkguard_detect_each(fs, tab, collect_one, &c) < 0) {
		pkguard_findings_free(c.f);
		return pkguard_fail(ctx, -ENOMEM, "cannot collect findings");
	}
	*out = c.f;
	return 0;
}

void pkguard_findings_free(struct pkguard_findings *f)
{
	if (!f)
		return;
	free(f->items);
	free(f);
}

const char *pkguard_reason_name(enum pkguard_reason reason)
{
	switch (reason) {
	case PKGUARD_REASON_EXE:
		return "exe";
	case PKGUARD_REASON_MAP:
		return "map";
	case PKGUARD_REASON_LOCK:
		return "lock";
	case PKGUARD_REASON_GONE:
		return "gone";
	case PKGUARD_REASON_DENIED:
		return "denied";
	}
	return "unknown";
}
