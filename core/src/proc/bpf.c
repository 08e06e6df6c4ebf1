/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "proc/bpf.h"
/* Generated from bpf/maps.bpf.c by bpftool gen skeleton -L. */
#include "pkguard_maps.lskel.h"
/* PKGUARD_MAPS_BPF_ID, from the skeleton's hash (bpf/id.cmake). */
#include "pkguard_maps_id.h"

struct maps_bpf {
	struct pkguard_maps_bpf *skel; /* NULL when the program was kept */
	int prog_fd;
};

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	long fd = syscall(__NR_bpf, cmd, attr, sizeof(*attr));

	return fd < 0 ? -errno : (int)fd;
}

/*
 * BPF_OBJ_PIN and BPF_OBJ_GET at a name in a directory opened and checked
 * first (BPF_F_PATH_FD, Linux 6.5). The kernel headers of older systems
 * lack the field, so the command's attributes are laid out here; an older
 * kernel refuses them (EINVAL).
 */
struct obj_attr {
	__aligned_u64 pathname;
	__u32 bpf_fd;
	__u32 file_flags;
	__s32 path_fd;
};
#define OBJ_F_PATH_FD (1U << 14)

static int obj_at(int cmd, int dirfd, const char *name, int fd)
{
	struct obj_attr attr;
	long rc;

	/* The padding after path_fd too: the kernel refuses nonzero bytes past its fields. */
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (__u64)(uintptr_t)name;
	attr.bpf_fd = (__u32)fd;
	attr.file_flags = OBJ_F_PATH_FD;
	attr.path_fd = dirfd;
	rc = syscall(__NR_bpf, cmd, &attr, sizeof(attr));
	return rc < 0 ? -errno : (int)rc;
}

/*
 * The directory PATH to keep the program in, created if need be: in a BPF
 * filesystem, root's, writable by no one else, its last component not a
 * symbolic link. Returns its fd, or -1 with *WHY.
 */
static int keep_dir(const char *path, const char **why)
{
	const char *base = strrchr(path, '/');
	char parent[256];
	struct statfs sfs;
	struct stat st;
	int pfd, fd;

	if (!base || base == path || (size_t)(base - path) >= sizeof(parent)) {
		*why = "not a directory's path";
		return -1;
	}
	memcpy(parent, path, (size_t)(base - path));
	parent[base - path] = '\0';
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || fstatfs(pfd, &sfs) < 0 || sfs.f_type != BPF_FS_MAGIC) {
		*why = "no BPF filesystem mounted there";
		if (pfd >= 0)
			close(pfd);
		return -1;
	}
	if (mkdirat(pfd, base + 1, 0700) < 0 && errno != EEXIST)
		fd = -1;
	else
		fd = openat(pfd, base + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(pfd);
	if (fd < 0) {
		*why = "cannot create or open the directory";
		return -1;
	}
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != BPF_FS_MAGIC || fstat(fd, &st) < 0 ||
	    st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		*why = "the directory is not root's alone";
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The program kept in DIRFD by an earlier run, or a negative errno:
 * -ENOENT when there is none, -EBADMSG for something else under its name
 * (another kind of object, or not root's), -EINVAL when the kernel cannot
 * get it this way.
 */
static int kept_program(int dirfd)
{
	struct bpf_prog_info info;
	union bpf_attr attr;
	struct stat st;
	int fd, rc;

	fd = obj_at(BPF_OBJ_GET, dirfd, PKGUARD_MAPS_BPF_ID, 0);
	/* A map there is refused with EINVAL too (with BPF_F_PATH_FD among its flags). */
	if (fd == -EINVAL && fstatat(dirfd, PKGUARD_MAPS_BPF_ID, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EBADMSG;
	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (__u32)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (__u64)(uintptr_t)&info;
	rc = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
	if (rc < 0 || info.type != BPF_PROG_TYPE_TRACING ||
	    strncmp(info.name, "pkguard_maps", sizeof(info.name)) != 0 ||
	    fstatat(dirfd, PKGUARD_MAPS_BPF_ID, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_uid != 0) {
		close(fd);
		return -EBADMSG;
	}
	return fd;
}

/*
 * The most programs kept at once: one per build of pkguard run here (the
 * installed one, a build tree, its sanitizer build), so that runs of two
 * builds do not each remove the other's.
 */
#define KEEP_MAX 4

struct kept_entry {
	struct timespec mtime;
	char name[sizeof(PKGUARD_MAPS_BPF_ID)];
};

static int cmp_kept(const void *a, const void *b)
{
	const struct kept_entry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return (x->mtime.tv_nsec > y->mtime.tv_nsec) - (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

/*
 * Remove the oldest programs other builds kept in DIRFD (an upgrade's old
 * one), so that at most KEEP_MAX stay. Names not of the form maps-HASH are left.
 */
static void forget_others(int dirfd)
{
	struct kept_entry others[64];
	size_t n = 0, i;
	struct dirent *de;
	struct stat st;
	int fd = dup(dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dir)) && n < sizeof(others) / sizeof(others[0])) {
		if (strncmp(de->d_name, "maps-", 5) != 0 ||
		    strlen(de->d_name) != sizeof(others[0].name) - 1 ||
		    strcmp(de->d_name, PKGUARD_MAPS_BPF_ID) == 0 ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		others[n].mtime = st.st_mtim;
		memcpy(others[n].name, de->d_name, sizeof(others[n].name));
		n++;
	}
	closedir(dir);
	qsort(others, n, sizeof(others[0]), cmp_kept);
	for (i = 0; i + KEEP_MAX - 1 < n; i++)
		unlinkat(dirfd, others[i].name, 0);
}

int maps_bpf_load(const char *keep, struct maps_bpf **out, struct maps_bpf_kept *kept,
		  const char **why)
{
	struct maps_bpf *bpf;
	int dirfd = -1, rc;

	*out = NULL;
	memset(kept, 0, sizeof(*kept));
	bpf = calloc(1, sizeof(*bpf));
	if (!bpf) {
		*why = "out of memory";
		return -ENOMEM;
	}
	if (keep)
		dirfd = keep_dir(keep, &kept->why);
	rc = dirfd >= 0 ? kept_program(dirfd) : -ENOENT;
	if (rc >= 0) {
		bpf->prog_fd = rc;
		kept->found = true;
		close(dirfd);
		*out = bpf;
		return 0;
	}
	/* The skeleton sets errno; a verifier refusal reads as EINVAL or EACCES. */
	errno = 0;
	bpf->skel = pkguard_maps_bpf__open_and_load();
	if (!bpf->skel) {
		rc = errno ? -errno : -EINVAL;
		*why = "the kernel did not load the program";
		if (dirfd >= 0)
			close(dirfd);
		free(bpf);
		return rc;
	}
	bpf->prog_fd = bpf->skel->progs.pkguard_maps.prog_fd;
	if (dirfd >= 0) {
		/* Something else under its name (see kept_program()): ours replaces it. */
		if (rc == -EBADMSG)
			unlinkat(dirfd, PKGUARD_MAPS_BPF_ID, 0);
		/* Another run may have kept its own meanwhile (EEXIST): as good. */
		rc = obj_at(BPF_OBJ_PIN, dirfd, PKGUARD_MAPS_BPF_ID, bpf->prog_fd);
		kept->added = rc == 0;
		if (rc == 0)
			forget_others(dirfd);
		else if (rc == -EINVAL)
			kept->why = "the kernel cannot pin at a directory's fd (Linux 6.5)";
		else if (rc != -EEXIST)
			kept->why = "the kernel did not keep it";
		close(dirfd);
	}
	*out = bpf;
	return 0;
}

/* An iterator of the program: over process PID, or over every process for 0. */
static int open_iter(struct maps_bpf *bpf, pid_t pid)
{
	union bpf_iter_link_info info;
	union bpf_attr attr;
	int link, iter;

	memset(&info, 0, sizeof(info));
	info.task.tid = (__u32)pid;
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (__u32)bpf->prog_fd;
	attr.link_create.attach_type = BPF_TRACE_ITER;
	if (pid) {
		attr.link_create.iter_info = (__u64)(uintptr_t)&info;
		attr.link_create.iter_info_len = sizeof(info);
	}
	link = sys_bpf(BPF_LINK_CREATE, &attr);
	if (link < 0)
		return link == -ENOENT ? -ESRCH : link;
	memset(&attr, 0, sizeof(attr));
	attr.iter_create.link_fd = (__u32)link;
	iter = sys_bpf(BPF_ITER_CREATE, &attr);
	/* The iterator holds the link. */
	close(link);
	return iter;
}

int maps_bpf_read(struct maps_bpf *bpf, pid_t pid, struct buf *b)
{
	int iter, rc;

	if (pid == getpid())
		return -EDEADLK; /* see MAPS_BPF_MAX */
	iter = open_iter(bpf, pid);
	if (iter < 0)
		return iter;
	rc = buf_read_fd_max(b, iter, MAPS_BPF_MAX);
	close(iter);
	return rc;
}

int maps_bpf_open_all(struct maps_bpf *bpf)
{
	return open_iter(bpf, 0);
}

void maps_bpf_free(struct maps_bpf *bpf)
{
	if (!bpf)
		return;
	if (bpf->skel)
		pkguard_maps_bpf__destroy(bpf->skel);
	else
		close(bpf->prog_fd);
	free(bpf);
}

/*
 * A mount of overlayfs or FUSE in our namespace? Their files mapped by a
 * process are backing files: the iterator would see the inode underneath,
 * where maps shows the one on top (and how the kernel marks a backing file
 * differs between versions), so then the scan reads maps instead. FUSE is
 * "fuse", "fuseblk" or "fuse.SUBTYPE"; "fusectl", which systemd mounts on
 * /sys/fs/fuse/connections everywhere, holds no files to map.
 */
static bool stacked_mounts(int proc_fd, struct buf *b)
{
	const char *p, *end;

	if (buf_read_at(b, proc_fd, "self/mountinfo") < 0)
		return true;
	for (p = b->data, end = b->data + b->len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *sep = memmem(p, (size_t)(line_end - p), " - ", 3);

		if (sep &&
		    (strncmp(sep + 3, "overlay ", 8) == 0 || strncmp(sep + 3, "fuse ", 5) == 0 ||
		     strncmp(sep + 3, "fuseblk ", 8) == 0 || strncmp(sep + 3, "fuse.", 5) == 0))
			return true;
		p = line_end + 1;
	}
	return false;
}

/* The inode numbers of the first (initial) namespaces, as include/linux/proc_ns.h has them. */
#define PROC_PID_INIT_INO    0xEFFFFFFCu
#define PROC_CGROUP_INIT_INO 0xEFFFFFFBu
#define PROC_TIME_INIT_INO   0xEFFFFFFAu

/* Are we in the first namespace of this kind (NAME under /proc)? Yes if the kernel has none. */
static bool first_ns(int proc_fd, const char *name, unsigned int init_ino)
{
	struct stat st;

	if (fstatat(proc_fd, name, &st, 0) < 0)
		return errno == ENOENT;
	return st.st_ino == init_ino;
}

void maps_bpf_prepare(int proc_fd, struct maps_bpf_prep *p)
{
	struct statfs sfs;
	struct buf b = {0};

	memset(p, 0, sizeof(*p));
	p->clk_tck = sysconf(_SC_CLK_TCK);
	if (fstatfs(proc_fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
		p->why = "not the kernel's /proc";
	else if (p->clk_tck <= 0 || 1000000000L % p->clk_tck != 0)
		p->why = "an unusual clock tick";
	else if (stacked_mounts(proc_fd, &b))
		p->why = "overlayfs or FUSE is mounted";
	else
		p->rc = maps_bpf_load(MAPS_BPF_KEEP, &p->bpf, &p->kept, &p->why);
	buf_release(&b);
	p->direct = p->bpf && first_ns(proc_fd, "self/ns/time", PROC_TIME_INIT_INO) &&
		    first_ns(proc_fd, "self/ns/cgroup", PROC_CGROUP_INIT_INO);
	p->stream = p->bpf && first_ns(proc_fd, "self/ns/pid", PROC_PID_INIT_INO);
}

void maps_bpf_prep_release(struct maps_bpf_prep *p)
{
	maps_bpf_free(p->bpf);
	memset(p, 0, sizeof(*p));
}
