/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard needs-restart: the processes that still run or map files that an
 * upgrade has replaced since they started, grouped by unit, needrestart-style.
 * How a replaced file is recognised: core/src/run/restarts.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "pkguard/restarts.h"

/* "dpkg, libc6": every owner of a path, escaped. */
static void owners_text(const struct pkguard_replaced *r, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < r->n_owners && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
					esc(5, r->owners[i]));
}

static void report_text(const struct pkguard_restarts *res)
{
	static const char *const headers[] = {"PID", "USER", "COMMAND", "USE", "PACKAGE", "FILE"};
	const struct pkguard_proctab *tab = res->procs;
	size_t i = 0;
	char a[64], b[64];

	while (i < res->n_items) {
		const struct pkguard_proc *first = &tab->procs[res->items[i].proc];
		struct pkguard_table t;

		printf("%s:\n", first->unit[0] ? esc(0, first->unit) : "(no unit)");
		pkguard_table_init(&t, 6, headers);
		for (; i < res->n_items; i++) {
			const struct pkguard_restart_item *it = &res->items[i];
			const struct pkguard_proc *p = &tab->procs[it->proc];
			char pid[16], owners[512];
			const char *row[6];

			if (strcmp(p->unit, first->unit) != 0)
				break;
			snprintf(pid, sizeof(pid), "%d", (int)p->pid);
			owners_text(&res->replaced[it->seen], owners, sizeof(owners));
			row[0] = pid;
			row[1] = user_name(p->uid);
			row[2] = esc(1, p->comm);
			row[3] = pkguard_use_name(it->kind);
			row[4] = owners;
			row[5] = esc(2, res->replaced[it->seen].path);
			if (pkguard_table_add(&t, row) < 0)
				break;
		}
		pkguard_table_print(&t, stdout, "  ");
		pkguard_table_release(&t);
	}
	if (res->n_items)
		printf("%s replaced files of %s: restart %s to run the new versions\n",
		       plural(a, sizeof(a), res->n_processes, "process runs", "processes run"),
		       plural(b, sizeof(b), res->n_packages, "package", "packages"),
		       res->n_processes == 1 ? "it" : "them");
	else
		printf("no process runs replaced files\n");
}

static json_object *json_file(const struct pkguard_restarts *res,
			      const struct pkguard_restart_item *it)
{
	const struct pkguard_replaced *r = &res->replaced[it->seen];
	json_object *o = json_object_new_object(), *owners = json_object_new_array();
	size_t i;

	json_object_object_add(o, "file", json_object_new_string(esc(0, r->path)));
	json_object_object_add(o, "use", json_object_new_string(pkguard_use_name(it->kind)));
	for (i = 0; i < r->n_owners; i++)
		json_object_array_add(owners, json_object_new_string(esc(0, r->owners[i])));
	json_object_object_add(o, "packages", owners);
	return o;
}

static int report_json(struct cli *cli, const struct pkguard_restarts *res)
{
	const struct pkguard_proctab *tab = res->procs;
	json_object *root = json_object_new_object(), *units = json_object_new_array();
	json_object *procs = NULL, *files = NULL;
	size_t i;

	json_object_object_add(root, "root",
			       json_object_new_string(esc(0, pkguard_ctx_root(cli->ctx))));
	json_object_object_add(root, "backend", json_object_new_string(cli->backend->name));
	for (i = 0; i < res->n_items; i++) {
		const struct pkguard_restart_item *it = &res->items[i];
		const struct pkguard_proc *p = &tab->procs[it->proc];
		const struct pkguard_proc *prev = i ? &tab->procs[res->items[i - 1].proc] : NULL;

		if (!prev || strcmp(prev->unit, p->unit) != 0) {
			json_object *u = json_object_new_object();

			procs = json_object_new_array();
			json_object_object_add(u, "unit",
					       p->unit[0] ? json_object_new_string(esc(0, p->unit))
							  : NULL);
			json_object_object_add(u, "processes", procs);
			json_object_array_add(units, u);
		}
		if (!prev || prev != p) {
			json_object *o = json_object_new_object();

			files = json_object_new_array();
			json_object_object_add(o, "pid", json_object_new_int(p->pid));
			json_object_object_add(o, "start_time",
					       json_object_new_uint64(p->start_time));
			json_object_object_add(o, "uid", json_object_new_int64(p->uid));
			json_object_object_add(o, "user",
					       json_object_new_string(user_name(p->uid)));
			json_object_object_add(o, "comm", json_object_new_string(esc(0, p->comm)));
			json_object_object_add(o, "files", files);
			json_object_array_add(procs, o);
		}
		json_object_array_add(files, json_file(res, it));
	}
	json_object_object_add(root, "units", units);
	json_object_object_add(root, "processes", json_object_new_uint64(res->n_processes));
	json_object_object_add(root, "packages", json_object_new_uint64(res->n_packages));
	json_object_object_add(root, "denied", json_object_new_uint64(res->n_denied));
	json_object_object_add(root, "processes_scanned",
			       json_object_new_uint64(res->procs->n_scanned));
	json_object_object_add(root, "seconds", json_object_new_double(res->seconds));
	return json_print(root);
}

/*
 * Best effort: the list is what status shows later, but failing to store it
 * must not hide it from the admin who asked now. It is stored outside any
 * run (run id 0): looking is no decision, and a monitoring job that looks
 * every few minutes must not push the real decisions out of status.
 */
static void record(struct cli *cli, const struct pkguard_restarts *res)
{
	struct pkguard_state *st = NULL;
	int rc;

	if (geteuid() != 0 && !cli->state_path) {
		pkguard_log(cli->ctx, PKGUARD_LOG_DEBUG,
			    "not recording the list: only root writes '%s'",
			    PKGUARD_STATE_DEFAULT_PATH);
		return;
	}
	rc = cli_open_state(cli, &st);
	if (rc == 0)
		rc = pkguard_restarts_record(cli->ctx, st, res, 0);
	if (rc < 0)
		pkguard_log(cli->ctx, PKGUARD_LOG_WARN,
			    "cannot record the list in the state database: %s",
			    pkguard_ctx_errmsg(cli->ctx));
	pkguard_state_close(st);
}

static int run_needs_restart(struct cli *cli, int argc, char **argv)
{
	struct pkguard_pkgdb *db = NULL;
	struct pkguard_restarts res = {0};
	char n[64];
	int rc;

	if (argc > 1)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "needs-restart: unexpected argument '%s'", esc(0, argv[1]));
	rc = cli_open_pkgdb(cli, &db);
	if (rc < 0)
		return rc;
	rc = pkguard_restarts_collect(cli->ctx, cli->backend, db, &res);
	cli->backend->close(db);
	if (rc < 0)
		goto out;
	record(cli, &res);
	if (res.n_denied)
		pkguard_log(cli->ctx, PKGUARD_LOG_WARN, "%s could not be inspected%s",
			    plural(n, sizeof(n), res.n_denied, "process", "processes"),
			    geteuid() ? " (run as root)" : "");
	if (res.n_unconfirmed)
		pkguard_log(cli->ctx, PKGUARD_LOG_WARN,
			    "%s shown as deleted could not be checked: following "
			    "/proc/PID/map_files needs CAP_SYS_ADMIN",
			    plural(n, sizeof(n), res.n_unconfirmed, "file", "files"));
	rc = cli->json ? report_json(cli, &res) : (report_text(&res), 0);
	if (rc == 0)
		rc = res.n_items ? CLI_IN_USE : 0;
out:
	pkguard_restarts_release(&res);
	return rc;
}

const struct pkguard_command cmd_needs_restart = {
	.name = "needs-restart",
	.args = "",
	.summary = "processes that run replaced files, by unit (exit 1 if any)",
	.run = run_needs_restart,
};
