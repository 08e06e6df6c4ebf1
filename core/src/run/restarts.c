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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkguard/restarts.h"

#define DELETED	    " (deleted)"
#define DELETED_LEN (sizeof(DELETED) - 1)

static int add_owner(void *userdata, const struct pkguard_pkginfo *pkg)
{
	struct pkguard_replaced *r = userdata;
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
static const char *under_root(struct pkguard_ctx *ctx, const char *label)
{
	const char *root = pkguard_ctx_root(ctx);
	size_t n = strlen(root);

	if (strcmp(root, "/") == 0)
		return label[0] == '/' ? label : NULL;
	if (strncmp(label, root, n) != 0 || label[n] != '/')
		return NULL;
	return label + n;
}

/* Decide whether seen file I was replaced by an upgrade; fill R if so. */
static int check_seen(struct pkguard_ctx *ctx, const struct pkguard_pkgdb_ops *backend,
		      struct pkguard_pkgdb *db, struct pkguard_restarts *res, size_t i)
{
	const struct pkguard_seen *sn = &res->procs->seen[i];
	struct pkguard_replaced *r = &res->replaced[i];
	size_t n = strlen(sn->label);
	struct stat old, now;
	const char *rel;
	char *path;
	int rc;

	if (n <= DELETED_LEN || strcmp(sn->label + n - DELETED_LEN, DELETED) != 0)
		return 0;
	rc = pkguard_proc_stat(ctx, res->procs, i, &old);
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
	rel = under_root(ctx, path);
	/*
	 * The path it had holds a file now (a deleted temporary file's does
	 * not), owned by an installed package (a memfd's or shm segment's is
	 * not). Not following a symlink there: maps and exe show resolved
	 * paths, and a link under another root would resolve against ours.
	 */
	if (!rel || !rel[1] ||
	    fstatat(pkguard_ctx_root_fd(ctx), rel + 1, &now, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(now.st_mode)) {
		free(path);
		return 0;
	}
	rc = backend->owners(db, rel, add_owner, r);
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
static bool same_root(struct pkguard_ctx *ctx, const struct pkguard_proc *p)
{
	int proc_fd = pkguard_ctx_proc_fd(ctx);
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
	return fstat(pkguard_ctx_root_fd(ctx), &target) == 0 && target.st_dev == theirs.st_dev &&
	       target.st_ino == theirs.st_ino;
}

static int item_cmp(const void *pa, const void *pb, void *userdata)
{
	const struct pkguard_restarts *res = userdata;
	const struct pkguard_restart_item *a = pa, *b = pb;
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

static bool same_file(const struct pkguard_restarts *res, const struct pkguard_restart_item *a,
		      const struct pkguard_restart_item *b)
{
	return a->proc == b->proc &&
	       strcmp(res->replaced[a->seen].path, res->replaced[b->seen].path) == 0;
}

static int add_item(struct pkguard_restarts *res, size_t *cap, struct pkguard_restart_item it)
{
	if (res->n_items == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct pkguard_restart_item *items = realloc(res->items, n * sizeof(*items));

		if (!items)
			return -ENOMEM;
		res->items = items;
		*cap = n;
	}
	res->items[res->n_items++] = it;
	return 0;
}

/* How many distinct packages own the files of the items. */
static int count_packages(struct pkguard_restarts *res)
{
	const char **seen = NULL;
	size_t i, j, k;

	for (i = 0; i < res->n_items; i++) {
		const struct pkguard_replaced *r = &res->replaced[res->items[i].seen];

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

int pkguard_restarts_collect(struct pkguard_ctx *ctx, const struct pkguard_pkgdb_ops *backend,
			     struct pkguard_pkgdb *db, struct pkguard_restarts *res)
{
	struct pkguard_scan_opts opts = {0};
	const struct pkguard_proctab *tab;
	uint64_t t0 = pkguard_now_ns();
	size_t i, u, cap = 0, kept;
	int rc;

	rc = pkguard_proc_scan(ctx, &opts, &res->procs);
	if (rc < 0)
		return rc;
	tab = res->procs;
	res->replaced = calloc(tab->n_seen ? tab->n_seen : 1, sizeof(*res->replaced));
	if (!res->replaced)
		return pkguard_fail(ctx, -ENOMEM, "cannot check the processes");
	for (i = 0; i < tab->n_seen; i++) {
		rc = check_seen(ctx, backend, db, res, i);
		if (rc < 0)
			return rc == -ENOMEM ? pkguard_fail(ctx, rc, "cannot check the processes")
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
		if (!any || !same_root(ctx, p))
			continue;
		for (u = p->first_use; u < p->first_use + p->n_uses; u++) {
			const struct pkguard_use *use = &tab->uses[u];

			if (!res->replaced[use->seen].path)
				continue;
			rc = add_item(res, &cap,
				      (struct pkguard_restart_item){i, use->seen, use->kind});
			if (rc < 0)
				return pkguard_fail(ctx, rc, "cannot check the processes");
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
		return pkguard_fail(ctx, rc, "cannot check the processes");
	res->seconds = (double)(pkguard_now_ns() - t0) / 1e9;
	return 0;
}

void pkguard_restarts_release(struct pkguard_restarts *res)
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

const char *pkguard_use_name(enum pkguard_use_kind kind)
{
	return kind == PKGUARD_USE_EXE ? "exe" : kind == PKGUARD_USE_MAP ? "map" : "lock";
}

/* The list as state findings: one per process, replaced file and owning package. */
int pkguard_restarts_record(struct pkguard_ctx *ctx, struct pkguard_state *st,
			    const struct pkguard_restarts *res, int64_t run_id)
{
	struct pkguard_state_finding *f;
	size_t i, j, n = 0;
	int rc;

	for (i = 0; i < res->n_items; i++)
		n += res->replaced[res->items[i].seen].n_owners;
	f = calloc(n ? n : 1, sizeof(*f));
	if (!f)
		return pkguard_fail(ctx, -ENOMEM, "cannot record the processes");
	for (i = n = 0; i < res->n_items; i++) {
		const struct pkguard_restart_item *it = &res->items[i];
		const struct pkguard_proc *p = &res->procs->procs[it->proc];
		const struct pkguard_replaced *r = &res->replaced[it->seen];

		for (j = 0; j < r->n_owners; j++)
			f[n++] = (struct pkguard_state_finding){
				.package = r->owners[j],
				.pid = p->pid,
				.start_time = p->start_time,
				.uid = p->uid,
				.comm = p->comm,
				.unit = p->unit[0] ? p->unit : NULL,
				.reason = pkguard_use_name(it->kind),
				.file = r->path,
			};
	}
	rc = pkguard_state_needs_restart_set(st, run_id, f, n);
	free(f);
	return rc;
}
