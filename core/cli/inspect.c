/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cli.h"

int cli_open_pkgdb(struct cli *cli, struct pkguard_pkgdb **db)
{
	return pkguard_pkgdb_open(cli->ctx, cli->backend, db);
}

/* A path label can be looked up as a file name only if it is one. */
static bool plausible_path(const char *label)
{
	size_t n = strlen(label);

	/* " (deleted)": replaced or removed; it is no installed file any more. */
	return label[0] == '/' && !(n > 10 && strcmp(label + n - 10, " (deleted)") == 0);
}

struct owner_ctx {
	struct pkguard_fileset *fs;
	const char *path;
	const char *const *paths; /* owners_many()'s */
};

static int add_owner(void *userdata, const struct pkguard_pkginfo *pkg)
{
	struct owner_ctx *o = userdata;
	size_t i, n = pkguard_fileset_n_targets(o->fs), target = n;

	for (i = 0; i < n; i++) {
		if (strcmp(pkguard_fileset_target(o->fs, i)->name, pkg->name) == 0) {
			target = i;
			break;
		}
	}
	if (target == n) {
		int rc = pkguard_fileset_add_target(o->fs, pkg->name, pkg->arch, pkg->version, NULL,
						    &target);
		if (rc < 0)
			return rc;
	}
	return pkguard_fileset_add_path(o->fs, target, o->path);
}

static int add_owner_of(void *userdata, size_t index, const struct pkguard_pkginfo *pkg)
{
	struct owner_ctx *o = userdata;

	o->path = o->paths[index];
	return add_owner(o, pkg);
}

/*
 * A process running a file of another root shows it by its path from here:
 * "/srv/root/usr/bin/x" is "/usr/bin/x" of the root "/srv/root".
 */
static const char *in_root(const char *root, const char *label)
{
	size_t n = strlen(root);

	while (n > 0 && root[n - 1] == '/')
		n--;
	if (n > 0 && strncmp(label, root, n) == 0 && label[n] == '/')
		return label + n;
	return label;
}

int inspection_run_all(struct cli *cli, struct pkguard_pkgdb *db, struct pkguard_inspection *ins)
{
	const char *root = pkguard_ctx_root(cli->ctx);
	struct pkguard_scan_opts opts = {0};
	uint64_t t0 = pkguard_now_ns();
	const char **paths;
	size_t i, n_paths = 0;
	int rc;

	rc = pkguard_proc_scan(cli->ctx, &opts, &ins->procs);
	if (rc < 0)
		return rc;
	/*
	 * Every distinct file the processes use, once: its label names a
	 * candidate path, the package database its owners, and the fileset's
	 * stat() of that path under the root decides by identity. A label that
	 * lies (a renamed, deleted or spoofed file) finds no matching inode.
	 */
	paths = calloc(ins->procs->n_seen ? ins->procs->n_seen : 1, sizeof(*paths));
	if (!paths)
		return pkguard_fail(cli->ctx, -ENOMEM, "scan");
	for (i = 0; i < ins->procs->n_seen; i++) {
		const char *path = in_root(root, ins->procs->seen[i].label);

		if (plausible_path(path))
			paths[n_paths++] = path;
	}
	/* In one pass over the package database where the backend can. */
	if (cli->backend->owners_many) {
		struct owner_ctx o = {.fs = ins->fs, .paths = paths};

		rc = cli->backend->owners_many(db, paths, n_paths, add_owner_of, &o);
	} else {
		for (i = 0; i < n_paths && rc == 0; i++) {
			struct owner_ctx o = {.fs = ins->fs, .path = paths[i]};

			rc = cli->backend->owners(db, o.path, add_owner, &o);
		}
	}
	free(paths);
	if (rc < 0)
		return rc;
	/*
	 * btrfs: maps shows the superblock's anonymous device, which matches
	 * no st_dev. Where only the inode matches, map_files/ tells the truth.
	 */
	for (i = 0; i < ins->procs->n_seen; i++) {
		struct pkguard_seen *seen = &ins->procs->seen[i];
		const struct pkguard_file *f;
		struct stat st;
		size_t cursor = 0;

		if (major(seen->id.dev) != 0 || !pkguard_fileset_has_ino(ins->fs, seen->id.ino) ||
		    pkguard_fileset_lookup(ins->fs, seen->id, &cursor, &f) == 0)
			continue;
		if (pkguard_proc_stat(cli->ctx, ins->procs, i, &st) == 0)
			seen->id = (struct pkguard_fileid){st.st_dev, st.st_ino};
	}
	ins->seconds = (double)(pkguard_now_ns() - t0) / 1e9;
	return 0;
}
