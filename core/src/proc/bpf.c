/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "proc/bpf.h"
/* Generated from bpf/maps.bpf.c by bpftool gen skeleton -L. */
#include "pkguard_maps.lskel.h"

struct maps_bpf {
	struct pkguard_maps_bpf *skel;
};

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	long fd = syscall(__NR_bpf, cmd, attr, sizeof(*attr));

	return fd < 0 ? -errno : (int)fd;
}

int maps_bpf_load(struct maps_bpf **out, const char **why)
{
	struct maps_bpf *bpf;

	*out = NULL;
	bpf = calloc(1, sizeof(*bpf));
	if (!bpf) {
		*why = "out of memory";
		return -ENOMEM;
	}
	/* The skeleton sets errno; a verifier refusal reads as EINVAL or EACCES. */
	errno = 0;
	bpf->skel = pkguard_maps_bpf__open_and_load();
	if (!bpf->skel) {
		int rc = errno ? -errno : -EINVAL;

		*why = "the kernel did not load the program";
		free(bpf);
		return rc;
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
	attr.link_create.prog_fd = (__u32)bpf->skel->progs.pkguard_maps.prog_fd;
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
	pkguard_maps_bpf__destroy(bpf->skel);
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
		p->rc = maps_bpf_load(&p->bpf, &p->why);
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
