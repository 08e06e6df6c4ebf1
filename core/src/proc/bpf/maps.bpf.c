/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mappings of processes, read in the kernel: a task_vma iterator that
 * writes, for each process, a header (its pid, start time, name, uids, the
 * executable, the mount namespace and the cgroups) before its first mapping
 * and one fixed-size record per run of file-backed mappings of one open file
 * (see struct walk). It reads the same identity as /proc/PID/maps and
 * PROCMAP_QUERY (the superblock's device and the inode number of vm_file),
 * without formatting a line or making a system call per mapping. Paths of
 * files are not read here: the scan asks for a path only for a file new to it.
 *
 * One program serves two kinds of iterator: one created for one process (its
 * tid in the link) and one over every process, which the scan reads as one
 * stream. Threads other than a process's first are skipped: they share its
 * mappings.
 *
 * The iterator may run an object (a mapping) again when the reader's buffer
 * filled up: the discarded try never reaches the reader, and the retry keeps
 * the object's sequence number. So the one piece of state kept between
 * objects (struct walk) names the object it follows and changes only once
 * an object's output is all in. The records are filled field by field (they
 * have no padding): an initializer would become a .rodata map, which the
 * loader maps into the scanning process, where the scan would then find it.
 */
#include "kernel.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "records.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(struct kernfs_node___rcu_parent, __parent))
		return BPF_CORE_READ((struct kernfs_node___rcu_parent *)kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___parent *)kn, parent);
}

/* Where put_name() is: the seq_file, the directory whose name is next, and a write refused. */
struct cgroup_walk {
	struct seq_file *seq;
	struct kernfs_node *kn;
	long err;
};

/* One step of put_cgroup(), under bpf_loop(): the verifier checks it once. */
static long put_name(__u64 i, void *data)
{
	/* Locals only in BPF_CORE_READ(): it would relocate w's fields too. */
	struct cgroup_walk *w = data;
	struct kernfs_node *kn = w->kn, *parent;
	char name[256], c = '/';
	long n;

	parent = kn ? kn_parent(kn) : 0;
	if (!parent)
		return 1; /* the root: no name in the path */
	/* The length with its NUL: a full buffer may be a longer name cut. */
	n = bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(kn, name));
	if (n <= 1 || n >= (long)sizeof(name))
		return 1;
	w->err = bpf_seq_write(w->seq, name, (__u32)(n - 1) & (sizeof(name) - 1));
	if (!w->err)
		w->err = bpf_seq_write(w->seq, &c, 1);
	w->kn = parent;
	return w->err ? 1 : 0;
}

/*
 * The cgroup directory KN as records.h says: its names up to the root's
 * child, each followed by '/', then "!" if it went on deeper (or a name was
 * too long to read here), then a NUL. /proc/PID/cgroup reads the same names
 * (kernfs_path()). Nothing is formatted here: a format string would be a
 * .rodata map (see above). Returns 0, or nonzero when a write was refused.
 */
static __always_inline long put_cgroup(struct seq_file *seq, struct kernfs_node *kn)
{
	struct cgroup_walk w = {seq, kn, 0};
	char c = '!';

	bpf_loop(PKGUARD_BPF_CGROUP_DEPTH, put_name, &w, 0);
	if (w.err)
		return w.err;
	if (w.kn && kn_parent(w.kn) && bpf_seq_write(seq, &c, 1))
		return 1;
	c = 0;
	return bpf_seq_write(seq, &c, 1);
}

/* Where find_systemd() is: the list of CSET's cgroups, the next link, and what it found. */
struct links_walk {
	struct list_head *head, *next;
	struct cgroup *found;
};

/* One link of systemd_cgroup(), under bpf_loop(). */
static long find_systemd(__u64 i, void *data)
{
	struct links_walk *w = data;
	struct list_head *next = w->next;
	struct cgrp_cset_link *link;
	struct cgroup *cgrp;
	char name[8] = {0};

	if (!next || next == w->head)
		return 1;
	link = (void *)((char *)next - bpf_core_field_offset(struct cgrp_cset_link, cgrp_link));
	cgrp = BPF_CORE_READ(link, cgrp);
	bpf_probe_read_kernel(name, sizeof(name), BPF_CORE_READ(cgrp, root)->name);
	if (name[0] == 's' && name[1] == 'y' && name[2] == 's' && name[3] == 't' &&
	    name[4] == 'e' && name[5] == 'm' && name[6] == 'd' && name[7] == 0) {
		w->found = cgrp;
		return 1;
	}
	/*
	 * Not BPF_CORE_READ(), which would relocate list_head after all (see
	 * kernel.h): its name shares a slot of the kernel's cache of CO-RE
	 * candidates with inode's, so each load searched the kernel's BTF for
	 * both again. Medians of 64 loads, before and after alternating four
	 * times: 8.0-8.4 ms -> 6.8-7.2 ms.
	 */
	if (bpf_probe_read_kernel(&w->next, sizeof(w->next), &next->next))
		w->next = 0;
	return 0;
}

/* The cgroup of CSET in the v1 hierarchy named "systemd", or 0. */
static __always_inline struct cgroup *systemd_cgroup(struct css_set *cset)
{
	struct links_walk w = {&cset->cgrp_links, BPF_CORE_READ(cset, cgrp_links.next), 0};

	/* One link per mounted hierarchy: the unified one, and at most 16 in v1. */
	bpf_loop(18, find_systemd, &w, 0);
	return w.found;
}

enum { BPF_MAP_TYPE_PERCPU_ARRAY = 6 }; /* include/uapi/linux/bpf.h */

/*
 * Where the walk that a CPU runs stands: the session and sequence number of
 * the last object it ran, the process, and the open file of that process's
 * last record (its address: comparing it costs no more loads; another open
 * of the same file makes a record of its own, which the scan merges as
 * before). An object continues the process only if it is the very next one
 * of the same session and the same process: a walk that moved to another
 * CPU, or one CPU running another session in between, writes the header
 * again and starts a new run, which the scan reads as the same process
 * going on (its header says which); a retried object has the number it had,
 * so it never follows itself. A library is mapped in several consecutive
 * segments and the scan counts a run once (map_entry()), so the segments
 * after the first cost the walk nothing but this check: a check of libc6
 * with 1000 processes took 88.5 ms instead of 94.9 (perf stat, 3 times 30
 * runs each). The address is compared, never followed.
 */
struct walk {
	__u64 session, seq, file;
	__u32 pid, spare;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk);
} walks SEC(".maps");

/* The header of TASK (records.h), then its cgroups. Returns 0, or nonzero when a write was refused.
 */
static __always_inline long put_header(struct seq_file *seq, struct task_struct *task)
{
	struct pkguard_bpf_task hdr;
	struct mm_struct *mm = task->mm;
	struct file *exe = mm ? mm->exe_file : 0;
	const struct cred *cred = task->real_cred;
	struct nsproxy *ns = task->nsproxy;
	struct task_struct *reader = (struct task_struct *)bpf_get_current_task();
	struct mnt_namespace *ours = BPF_CORE_READ(reader, nsproxy, mnt_ns);
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	struct cgroup *named;
	long err;

	hdr.kind = PKGUARD_BPF_TASK;
	hdr.exe_dev = exe ? exe->f_inode->i_sb->s_dev : 0;
	hdr.exe_ino = exe ? exe->f_inode->i_ino : 0;
	hdr.start_ns = task->start_boottime;
	hdr.uid = cred->uid.val;
	hdr.euid = cred->euid.val;
	hdr.flags = cset ? PKGUARD_BPF_CGROUPS : 0;
	if (ns && ours && ns->mnt_ns != ours)
		hdr.flags |= PKGUARD_BPF_OTHER_MNTNS;
	hdr.pid = (__u32)task->tgid;
	bpf_probe_read_kernel(hdr.comm, sizeof(hdr.comm), task->comm);
	err = bpf_seq_write(seq, &hdr, sizeof(hdr));
	if (err || !cset)
		return err;
	err = put_cgroup(seq, BPF_CORE_READ(cset, dfl_cgrp, kn));
	if (err)
		return err;
	named = systemd_cgroup(cset);
	return put_cgroup(seq, named ? BPF_CORE_READ(named, kn) : 0);
}

SEC("iter/task_vma")
int pkguard_maps(struct bpf_iter__task_vma *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct vm_area_struct *vma = ctx->vma;
	struct pkguard_bpf_map rec;
	struct file *file;
	__u64 session, n, last = 0, start, end;
	struct walk *w;
	__u32 key = 0;

	if (!task || !vma || task->pid != task->tgid)
		return 0;
	/*
	 * The mapping's two cache lines, loaded together: vm_file is on the
	 * second, the bounds on the first, which the kernel reads next anyway
	 * to find the next mapping. Each is usually a miss (190 000 mappings
	 * at N=1000, spread over the slab); loaded one after the other (the
	 * bounds only for a record, then by the kernel) they cost two waits,
	 * loaded here they overlap. One stream over every process (1000 in a
	 * farm), the program before and after alternating in one harness: after
	 * was faster in 121 of 200 pairs, medians 90.3/79.8 -> 88.0/77.7 ms.
	 */
	start = vma->vm_start;
	end = vma->vm_end;
	file = vma->vm_file;
	w = bpf_map_lookup_elem(&walks, &key);
	if (!w)
		return 0;
	session = ctx->meta->session_id;
	n = ctx->meta->seq_num;
	if (w->session == session && w->seq + 1 == n && w->pid == (__u32)task->tgid)
		last = w->file;
	else if (put_header(seq, task))
		return 0;
	if (file && (__u64)file != last) {
		rec.kind = PKGUARD_BPF_MAP;
		rec.dev = file->f_inode->i_sb->s_dev;
		rec.ino = file->f_inode->i_ino;
		rec.start = start;
		rec.end = end;
		if (bpf_seq_write(seq, &rec, sizeof(rec)))
			return 0;
		last = (__u64)file;
	}
	/* All of this object's output is in. */
	w->session = session;
	w->seq = n;
	w->pid = (__u32)task->tgid;
	w->file = last;
	return 0;
}
