/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard needs-restart: the processes that still run or map files that an
 * upgrade has replaced since they started, grouped by unit, needrestart-style.
 *
 * A package manager replaces a file by writing the new one beside it and
 * renaming it over the old path (dpkg's ".dpkg-new", rpm's ";hex" files): the
 * old inode lives on, nameless, for as long as a process maps it, and the
 * kernel shows its path with " (deleted)" appended. That text is only a
 * pre-filter, since any file can be named "x (deleted)", and memfds, SysV
 * shared memory and deleted temporary files show the same suffix. A use is
 * reported when the inode itself, reached through /proc, has no link left,
 * and the path it had now holds a file that an installed package owns.
 */
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define DELETED	    " (deleted)"
#define DELETED_LEN (sizeof(DELETED) - 1)

/* A seen file that was replaced: the path it had, relative to the root, and its owners. */
struct replaced {
	char *path; /* NULL: not replaced */
	char **owners;
	size_t n_owners;
};

/* One process using one replaced file. */
struct item {
	size_t proc;
	size_t seen;
	enum pkguard_use_kind kind;
};

struct result {
	struct pkguard_proctab *procs;
	struct replaced *replaced; /* parallel to procs->seen */
	struct item *items;
	size_t n_items;
	size_t n_processes; /* distinct processes among the items */
	size_t n_packages;  /* distinct packages among the items */
	size_t n_denied;    /* processes that could not be read */
	size_t n_unconfirmed;
	double seconds;
};

static int add_owner(void *userdata, const struct pkguard_pkginfo *pkg)
{
	struct replaced *r = userdata;
	char **owners;
	size_t i;

	/* Multi-arch instances of one package own the same path: name it once. */
	for (i = 0; i < r->n_owners; i++) {
		if (strcmp(r->owners[i], pkg->name) == 0)
			return 0;
	}
	owners = realloc(r->owners, (r->n_owners + 1) * sizeof(*owners));
	if (!owners)
		return -ENOMEM;
	r->owners = owners;
	r->owners[r->n_owners] = strdup(pkg->name);
	if (!r->owners[r->n_owners])
		return -ENOMEM;
	r->n_owners++;
	return 0;
}

/*
 * The path under the root that LABEL (a path as this process sees it, " (deleted)"
 * removed) had, or NULL when it lies outside the root. Processes started from
 * another root's files show them under that root's directory.
 */
static const char *under_root(struct cli *cli, const char *label)
{
	const char *root = pkguard_ctx_root(cli->ctx);
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return label[0] == '/' ? label : NULL;
	if (strncmp(label, root, n) != 0 || label[n] != '/')
		return NULL;
	return label + n;
}

/* Decide whether seen file I was replaced by an upgrade; fill R if so. */
static int check_seen(struct cli *cli, struct pkguard_pkgdb *db, struct result *res, size_t i)
{
	const struct pkguard_seen *sn = &res->procs->seen[i];
	struct replaced *r = &res->replaced[i];
	size_t n = strlen(sn->label);
	struct stat old, now;
	const char *rel;
	char *path;
	int rc;

	if (n <= DELETED_LEN || strcmp(sn->label + n - DELETED_LEN, DELETED) != 0)
		return 0;
	rc = pkguard_proc_stat(cli->ctx, res->procs, i, &old);
	/* Following map_files needs CAP_SYS_ADMIN: without it, unconfirmed. */
	if (rc == -EACCES || rc == -EPERM) {
		res->n_unconfirmed++;
		return 0;
	}
	/* A name left (a live file called "x (deleted)"), or not a plain file: no upgrade. */
	if (rc < 0 || !S_ISREG(old.st_mode) || old.st_nlink != 0)
		return 0;
	path = strndup(sn->label, n - DELETED_LEN);
	if (!path)
		return -ENOMEM;
	rel = under_root(cli, path);
	/*
	 * The path it had holds a file now (a deleted temporary file's does
	 * not), owned by an installed package (a memfd's or shm segment's is
	 * not). Not following a symlink there: maps and exe show resolved
	 * paths, and a link under another root would resolve against ours.
	 */
	if (!rel || !rel[1] ||
	    fstatat(pkguard_ctx_root_fd(cli->ctx), rel + 1, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(now.st_mode)) {
		free(path);
		return 0;
	}
	rc = cli->backend->owners(db, rel, add_owner, r);
	if (rc < 0 || !r->n_owners) {
		free(path);
		return rc < 0 ? rc : 0;
	}
	memmove(path, rel, strlen(rel) + 1);
	r->path = path;
	return 0;
}

/*
 * A process in a container names its files as its own mount namespace sees
 * them, and "/usr/lib/x (deleted)" there is not the host's /usr/lib/x. Take
 * the word of a process only when its root directory is ours or the target
 * root (a chroot into it); a service sandboxed by systemd has a mount
 * namespace of its own but still our root.
 */
static bool same_root(struct cli *cli, const struct pkguard_proc *p)
{
	int proc_fd = pkguard_ctx_proc_fd(cli->ctx);
	struct stat mine, target, theirs;
	char name[32];

	if (!p->other_mntns)
		return true;
	snprintf(name, sizeof(name), "%d/root", (int)p->pid);
	if (fstatat(proc_fd, name, &theirs, 0) < 0)
		return false;
	if (fstatat(proc_fd, "self/root", &mine, 0) == 0 && mine.st_dev == theirs.st_dev &&
	    mine.st_ino == theirs.st_ino)
		return true;
	return fstat(pkguard_ctx_root_fd(cli->ctx), &target) == 0 &&
	       target.st_dev == theirs.st_dev && target.st_ino == theirs.st_ino;
}

static int item_cmp(const void *pa, const void *pb, void *userdata)
{
	const struct result *res = userdata;
	const struct item *a = pa, *b = pb;
	const struct pkguard_proc *x = &res->procs->procs[a->proc],
				  *y = &res->procs->procs[b->proc];
	int c;

	/* By unit (none last), process, file; for one file, the exe use first. */
	if (!x->unit[0] != !y->unit[0])
		return !x->unit[0] - !y->unit[0];
	c = strcmp(x->unit, y->unit);
	if (c)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->start_time != y->start_time)
		return x->start_time < y->start_time ? -1 : 1;
	c = strcmp(res->replaced[a->seen].path, res->replaced[b->seen].path);
	if (c)
		return c;
	return (int)a->kind - (int)b->kind;
}

static bool same_file(const struct result *res, const struct item *a, const struct item *b)
{
	return a->proc == b->proc &&
	       strcmp(res->replaced[a->seen].path, res->replaced[b->seen].path) == 0;
}

static int add_item(struct result *res, size_t *cap, struct item it)
{
	if (res->n_items == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct item *items = realloc(res->items, n * sizeof(*items));

		if (!items)
			return -ENOMEM;
		res->items = items;
		*cap = n;
	}
	res->items[res->n_items++] = it;
	return 0;
}

/* How many distinct packages own the files of the items. */
static int count_packages(struct result *res)
{
	const char **seen = NULL;
	size_t i, j, k;

	for (i = 0; i < res->n_items; i++) {
		const struct replaced *r = &res->replaced[res->items[i].seen];

		for (j = 0; j < r->n_owners; j++) {
			for (k = 0; k < res->n_packages; k++) {
				if (strcmp(seen[k], r->owners[j]) == 0)
					break;
			}
			if (k < res->n_packages)
				continue;
			if (res->n_packages % 16 == 0) {
				const char **more =
					realloc(seen, (res->n_packages + 16) * sizeof(*seen));

				if (!more) {
					free(seen);
					return -ENOMEM;
				}
				seen = more;
			}
			seen[res->n_packages++] = r->owners[j];
		}
	}
	free(seen);
	return 0;
}

static int collect(struct cli *cli, struct pkguard_pkgdb *db, struct result *res)
{
	struct pkguard_scan_opts opts = {0};
	const struct pkguard_proctab *tab;
	uint64_t t0 = pkguard_now_ns();
	size_t i, u, cap = 0, kept;
	int rc;

	rc = pkguard_proc_scan(cli->ctx, &opts, &res->procs);
	if (rc < 0)
		return rc;
	tab = res->procs;
	res->replaced = calloc(tab->n_seen ? tab->n_seen : 1, sizeof(*res->replaced));
	if (!res->replaced)
		return pkguard_fail(cli->ctx, -ENOMEM, "cannot check the processes");
	for (i = 0; i < tab->n_seen; i++) {
		rc = check_seen(cli, db, res, i);
		if (rc < 0)
			return rc == -ENOMEM
				       ? pkguard_fail(cli->ctx, rc, "cannot check the processes")
				       : rc;
	}
	for (i = 0; i < tab->n_procs; i++) {
		const struct pkguard_proc *p = &tab->procs[i];
		bool any = false;

		if (p->state == PKGUARD_PROC_DENIED)
			res->n_denied++;
		/* One that exited during the scan needs no restart. */
		if (p->state != PKGUARD_PROC_OK)
			continue;
		for (u = p->first_use; u < p->first_use + p->n_uses; u++)
			any |= res->replaced[tab->uses[u].seen].path != NULL;
		if (!any || !same_root(cli, p))
			continue;
		for (u = p->first_use; u < p->first_use + p->n_uses; u++) {
			const struct pkguard_use *use = &tab->uses[u];

			if (!res->replaced[use->seen].path)
				continue;
			rc = add_item(res, &cap, (struct item){i, use->seen, use->kind});
			if (rc < 0)
				return pkguard_fail(cli->ctx, rc, "cannot check the processes");
		}
	}
	if (res->n_items)
		qsort_r(res->items, res->n_items, sizeof(*res->items), item_cmp, res);
	/*
	 * One line per process and path: overlayfs can show a program once as
	 * its exe and once more, under another device, among its mappings.
	 */
	for (i = kept = 0; i < res->n_items; i++) {
		if (kept && same_file(res, &res->items[kept - 1], &res->items[i]))
			continue;
		if (!kept || res->items[kept - 1].proc != res->items[i].proc)
			res->n_processes++;
		res->items[kept++] = res->items[i];
	}
	res->n_items = kept;
	rc = count_packages(res);
	if (rc < 0)
		return pkguard_fail(cli->ctx, rc, "cannot check the processes");
	res->seconds = (double)(pkguard_now_ns() - t0) / 1e9;
	return 0;
}

static void result_release(struct result *res)
{
	size_t i, j;

	for (i = 0; res->procs && i < res->procs->n_seen; i++) {
		free(res->replaced ? res->replaced[i].path : NULL);
		for (j = 0; res->replaced && j < res->replaced[i].n_owners; j++)
			free(res->replaced[i].owners[j]);
		free(res->replaced ? res->replaced[i].owners : NULL);
	}
	free(res->replaced);
	free(res->items);
	pkguard_proctab_free(res->procs);
	memset(res, 0, sizeof(*res));
}

/* "dpkg, libc6": every owner of a path, escaped. */
static void owners_text(const struct replaced *r, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < r->n_owners && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
					esc(5, r->owners[i]));
}

static const char *use_name(enum pkguard_use_kind kind)
{
	return kind == PKGUARD_USE_EXE ? "exe" : kind == PKGUARD_USE_MAP ? "map" : "lock";
}

static void report_text(const struct result *res)
{
	static const char *const headers[] = {"PID", "USER", "COMMAND", "USE", "PACKAGE", "FILE"};
	const struct pkguard_proctab *tab = res->procs;
	size_t i = 0;
	char a[64], b[64];

	while (i < res->n_items) {
		const struct pkguard_proc *first = &tab->procs[res->items[i].proc];
		struct table t;

		printf("%s:\n", first->unit[0] ? esc(0, first->unit) : "(no unit)");
		table_init(&t, 6, headers);
		for (; i < res->n_items; i++) {
			const struct item *it = &res->items[i];
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
			row[3] = use_name(it->kind);
			row[4] = owners;
			row[5] = esc(2, res->replaced[it->seen].path);
			if (table_add(&t, row) < 0)
				break;
		}
		table_print(&t, stdout, "  ");
		table_release(&t);
	}
	if (res->n_items)
		printf("%s replaced files of %s: restart %s to run the new versions\n",
		       plural(a, sizeof(a), res->n_processes, "process runs", "processes run"),
		       plural(b, sizeof(b), res->n_packages, "package", "packages"),
		       res->n_processes == 1 ? "it" : "them");
	else
		printf("no process runs replaced files\n");
}

static json_object *json_file(const struct result *res, const struct item *it)
{
	const struct replaced *r = &res->replaced[it->seen];
	json_object *o = json_object_new_object(), *owners = json_object_new_array();
	size_t i;

	json_object_object_add(o, "file", json_object_new_string(esc(0, r->path)));
	json_object_object_add(o, "use", json_object_new_string(use_name(it->kind)));
	for (i = 0; i < r->n_owners; i++)
		json_object_array_add(owners, json_object_new_string(esc(0, r->owners[i])));
	json_object_object_add(o, "packages", owners);
	return o;
}

static int report_json(struct cli *cli, const struct result *res)
{
	const struct pkguard_proctab *tab = res->procs;
	json_object *root = json_object_new_object(), *units = json_object_new_array();
	json_object *procs = NULL, *files = NULL;
	size_t i;

	json_object_object_add(root, "root",
			       json_object_new_string(esc(0, pkguard_ctx_root(cli->ctx))));
	json_object_object_add(root, "backend", json_object_new_string(cli->backend->name));
	for (i = 0; i < res->n_items; i++) {
		const struct item *it = &res->items[i];
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

/* The list as state findings: one per process, replaced file and owning package. */
static int record_items(struct cli *cli, struct pkguard_state *st, const struct result *res,
			int64_t run_id)
{
	struct pkguard_state_finding *f;
	size_t i, j, n = 0;
	int rc;

	for (i = 0; i < res->n_items; i++)
		n += res->replaced[res->items[i].seen].n_owners;
	f = calloc(n ? n : 1, sizeof(*f));
	if (!f)
		return pkguard_fail(cli->ctx, -ENOMEM, "cannot record the processes");
	for (i = n = 0; i < res->n_items; i++) {
		const struct item *it = &res->items[i];
		const struct pkguard_proc *p = &res->procs->procs[it->proc];
		const struct replaced *r = &res->replaced[it->seen];

		for (j = 0; j < r->n_owners; j++)
			f[n++] = (struct pkguard_state_finding){
				.package = r->owners[j],
				.pid = p->pid,
				.start_time = p->start_time,
				.uid = p->uid,
				.comm = p->comm,
				.unit = p->unit[0] ? p->unit : NULL,
				.reason = use_name(it->kind),
				.file = r->path,
			};
	}
	rc = pkguard_state_needs_restart_set(st, run_id, f, n);
	free(f);
	return rc;
}

/*
 * Best effort: the list is what status shows later, but failing to store it
 * must not hide it from the admin who asked now. It is stored outside any
 * run (run id 0): looking is no decision, and a monitoring job that looks
 * every few minutes must not push the real decisions out of status.
 */
static void record(struct cli *cli, const struct result *res)
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
		rc = record_items(cli, st, res, 0);
	if (rc < 0)
		pkguard_log(cli->ctx, PKGUARD_LOG_WARN,
			    "cannot record the list in the state database: %s",
			    pkguard_ctx_errmsg(cli->ctx));
	pkguard_state_close(st);
}

int cli_needs_restart_record(struct cli *cli, struct pkguard_state *st, int64_t run_id,
			     size_t *n_processes)
{
	struct pkguard_pkgdb *db = NULL;
	struct result res = {0};
	int rc;

	rc = cli_open_pkgdb(cli, &db);
	if (rc < 0)
		return rc;
	rc = collect(cli, db, &res);
	cli->backend->close(db);
	if (rc == 0)
		rc = record_items(cli, st, &res, run_id);
	*n_processes = res.n_processes;
	result_release(&res);
	return rc;
}

static int run_needs_restart(struct cli *cli, int argc, char **argv)
{
	struct pkguard_pkgdb *db = NULL;
	struct result res = {0};
	char n[64];
	int rc;

	if (argc > 1)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "needs-restart: unexpected argument '%s'", esc(0, argv[1]));
	rc = cli_open_pkgdb(cli, &db);
	if (rc < 0)
		return rc;
	rc = collect(cli, db, &res);
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
	result_release(&res);
	return rc;
}

const struct pkguard_command cmd_needs_restart = {
	.name = "needs-restart",
	.args = "",
	.summary = "processes that run replaced files, by unit (exit 1 if any)",
	.run = run_needs_restart,
};
