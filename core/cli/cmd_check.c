/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pkguard check PKG...: who uses the files of these packages right now. */
#include <errno.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Distinct processes per reason for one target. */
struct counts {
	size_t instances, users, lockers, gone;
};

static struct counts count_target(const struct inspection *ins, size_t target)
{
	const struct pkguard_findings *f = ins->findings;
	struct counts c = {0};
	size_t i = 0;

	/* Findings come grouped by process: decide each process once. */
	while (i < f->n) {
		size_t proc = f->items[i].proc;
		bool exe = false, map = false, lock = false, gone = false;

		for (; i < f->n && f->items[i].proc == proc; i++) {
			if (f->items[i].target != target)
				continue;
			exe |= f->items[i].reason == PKGUARD_REASON_EXE;
			map |= f->items[i].reason == PKGUARD_REASON_MAP;
			lock |= f->items[i].reason == PKGUARD_REASON_LOCK;
			gone |= f->items[i].reason == PKGUARD_REASON_GONE;
		}
		c.instances += exe;
		c.users += map && !exe;
		c.lockers += lock;
		c.gone += gone;
	}
	return c;
}

static size_t count_denied(const struct inspection *ins)
{
	size_t i, n = 0;

	for (i = 0; i < ins->findings->n; i++)
		n += ins->findings->items[i].reason == PKGUARD_REASON_DENIED;
	return n;
}

static bool in_use(struct counts c)
{
	return c.instances || c.users || c.lockers || c.gone;
}

static void print_target(const struct inspection *ins, size_t target)
{
	static const char *const headers[] = {"REASON", "PID", "USER", "UNIT", "COMMAND", "FILE"};
	const struct pkguard_target *t = pkguard_fileset_target(ins->fs, target);
	struct counts c = count_target(ins, target);
	char a[64], b[64], d[64];
	struct table tab;
	size_t i;

	printf("%s", esc(0, t->name));
	if (t->old_version)
		printf(" %s", esc(0, t->old_version));
	if (t->arch)
		printf(" (%s)", esc(0, t->arch));
	if (!in_use(c)) {
		printf(": not in use (%s", plural(a, sizeof(a), t->n_files, "file", "files"));
		if (t->n_helpers)
			printf(", ships %s",
			       plural(b, sizeof(b), t->n_helpers, "helper", "helpers"));
		printf(")\n");
		return;
	}
	printf(": IN USE by %s, %s, %s", plural(a, sizeof(a), c.instances, "instance", "instances"),
	       plural(b, sizeof(b), c.users, "user", "users"),
	       plural(d, sizeof(d), c.lockers, "lock holder", "lock holders"));
	if (t->n_helpers)
		printf("; ships %s", plural(a, sizeof(a), t->n_helpers, "helper", "helpers"));
	printf("\n");

	table_init(&tab, 6, headers);
	for (i = 0; i < ins->findings->n; i++) {
		const struct pkguard_finding *f = &ins->findings->items[i];
		const struct pkguard_proc *p = &ins->procs->procs[f->proc];
		char pid[16];
		const char *row[6];

		if (f->target != target)
			continue;
		snprintf(pid, sizeof(pid), "%d", (int)p->pid);
		row[0] = pkguard_reason_name(f->reason);
		row[1] = pid;
		row[2] = user_name(p->uid);
		row[3] = p->unit[0] ? esc(1, p->unit) : "-";
		row[4] = esc(2, p->comm);
		row[5] = esc(3, f->file->path);
		if (table_add(&tab, row) < 0)
			break;
	}
	table_print(&tab, stdout, "  ");
	table_release(&tab);

	if (c.instances && t->n_helpers) {
		printf("  helpers (programs its instances may start later, from the new "
		       "version):\n");
		for (i = 0; i < pkguard_fileset_n_files(ins->fs); i++) {
			const struct pkguard_file *f = pkguard_fileset_file(ins->fs, i);

			if (f->target == target && (f->flags & PKGUARD_FILE_HELPER))
				printf("    %s\n", esc(0, f->path));
		}
	}
}

static void print_denied(const struct inspection *ins)
{
	static const char *const headers[] = {"PID", "USER", "COMMAND", "ERROR"};
	struct table tab;
	size_t i;

	if (!count_denied(ins))
		return;
	printf("could not inspect (may use any of the packages):\n");
	table_init(&tab, 4, headers);
	for (i = 0; i < ins->findings->n; i++) {
		const struct pkguard_finding *f = &ins->findings->items[i];
		const struct pkguard_proc *p = &ins->procs->procs[f->proc];
		char pid[16];
		const char *row[4];

		if (f->reason != PKGUARD_REASON_DENIED)
			continue;
		snprintf(pid, sizeof(pid), "%d", (int)p->pid);
		row[0] = pid;
		row[1] = user_name(p->uid);
		row[2] = esc(2, p->comm);
		row[3] = pkguard_strerror(p->error);
		if (table_add(&tab, row) < 0)
			break;
	}
	table_print(&tab, stdout, "  ");
	table_release(&tab);
}

static json_object *json_str(const char *s)
{
	return s ? json_object_new_string(esc(4, s)) : NULL;
}

json_object *cli_json_process(const struct inspection *ins, const struct pkguard_finding *f)
{
	const struct pkguard_proc *p = &ins->procs->procs[f->proc];
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int(p->pid));
	json_object_object_add(o, "start_time", json_object_new_uint64(p->start_time));
	json_object_object_add(o, "uid", json_object_new_int64(p->uid));
	json_object_object_add(o, "user", json_str(user_name(p->uid)));
	json_object_object_add(o, "comm", json_str(p->comm));
	json_object_object_add(o, "unit", p->unit[0] ? json_str(p->unit) : NULL);
	json_object_object_add(o, "other_mount_ns", json_object_new_boolean(p->other_mntns));
	json_object_object_add(o, "reason", json_object_new_string(pkguard_reason_name(f->reason)));
	if (f->file)
		json_object_object_add(o, "file", json_str(f->file->path));
	if (f->reason == PKGUARD_REASON_DENIED)
		json_object_object_add(o, "error",
				       json_object_new_string(pkguard_strerror(p->error)));
	return o;
}

static json_object *json_target(const struct inspection *ins, size_t target)
{
	const struct pkguard_target *t = pkguard_fileset_target(ins->fs, target);
	struct counts c = count_target(ins, target);
	json_object *o = json_object_new_object(), *procs, *helpers;
	size_t i;

	json_object_object_add(o, "name", json_str(t->name));
	json_object_object_add(o, "version", json_str(t->old_version));
	json_object_object_add(o, "arch", json_str(t->arch));
	json_object_object_add(o, "in_use", json_object_new_boolean(in_use(c)));
	json_object_object_add(o, "instances", json_object_new_uint64(c.instances));
	json_object_object_add(o, "users", json_object_new_uint64(c.users));
	json_object_object_add(o, "lock_holders", json_object_new_uint64(c.lockers));
	json_object_object_add(o, "files", json_object_new_uint64(t->n_files));
	procs = json_object_new_array();
	for (i = 0; i < ins->findings->n; i++) {
		if (ins->findings->items[i].target == target)
			json_object_array_add(procs,
					      cli_json_process(ins, &ins->findings->items[i]));
	}
	json_object_object_add(o, "processes", procs);
	helpers = json_object_new_array();
	for (i = 0; i < pkguard_fileset_n_files(ins->fs); i++) {
		const struct pkguard_file *f = pkguard_fileset_file(ins->fs, i);

		if (f->target == target && (f->flags & PKGUARD_FILE_HELPER))
			json_object_array_add(helpers, json_str(f->path));
	}
	json_object_object_add(o, "helpers", helpers);
	return o;
}

static int report_json(struct cli *cli, const struct inspection *ins)
{
	json_object *root = json_object_new_object(), *pkgs = json_object_new_array(), *denied;
	size_t i;

	json_object_object_add(root, "root", json_str(pkguard_ctx_root(cli->ctx)));
	json_object_object_add(root, "backend", json_object_new_string(cli->backend->name));
	for (i = 0; i < pkguard_fileset_n_targets(ins->fs); i++)
		json_object_array_add(pkgs, json_target(ins, i));
	json_object_object_add(root, "packages", pkgs);
	denied = json_object_new_array();
	for (i = 0; i < ins->findings->n; i++) {
		if (ins->findings->items[i].reason == PKGUARD_REASON_DENIED)
			json_object_array_add(denied,
					      cli_json_process(ins, &ins->findings->items[i]));
	}
	json_object_object_add(root, "denied", denied);
	json_object_object_add(root, "processes_scanned",
			       json_object_new_uint64(ins->procs->n_scanned));
	json_object_object_add(root, "seconds", json_object_new_double(ins->seconds));
	return json_print(root);
}

static int run_check(struct cli *cli, int argc, char **argv)
{
	struct inspection ins = {0};
	struct pkguard_pkgdb *db = NULL;
	bool any = false;
	size_t i;
	int rc;

	if (argc < 2)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE, "check: name at least one package");
	rc = cli_open_pkgdb(cli, &db);
	if (rc < 0)
		return rc;
	rc = pkguard_fileset_new(cli->ctx, &ins.fs);
	for (i = 1; rc == 0 && i < (size_t)argc; i++)
		rc = inspection_add_package(cli, db, ins.fs, argv[i]);
	cli->backend->close(db);
	if (rc == 0)
		rc = inspection_run(cli, &ins);
	if (rc < 0)
		goto out;

	for (i = 0; i < pkguard_fileset_n_targets(ins.fs); i++)
		any |= in_use(count_target(&ins, i));
	/*
	 * A process that could not be read is reported, not counted: whether
	 * "unknown" should hold an upgrade back is a policy decision.
	 */
	if (cli->json) {
		rc = report_json(cli, &ins);
	} else {
		for (i = 0; i < pkguard_fileset_n_targets(ins.fs); i++)
			print_target(&ins, i);
		print_denied(&ins);
		printf("scanned %zu processes in %.3f s\n", ins.procs->n_scanned, ins.seconds);
	}
	if (rc == 0)
		rc = any ? CLI_IN_USE : 0;
out:
	inspection_release(&ins);
	return rc;
}

const struct pkguard_command cmd_check = {
	.name = "check",
	.args = "PKG...",
	.summary = "which processes use the files of these packages now",
	.run = run_check,
};
