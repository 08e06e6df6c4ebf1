/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The scan's fastest way to the processes' mappings: a BPF task_vma iterator
 * (bpf/maps.bpf.c), over one process (maps_bpf_read()) or over all of them
 * (maps_bpf_open_all()), loaded once per run with a light skeleton (no libbpf
 * at run time, no kernel BTF parsed here: the kernel relocates the program
 * itself). It needs root (CAP_BPF and CAP_PERFMON), a kernel with BTF and
 * per-process task iterators (Linux 6.1+), and no lockdown of kernel reads;
 * wherever it cannot load, the scan uses PROCMAP_QUERY or the text of maps.
 */
#ifndef PKGUARD_PROC_BPF_H
#define PKGUARD_PROC_BPF_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/internal.h"

struct maps_bpf;

/*
 * The most one process's records may take: 32 bytes a mapping, for 16 times
 * the default vm.max_map_count (65530); past it the scan reads the process's
 * maps instead. Each read() resumes the walk from an address: reading our
 * own process, whose buffer grew (and moved) under the walk, revisited
 * mappings without end (a 1 GiB read under ASan), so maps_bpf_read() refuses
 * our own pid and the scan reads us from /proc. A process mapping and
 * unmapping as fast as it can stayed under 56 KiB in 200 reads of 4 KiB, but
 * the bound does not rest on that.
 */
#define MAPS_BPF_MAX ((size_t)65530 * 16 * 32)

/*
 * Where the loaded program is kept for the runs after this one (see
 * maps_bpf_load()). The BPF filesystem lives in memory: a reboot, which a
 * new kernel needs, empties it.
 */
#define MAPS_BPF_KEEP "/sys/fs/bpf/pkguard"

/* What maps_bpf_load() did with the directory it keeps the program in. */
struct maps_bpf_kept {
	bool found;	 /* the program came from there */
	bool added;	 /* it was loaded and is kept there now */
	const char *why; /* neither, and why (for a debug message); NULL: no directory asked */
};

/*
 * The iterator program. Loading it costs about 7 ms of CPU (the kernel
 * relocates it against its BTF and verifies it), so a loaded program is
 * pinned in the directory KEEP (NULL: none), under a name that comes from
 * its skeleton's hash (PKGUARD_MAPS_BPF_ID), and taken from there by the
 * next run: about 0.05 ms. The directory must be in a BPF filesystem and
 * root's alone (created 0700 if missing), the pinned object root's and a
 * tracing program named pkguard_maps; whatever else is under the name is
 * replaced. Pinning one removes the oldest programs of other builds
 * (maps-*) beyond four in all. It needs Linux 6.5 (BPF_F_PATH_FD); elsewhere each run loads
 * the program. KEPT says what happened. Returns 0 with *OUT set, or a
 * negative errno with *WHY saying what failed (for a debug message).
 */
int maps_bpf_load(const char *keep, struct maps_bpf **out, struct maps_bpf_kept *kept,
		  const char **why);

/*
 * The records of process PID (bpf/records.h) into B, replacing its content:
 * nothing at all for a process without mappings (a kernel thread, a zombie).
 * Safe to call from several threads at once. Returns 0, -ESRCH when there is
 * no such process, -E2BIG past MAPS_BPF_MAX bytes, -EDEADLK for our own
 * process (see MAPS_BPF_MAX), or another negative errno.
 */
int maps_bpf_read(struct maps_bpf *bpf, pid_t pid, struct buf *b);

/*
 * An iterator over every process: read() it for the records of one process
 * after another (bpf/records.h), in pid order, each process's after its
 * header, which may come again (the process goes on). A header or record may
 * be split between two reads. Each read() takes up the walk where the last
 * one stopped, so a process whose mappings change meanwhile is read as maps
 * reads it: as it was at each point of the walk. Pids are the first pid
 * namespace's (maps_bpf_prep.stream). Returns the iterator's fd, or a
 * negative errno.
 */
int maps_bpf_open_all(struct maps_bpf *bpf);

void maps_bpf_free(struct maps_bpf *bpf);

/* The iterator where this system allows it, or why not (maps_bpf_prepare()). */
struct maps_bpf_prep {
	struct maps_bpf *bpf;	   /* NULL: not here */
	const char *why;	   /* why not, for a debug message */
	struct maps_bpf_kept kept; /* where it came from (MAPS_BPF_KEEP) */
	int rc;			   /* with WHY, the errno of the load, or 0 */
	long clk_tck;		   /* to turn the iterator's start times into stat's */
	/*
	 * The iterator's start times and cgroups read as /proc shows them to
	 * us: we are in the first time and cgroup namespaces.
	 */
	bool direct;
	/* We are in the first pid namespace: the iterator's pids are ours (maps_bpf_open_all()). */
	bool stream;
};

/*
 * Load the iterator if the /proc at PROC_FD is the kernel's and no mount
 * makes its answers differ from maps (overlayfs, FUSE). Touches no context,
 * so another thread can do it (pkguard_scan_early_start()).
 */
void maps_bpf_prepare(int proc_fd, struct maps_bpf_prep *p);

void maps_bpf_prep_release(struct maps_bpf_prep *p);

#endif
