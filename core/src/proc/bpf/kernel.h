/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The few kernel types the mappings iterator reads, with only the fields it
 * uses. They are relocated by name against the running kernel's BTF when the
 * program is loaded (CO-RE, preserve_access_index), so their layout here
 * does not have to match any particular kernel, and no vmlinux.h from the
 * build machine is needed.
 */
#ifndef PKGUARD_BPF_KERNEL_H
#define PKGUARD_BPF_KERNEL_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

/*
 * Not relocated: each type relocated costs the kernel a search of its whole
 * BTF by name at every load. These never change: a list, and (below) the
 * context that every iterator program of its kind is compiled against.
 */
struct list_head {
	struct list_head *next, *prev;
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct super_block {
	__u32 s_dev; /* dev_t: major << 20 | minor */
};

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
};

struct file {
	struct inode *f_inode;
};

struct mm_struct {
	struct file *exe_file;
};

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	struct file *vm_file;
};

typedef struct {
	__u32 val;
} kuid_t;

struct cred {
	kuid_t uid;
	kuid_t euid;
};

/*
 * Only compared, never read: relocating it would cost every load a search
 * of the kernel's BTF (its name shares a slot of the kernel's cache of
 * candidates with super_block's, so each load would evict the other).
 */
struct mnt_namespace;

struct nsproxy {
	struct mnt_namespace *mnt_ns;
};

/*
 * A cgroup's directory. Linux 6.15 renamed parent to __parent: each name is
 * a flavor of its own (the part after ___ is dropped when relocating), and
 * the program asks which one this kernel has.
 */
struct kernfs_node {
	const char *name;
};

struct kernfs_node___parent {
	struct kernfs_node *parent;
};

struct kernfs_node___rcu_parent {
	struct kernfs_node *__parent;
};

struct cgroup_root {
	char name[64]; /* a named v1 hierarchy's name=, e.g. "systemd" */
};

struct cgroup {
	struct kernfs_node *kn;
	struct cgroup_root *root;
};

/*
 * One of the cgroups (one per hierarchy) of a css_set: on the css_set's
 * cgrp_links through cgrp_link (the names cross over).
 */
struct cgrp_cset_link {
	struct cgroup *cgrp;
	struct list_head cgrp_link;
};

struct css_set {
	struct cgroup *dfl_cgrp; /* in the unified (v2) hierarchy */
	struct list_head cgrp_links;
};

struct task_struct {
	int pid;  /* the thread */
	int tgid; /* the process: its first thread's pid */
	struct mm_struct *mm;
	__u64 start_boottime;
	const struct cred *real_cred;
	struct nsproxy *nsproxy;
	struct css_set *cgroups;
	char comm[16];
};

#pragma clang attribute pop

/* Not relocated: see list_head. */
struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__task_vma {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	struct vm_area_struct *vma;
};

#endif
