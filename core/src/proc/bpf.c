/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
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

int maps_bpf_read(struct maps_bpf *bpf, pid_t pid, struct buf *b)
{
	union bpf_iter_link_info info;
	union bpf_attr attr;
	int link, iter, rc;

	memset(&info, 0, sizeof(info));
	info.task.tid = (__u32)pid;
	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = (__u32)bpf->skel->progs.pkguard_maps.prog_fd;
	attr.link_create.attach_type = BPF_TRACE_ITER;
	attr.link_create.iter_info = (__u64)(uintptr_t)&info;
	attr.link_create.iter_info_len = sizeof(info);
	link = sys_bpf(BPF_LINK_CREATE, &attr);
	if (link < 0)
		return link == -ENOENT ? -ESRCH : link;
	memset(&attr, 0, sizeof(attr));
	attr.iter_create.link_fd = (__u32)link;
	iter = sys_bpf(BPF_ITER_CREATE, &attr);
	if (iter < 0) {
		close(link);
		return iter;
	}
	rc = buf_read_fd(b, iter);
	close(iter);
	close(link);
	return rc;
}

void maps_bpf_free(struct maps_bpf *bpf)
{
	if (!bpf)
		return;
	pkguard_maps_bpf__destroy(bpf->skel);
	free(bpf);
}
