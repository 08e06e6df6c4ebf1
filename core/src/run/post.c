/* SPDX-License-Identifier: GPL-2.0-or-later */
/* After a transaction: the units stopped for it start again, needs-restart is recorded. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pkguard/act.h"
#include "pkguard/restarts.h"
#include "pkguard/run.h"

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

int pkguard_start_stopped_units(struct pkguard_ctx *ctx, struct pkguard_state *st)
{
	struct pending p = {NULL, 0};
	size_t i;
	int rc, failed = 0;

	rc = pkguard_state_list(st, PKGUARD_STATE_STOPPED_UNITS, 0, collect_unit, &p);
	for (i = 0; rc >= 0 && i < p.n; i++) {
		int started =
			pkguard_service_run(ctx, p.items[i].manager, kind_of(p.items[i].manager),
					    p.items[i].unit, true, 90000);

		if (started < 0) {
			pkguard_log(ctx, PKGUARD_LOG_ERR, "cannot start '%s' again: %s",
				    p.items[i].unit, pkguard_ctx_errmsg(ctx));
			failed++;
		} else {
			pkguard_log(ctx, PKGUARD_LOG_INFO, "started %s again", p.items[i].unit);
		}
		rc = pkguard_state_unit_started(st, p.items[i].unit,
						started < 0 ? pkguard_ctx_errmsg(ctx) : NULL);
	}
	for (i = 0; i < p.n; i++) {
		free(p.items[i].unit);
		free(p.items[i].manager);
	}
	free(p.items);
	return rc < 0 ? rc : failed;
}

void pkguard_post(struct pkguard_ctx *ctx, const struct pkguard_run_opts *opts)
{
	struct pkguard_run_info info = {opts->entry, opts->backend ? opts->backend->name : NULL,
					pkguard_ctx_root(ctx)};
	struct pkguard_restarts res = {0};
	struct pkguard_state *st = NULL;
	struct pkguard_pkgdb *db = opts->db;
	int64_t run_id = 0;
	int rc;

	rc = pkguard_run_open_state(ctx, opts->state_path, &st);
	if (rc == 0)
		rc = pkguard_state_run_begin(st, &info, &run_id);
	if (rc == 0)
		rc = pkguard_start_stopped_units(ctx, st);
	if (rc >= 0 && !db)
		rc = pkguard_pkgdb_open(ctx, opts->backend, &db);
	if (rc >= 0)
		rc = pkguard_restarts_collect(ctx, opts->backend, db, &res);
	if (db && db != opts->db)
		opts->backend->close(db);
	if (rc >= 0)
		rc = pkguard_restarts_record(ctx, st, &res, run_id);
	if (rc < 0)
		pkguard_log(ctx, PKGUARD_LOG_ERR, "post step: %s", pkguard_ctx_errmsg(ctx));
	else if (res.n_processes)
		pkguard_log(ctx, PKGUARD_LOG_INFO,
			    "%zu process%s now run%s replaced files: see pkguard needs-restart",
			    res.n_processes, res.n_processes == 1 ? "" : "es",
			    res.n_processes == 1 ? "s" : "");
	if (st && run_id)
		pkguard_state_run_end(st, run_id, rc >= 0 ? "done" : "error",
				      rc < 0 ? pkguard_ctx_errmsg(ctx) : NULL);
	pkguard_restarts_release(&res);
	pkguard_state_close(st);
}
