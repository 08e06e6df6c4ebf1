/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkguard/fileset.h"
#include "util/internal.h"

struct pkguard_fileset {
	struct pkguard_ctx *ctx;
	bool live_root;

	struct pkguard_target *targets;
	size_t n_targets, cap_targets;

	struct pkguard_file *files;
	size_t n_files, cap_files;

	/* Open addressing, linear probing: file index + 1, 0 = empty. */
	size_t *slots;
	size_t n_slots;

	/* The same for inode numbers alone (btrfs pre-filter): inode, 0 = empty. */
	ino_t *ino_slots;
	size_t n_ino_slots, n_inos;

	dev_t *devs;
	size_t n_devs, cap_devs;
};

static size_t hash_id(struct pkguard_fileid id)
{
	uint64_t h = (uint64_t)id.ino * 0x9e3779b97f4a7c15ull;

	h ^= (uint64_t)id.dev * 0xc2b2ae3d27d4eb4full;
	return (size_t)(h ^ (h >> 29));
}

int pkguard_fileset_new(struct pkguard_ctx *ctx, struct pkguard_fileset **out)
{
	struct pkguard_fileset *fs;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return pkguard_fail(ctx, -ENOMEM, "cannot create fileset");
	fs->ctx = ctx;
	fs->live_root = pkguard_ctx_root_is_live(ctx);
	*out = fs;
	return 0;
}

void pkguard_fileset_free(struct pkguard_fileset *fs)
{
	size_t i;

	if (!fs)
		return;
	for (i = 0; i < fs->n_targets; i++) {
		free(fs->targets[i].name);
		free(fs->targets[i].arch);
		free(fs->targets[i].old_version);
		free(fs->targets[i].new_version);
	}
	for (i = 0; i < fs->n_files; i++)
		free(fs->files[i].path);
	free(fs->targets);
	free(fs->files);
	free(fs->slots);
	free(fs->ino_slots);
	free(fs->devs);
	free(fs);
}

static int dup_opt(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

int pkguard_fileset_add_target(struct pkguard_fileset *fs, const char *name, const char *arch,
			       const char *old_version, const char *new_version, size_t *index)
{
	struct pkguard_target t = {0};

	if (array_grow(&fs->targets, &fs->cap_targets, fs->n_targets + 1, sizeof(t)) < 0 ||
	    dup_opt(name, &t.name) < 0 || dup_opt(arch, &t.arch) < 0 ||
	    dup_opt(old_version, &t.old_version) < 0 || dup_opt(new_version, &t.new_version) < 0) {
		free(t.name);
		free(t.arch);
		free(t.old_version);
		return pkguard_fail(fs->ctx, -ENOMEM, "cannot add target '%s'", name);
	}
	fs->targets[fs->n_targets] = t;
	*index = fs->n_targets++;
	return 0;
}

size_t pkguard_fileset_n_targets(const struct pkguard_fileset *fs)
{
	return fs->n_targets;
}

const struct pkguard_target *pkguard_fileset_target(const struct pkguard_fileset *fs, size_t i)
{
	return &fs->targets[i];
}

size_t pkguard_fileset_n_files(const struct pkguard_fileset *fs)
{
	return fs->n_files;
}

const struct pkguard_file *pkguard_fileset_file(const struct pkguard_fileset *fs, size_t i)
{
	return &fs->files[i];
}

/*
 * Look PATH up under the root without following its last component. For the
 * live root a plain fstatat() is enough; for another root, resolving in it
 * (pkguard_ctx_openat) keeps absolute symlinks inside it (a root's "/lib64 ->
 * /usr/lib64" must not reach the host's /usr).
 */
static int stat_under_root(struct pkguard_fileset *fs, const char *path, struct stat *st)
{
	const char *rel = path;
	int fd, rc;

	while (*rel == '/')
		rel++;
	if (*rel == '\0')
		rel = ".";
	if (fs->live_root)
		return fstatat(pkguard_ctx_root_fd(fs->ctx), rel, st, AT_SYMLINK_NOFOLLOW) < 0
			       ? -errno
			       : 0;
	fd = pkguard_ctx_openat(fs->ctx, rel, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd;
	rc = fstat(fd, st) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* The directories whose programs an admin or the system runs by name. */
static bool in_path_dir(const char *path)
{
	static const char *const dirs[] = {
		"/bin/",	   "/sbin/",	       "/usr/bin/",   "/usr/sbin/",
		"/usr/local/bin/", "/usr/local/sbin/", "/usr/games/",
	};
	const char *slash = strrchr(path, '/');
	size_t i, n;

	if (strncmp(path, "/etc/", 5) == 0)
		return true;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		n = strlen(dirs[i]);
		if (strncmp(path, dirs[i], n) == 0 && slash == path + n - 1)
			return true;
	}
	return false;
}

static bool is_shared_object(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *so;

	base = base ? base + 1 : path;
	so = strstr(base, ".so");
	return so && (so[3] == '\0' || so[3] == '.');
}

static int index_ino(struct pkguard_fileset *fs, ino_t ino)
{
	size_t i, mask;

	if (ino == 0)
		return 0;
	if ((fs->n_inos + 1) * 2 > fs->n_ino_slots) {
		size_t n = fs->n_ino_slots ? fs->n_ino_slots * 2 : 64;
		ino_t *slots = calloc(n, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (i = 0; i < fs->n_ino_slots; i++) {
			size_t j;

			if (!fs->ino_slots[i])
				continue;
			for (j = hash_id((struct pkguard_fileid){0, fs->ino_slots[i]}) & (n - 1);
			     slots[j]; j = (j + 1) & (n - 1))
				;
			slots[j] = fs->ino_slots[i];
		}
		free(fs->ino_slots);
		fs->ino_slots = slots;
		fs->n_ino_slots = n;
	}
	mask = fs->n_ino_slots - 1;
	for (i = hash_id((struct pkguard_fileid){0, ino}) & mask; fs->ino_slots[i];
	     i = (i + 1) & mask) {
		if (fs->ino_slots[i] == ino)
			return 0;
	}
	fs->ino_slots[i] = ino;
	fs->n_inos++;
	return 0;
}

static int index_file(struct pkguard_fileset *fs, size_t idx)
{
	size_t i, mask;

	if ((fs->n_files + 1) * 2 > fs->n_slots) {
		size_t n = fs->n_slots ? fs->n_slots * 2 : 64;
		size_t *slots = calloc(n, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (i = 0; i < fs->n_slots; i++) {
			size_t j;

			if (!fs->slots[i])
				continue;
			for (j = hash_id(fs->files[fs->slots[i] - 1].id) & (n - 1); slots[j];
			     j = (j + 1) & (n - 1))
				;
			slots[j] = fs->slots[i];
		}
		free(fs->slots);
		fs->slots = slots;
		fs->n_slots = n;
	}
	mask = fs->n_slots - 1;
	for (i = hash_id(fs->files[idx].id) & mask; fs->slots[i]; i = (i + 1) & mask)
		;
	fs->slots[i] = idx + 1;
	return index_ino(fs, fs->files[idx].id.ino);
}

static int index_dev(struct pkguard_fileset *fs, dev_t dev)
{
	size_t i;

	for (i = 0; i < fs->n_devs; i++) {
		if (fs->devs[i] == dev)
			return 0;
	}
	if (array_grow(&fs->devs, &fs->cap_devs, fs->n_devs + 1, sizeof(dev)) < 0)
		return -ENOMEM;
	fs->devs[fs->n_devs++] = dev;
	return 0;
}

static int add_file(struct pkguard_fileset *fs, size_t target, const char *path, bool lockfile)
{
	struct pkguard_target *t = &fs->targets[target];
	struct pkguard_file f = {0};
	const struct pkguard_file *dup;
	size_t cursor = 0;
	struct stat st;
	int rc;

	rc = stat_under_root(fs, path, &st);
	if (rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP) {
		if (!lockfile)
			t->n_missing++;
		return 0;
	}
	if (rc < 0)
		return pkguard_fail(fs->ctx, rc, "cannot stat '%s' under '%s'", path,
				    pkguard_ctx_root(fs->ctx));
	if (!S_ISREG(st.st_mode))
		return 0;

	f.id = (struct pkguard_fileid){st.st_dev, st.st_ino};
	/* Multi-arch instances of one package can list the same shared file. */
	while (pkguard_fileset_lookup(fs, f.id, &cursor, &dup) == 0) {
		if (dup->target == target) {
			/* A package file named as a lockfile too: it is one. */
			if (lockfile)
				fs->files[dup - fs->files].flags |= PKGUARD_FILE_LOCKFILE;
			return 0;
		}
	}
	f.target = target;
	f.mode = st.st_mode;
	f.uid = st.st_uid;
	if (lockfile) {
		f.flags |= PKGUARD_FILE_LOCKFILE;
	} else if (st.st_mode & 0111) {
		f.flags |= PKGUARD_FILE_EXEC;
		if (!in_path_dir(path) && !is_shared_object(path))
			f.flags |= PKGUARD_FILE_HELPER;
	}
	if (array_grow(&fs->files, &fs->cap_files, fs->n_files + 1, sizeof(f)) < 0)
		return pkguard_fail(fs->ctx, -ENOMEM, "cannot add '%s'", path);
	f.path = strdup(path);
	if (!f.path)
		return pkguard_fail(fs->ctx, -ENOMEM, "cannot add '%s'", path);
	fs->files[fs->n_files] = f;
	rc = index_file(fs, fs->n_files);
	if (rc == 0)
		rc = index_dev(fs, f.id.dev);
	if (rc < 0) {
		free(f.path);
		return pkguard_fail(fs->ctx, rc, "cannot index '%s'", path);
	}
	fs->n_files++;
	if (!lockfile)
		t->n_files++;
	if (f.flags & PKGUARD_FILE_HELPER)
		t->n_helpers++;
	return 0;
}

int pkguard_fileset_add_path(struct pkguard_fileset *fs, size_t target, const char *path)
{
	return add_file(fs, target, path, false);
}

int pkguard_fileset_add_lockfile(struct pkguard_fileset *fs, size_t target, const char *path)
{
	return add_file(fs, target, path, true);
}

int pkguard_fileset_lookup(const struct pkguard_fileset *fs, struct pkguard_fileid id,
			   size_t *cursor, const struct pkguard_file **file)
{
	size_t mask, i, probes;

	if (!fs->n_slots)
		return 1;
	mask = fs->n_slots - 1;
	/* *cursor counts the probes done so far, so a lookup can resume after a match. */
	for (probes = *cursor; probes < fs->n_slots; probes++) {
		const struct pkguard_file *f;

		i = (hash_id(id) + probes) & mask;
		if (!fs->slots[i])
			return 1;
		f = &fs->files[fs->slots[i] - 1];
		if (f->id.dev == id.dev && f->id.ino == id.ino) {
			*cursor = probes + 1;
			*file = f;
			return 0;
		}
	}
	return 1;
}

bool pkguard_fileset_has_dev(const struct pkguard_fileset *fs, dev_t dev)
{
	size_t i;

	for (i = 0; i < fs->n_devs; i++) {
		if (fs->devs[i] == dev)
			return true;
	}
	return false;
}

bool pkguard_fileset_has_ino(const struct pkguard_fileset *fs, ino_t ino)
{
	size_t i, mask;

	if (!fs->n_ino_slots)
		return false;
	mask = fs->n_ino_slots - 1;
	for (i = hash_id((struct pkguard_fileid){0, ino}) & mask; fs->ino_slots[i];
	     i = (i + 1) & mask) {
		if (fs->ino_slots[i] == ino)
			return true;
	}
	return false;
}
