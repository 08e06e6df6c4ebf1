/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The scan's fastest way to a process's mappings: a BPF task_vma iterator
 * (bpf/maps.bpf.c), loaded once per scan with a light skeleton (no libbpf at
 * run time, no kernel BTF parsed here: the kernel relocates the program
 * itself). It needs root (CAP_BPF and CAP_PERFMON), a kernel with BTF and
 * per-process task iterators (Linux 6.1+), and no lockdown of kernel reads;
 * wherever it cannot load, the scan uses PROCMAP_QUERY or the text of maps.
 */
#ifndef PKGUARD_PROC_BPF_H
#define PKGUARD_PROC_BPF_H

#include <sys/types.h>

#include "util/internal.h"

struct maps_bpf;

/*
 * Load the iterator program. Returns 0 with *OUT set, or a negative errno
 * with *WHY saying what failed (for a debug message).
 */
int maps_bpf_load(struct maps_bpf **out, const char **why);

/*
 * The records of process PID (bpf/records.h) into B, replacing its content:
 * nothing at all for a process without mappings (a kernel thread, a zombie).
 * Safe to call from several threads at once. Returns 0, -ESRCH when there is
 * no such process, or another negative errno.
 */
int maps_bpf_read(struct maps_bpf *bpf, pid_t pid, struct buf *b);

void maps_bpf_free(struct maps_bpf *bpf);

#endif
