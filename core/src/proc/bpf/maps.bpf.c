/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mappings of one process, read in the kernel: a task_vma iterator,
 * created per process (its tid in the link), that writes a header (start
 * time, uids, the executable and the mount namespace) before
 * the first mapping and one fixed-size record per file-backed mapping. It
 * reads the same identity as /proc/PID/maps and PROCMAP_QUERY (the
 * superblock's device and the inode number of vm_file), without formatting
 * a line or making a system call per mapping. Paths are not read here: the
 * scan asks for a path only for a file new to it.
 *
 * The iterator may run an object again when the reader's buffer filled up
 * (the discarded try never reaches the reader), so the program keeps no
 * state between objects: the header goes with sequence number 0, which a
 * retry keeps. The records are filled field by field (they have no padding):
 * an initializer would become a .rodata map, which the loader maps into the
 * scanning process, where the scan would then find it.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>

#include "records.h"

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task_vma")
int pkguard_maps(struct bpf_iter__task_vma *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct vm_area_struct *vma = ctx->vma;
	struct pkguard_bpf_map rec;
	struct file *file;

	if (!task || !vma)
		return 0;
	if (ctx->meta->seq_num == 0) {
		struct pkguard_bpf_task hdr;
		struct mm_struct *mm = task->mm;
		struct file *exe = mm ? mm->exe_file : 0;
		const struct cred *cred = task->real_cred;
		struct nsproxy *ns = task->nsproxy;

		hdr.kind = PKGUARD_BPF_TASK;
		hdr.exe_dev = exe ? exe->f_inode->i_sb->s_dev : 0;
		hdr.exe_ino = exe ? exe->f_inode->i_ino : 0;
		hdr.start_ns = task->start_boottime;
		hdr.uid = cred->uid.val;
		hdr.euid = cred->euid.val;
		hdr.mnt_ns = ns ? ns->mnt_ns->ns.inum : 0;
		hdr.zero = 0;
		if (bpf_seq_write(seq, &hdr, sizeof(hdr)))
			return 0;
	}
	file = vma->vm_file;
	if (!file)
		return 0;
	rec.kind = PKGUARD_BPF_MAP;
	rec.dev = file->f_inode->i_sb->s_dev;
	rec.ino = file->f_inode->i_ino;
	rec.start = vma->vm_start;
	rec.end = vma->vm_end;
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}
