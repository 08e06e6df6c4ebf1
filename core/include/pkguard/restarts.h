/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The processes that still run or map files an upgrade has replaced since
 * they started: what needs-restart shows and the post step records.
 */
#ifndef PKGUARD_RESTARTS_H
#define PKGUARD_RESTARTS_H

#include "pkguard/context.h"
#include "pkguard/pkgdb.h"
#include "pkguard/proc.h"
#include "pkguard/state.h"

/* A seen file that was replaced: the path it had, relative to the root, and its owners. */
struct pkguard_replaced {
	char *path; /* NULL: not replaced */
	char **owners;
	size_t n_owners;
};

/* One process using one replaced file. */
struct pkguard_restart_item {
	size_t proc;
	size_t seen;
	enum pkguard_use_kind kind;
};

struct pkguard_restarts {
	struct pkguard_proctab *procs;
	struct pkguard_replaced *replaced; /* parallel to procs->seen */
	struct pkguard_restart_item *items;
	size_t n_items;
	size_t n_processes; /* distinct processes among the items */
	size_t n_packages;  /* distinct packages among the items */
	size_t n_denied;    /* processes that could not be read */
	size_t n_unconfirmed;
	double seconds;
};

/*
 * Scan every process and collect its uses of replaced files, the owners of
 * each file from BACKEND's DB, sorted by unit, process and path. Returns 0
 * or <0 with detail in ctx; release RES with pkguard_restarts_release().
 */
int pkguard_restarts_collect(struct pkguard_ctx *ctx, const struct pkguard_pkgdb_ops *backend,
			     struct pkguard_pkgdb *db, struct pkguard_restarts *res);

/* Store RES as the state's needs-restart list, for RUN_ID (0: outside any run). */
int pkguard_restarts_record(struct pkguard_ctx *ctx, struct pkguard_state *st,
			    const struct pkguard_restarts *res, int64_t run_id);

void pkguard_restarts_release(struct pkguard_restarts *res);

/* "exe", "map" or "lock". */
const char *pkguard_use_name(enum pkguard_use_kind kind);

#endif
