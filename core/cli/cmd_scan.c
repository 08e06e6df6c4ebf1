/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pkguard scan: every installed package that running processes use now. */
#include <errno.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct pkg_usage {
	size_t target;
	size_t instances, users; /* distinct processes */
	size_t first;		 /* first process using it, for the sample */
	char sample[256];	 /* "comm[pid], ..." of the instances (escaped) */
};

static int by_use(const void *a, const void *b)
{
	const struct pkg_usage *x = a, *y = b;
	size_t nx = x->instances + x->users, ny = y->instances + y->users;

	if (nx != ny)
		return nx < ny ? 1 : -1;
	if (x->instances != y->instances)
		return x->instances < y->instances ? 1 : -1;
	return 0;
}

static void add_sample(struct pkg_usage *u, const struct pkguard_proc *p)
{
	size_t len = strlen(u->sample);
	char item[96];

	snprintf(item, sizeof(item), "%s%s[%d]", len ? ", " : "", esc(0, p->comm), (int)p->pid);
	if (len + strlen(item) + 4 < sizeof(u->sample))
		strcat(u->sample, item);
	else if (len + 4 < sizeof(u->sample) && strcmp(u->sample + len - 3, "...") != 0)
		strcat(u->sample, ", ...");
}

/* Distinct processes per package, counted as the findings go by. */
struct tally {
	const struct pkguard_inspection *ins;
	struct pkg_usage *u;
	size_t *last;	/* per target: the last process counted */
	bool *last_exe; /* ... and whether it counted as an instance */
};

/* Findings come grouped by process, so a per-package "last process" marker dedupes. */
static int count_finding(void *userdata, const struct pkguard_finding *f)
{
	struct tally *t = userdata;
	struct pkg_usage *pu;

	if (f->target == PKGUARD_TARGET_ANY)
		return 0;
	pu = &t->u[f->target];
	if (t->last[f->target] != f->proc) {
		t->last[f->target] = f->proc;
		t->last_exe[f->target] = false;
		pu->users++;
	}
	/* An instance runs a file of the package; it counts once, as an instance. */
	if (f->reason == PKGUARD_REASON_EXE && !t->last_exe[f->target]) {
		t->last_exe[f->target] = true;
		pu->users--;
		pu->instances++;
		add_sample(pu, &t->ins->procs->procs[f->proc]);
	}
	return 0;
}

/*
 * Count the packages' users, from the findings kept for JSON or, for the
 * text report, as they are found (the findings of every mapping of every
 * process would be most of scan's memory on a busy host).
 */
static int tally(const struct pkguard_inspection *ins, struct pkg_usage **out, size_t *n_out)
{
	size_t n = pkguard_fileset_n_targets(ins->fs), i;
	struct tally t = {ins, calloc(n ? n : 1, sizeof(*t.u)), calloc(n ? n : 1, sizeof(*t.last)),
			  calloc(n ? n : 1, sizeof(*t.last_exe))};

	if (!t.u || !t.last || !t.last_exe) {
		free(t.u);
		free(t.last);
		free(t.last_exe);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		t.u[i].target = i;
		t.last[i] = SIZE_MAX;
	}
	if (ins->findings) {
		for (i = 0; i < ins->findings->n; i++)
			count_finding(&t, &ins->findings->items[i]);
	} else {
		pkguard_detect_each(ins->fs, ins->procs, count_finding, &t);
	}
	free(t.last);
	free(t.last_exe);
	qsort(t.u, n, sizeof(*t.u), by_use);
	*out = t.u;
	*n_out = n;
	return 0;
}

static int report_json(struct cli *cli, const struct pkguard_inspection *ins,
		       const struct pkg_usage *u, size_t n)
{
	json_object *root = json_object_new_object(), *pkgs = json_object_new_array();
	size_t i, j;

	json_object_object_add(root, "root",
			       json_object_new_string(esc(0, pkguard_ctx_root(cli->ctx))));
	json_object_object_add(root, "backend", json_object_new_string(cli->backend->name));
	for (i = 0; i < n; i++) {
		const struct pkguard_target *t = pkguard_fileset_target(ins->fs, u[i].target);
		json_object *o = json_object_new_object(), *procs = json_object_new_array();

		if (!u[i].instances && !u[i].users)
			continue;
		json_object_object_add(o, "name", json_object_new_string(esc(0, t->name)));
		json_object_object_add(
			o, "version",
			t->old_version ? json_object_new_string(esc(0, t->old_version)) : NULL);
		json_object_object_add(o, "arch",
				       t->arch ? json_object_new_string(esc(0, t->arch)) : NULL);
		json_object_object_add(o, "instances", json_object_new_uint64(u[i].instances));
		json_object_object_add(o, "users", json_object_new_uint64(u[i].users));
		for (j = 0; j < ins->findings->n; j++) {
			if (ins->findings->items[j].target == u[i].target)
				json_object_array_add(
					procs, cli_json_process(ins, &ins->findings->items[j]));
		}
		json_object_object_add(o, "processes", procs);
		json_object_array_add(pkgs, o);
	}
	json_object_object_add(root, "packages", pkgs);
	json_object_object_add(root, "processes_scanned",
			       json_object_new_uint64(ins->procs->n_scanned));
	json_object_object_add(root, "seconds", json_object_new_double(ins->seconds));
	return json_print(root);
}

static void report_text(const struct pkguard_inspection *ins, const struct pkg_usage *u, size_t n)
{
	static const char *const headers[] = {"PACKAGE", "VERSION", "INSTANCES", "USERS",
					      "RUNNING"};
	struct pkguard_table tab;
	size_t i, shown = 0;

	pkguard_table_init(&tab, 5, headers);
	for (i = 0; i < n; i++) {
		const struct pkguard_target *t = pkguard_fileset_target(ins->fs, u[i].target);
		char inst[24], users[24];
		const char *row[5];

		if (!u[i].instances && !u[i].users)
			continue;
		snprintf(inst, sizeof(inst), "%zu", u[i].instances);
		snprintf(users, sizeof(users), "%zu", u[i].users);
		row[0] = esc(1, t->name);
		row[1] = t->old_version ? esc(2, t->old_version) : "-";
		row[2] = inst;
		row[3] = users;
		row[4] = u[i].sample[0] ? u[i].sample : "-";
		if (pkguard_table_add(&tab, row) < 0)
			break;
		shown++;
	}
	pkguard_table_print(&tab, stdout, "");
	pkguard_table_release(&tab);
	printf("%zu packages in use; scanned %zu processes in %.3f s\n", shown,
	       ins->procs->n_scanned, ins->seconds);
}

static int run_scan(struct cli *cli, int argc, char **argv)
{
	struct pkguard_inspection ins = {0};
	struct pkguard_pkgdb *db = NULL;
	struct pkg_usage *u = NULL;
	size_t n = 0;
	int rc;

	if (argc > 1)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE, "scan: unexpected argument '%s'",
				    argv[1]);
	rc = cli_open_pkgdb(cli, &db);
	if (rc < 0)
		return rc;
	rc = pkguard_fileset_new(cli->ctx, &ins.fs);
	if (rc == 0)
		rc = inspection_run_all(cli, db, &ins);
	cli->backend->close(db);
	/* JSON lists every finding; the text report only counts them. */
	if (rc == 0 && cli->json)
		rc = pkguard_detect(cli->ctx, ins.fs, ins.procs, &ins.findings);
	if (rc == 0)
		rc = tally(&ins, &u, &n);
	if (rc == 0 && cli->json)
		rc = report_json(cli, &ins, u, n);
	else if (rc == 0)
		report_text(&ins, u, n);
	free(u);
	pkguard_inspection_release(&ins);
	return rc;
}

const struct pkguard_command cmd_scan = {
	.name = "scan",
	.args = "",
	.summary = "every installed package that running processes use now",
	.run = run_scan,
};
