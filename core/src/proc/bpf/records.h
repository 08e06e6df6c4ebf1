/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the mappings iterator (maps.bpf.c) writes for each process, read back
 * by the scan (scan.c): a header, then one record per run of consecutive
 * mappings of one open file (its first mapping's range), in address order.
 * The header may come again for the same process, where the walk moved to
 * another CPU: the process goes on. Shared by the BPF program and the C code
 * that reads it.
 */
#ifndef PKGUARD_BPF_RECORDS_H
#define PKGUARD_BPF_RECORDS_H

enum {
	PKGUARD_BPF_TASK = 1, /* struct pkguard_bpf_task, first */
	PKGUARD_BPF_MAP = 2,  /* struct pkguard_bpf_map, then one per run of mappings */
};

/*
 * The start time and name of stat, the uids of status, the identity of exe,
 * and whether ns/mnt is another mount namespace than the reader's. Devices
 * are the kernel's dev_t: major << 20 | minor.
 *
 * With PKGUARD_BPF_CGROUPS in flags, two NUL-terminated texts follow: the
 * process's cgroup in the unified hierarchy, then in the v1 hierarchy named
 * "systemd" (empty if there is none), each as its directory names from the
 * cgroup up, each name followed by '/' ("b/a/" is /a/b; "" is the root). A
 * path deeper than PKGUARD_BPF_CGROUP_DEPTH ends with "!" instead.
 */
struct pkguard_bpf_task {
	__u32 kind;
	__u32 exe_dev; /* 0: no executable */
	__u64 exe_ino;
	__u64 start_ns;	 /* task->start_boottime: stat's start time, in ns */
	__u32 uid, euid; /* real_cred, as status shows them */
	__u32 flags;
	__u32 pid;     /* the process, as the first pid namespace numbers it */
	char comm[16]; /* stat's name, NUL-terminated unless 16 long */
};

#define PKGUARD_BPF_CGROUPS 1u
/* Its mount namespace is not the one of the thread reading the iterator (not set while it exits).
 */
#define PKGUARD_BPF_OTHER_MNTNS	 2u
#define PKGUARD_BPF_CGROUP_DEPTH 32

struct pkguard_bpf_map {
	__u32 kind;
	__u32 dev;
	__u64 ino;
	__u64 start, end;
};

#endif
