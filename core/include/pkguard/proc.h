/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The process scan: one pass over /proc, whatever the number of targets.
 *
 * For each process it reads, through one pinned /proc/PID directory fd: the
 * start time and command name (stat), the real and effective uid (status), the
 * identity of its executable (exe), the identities of its file-backed mappings
 * (maps, through the PROCMAP_QUERY ioctl where the kernel has it, else its
 * text: hex device, decimal inode; the path text is a label for display
 * only), its unit (cgroup) and whether it lives in another mount namespace.
 * Kernel threads are skipped. A process that vanishes is "gone", one that
 * cannot be read is "denied": a failure to inspect is a result, never "not in
 * use".
 *
 * Where a BPF task_vma iterator can be loaded (see scan_opts.maps), status,
 * exe, maps and ns/mnt come from it instead, in one read per process, and
 * /proc/PID is opened only for the processes the scan keeps: their stat
 * (which must give the iterator's start time: the same process) and cgroup.
 */
#ifndef PKGUARD_PROC_H
#define PKGUARD_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pkguard/context.h"
#include "pkguard/fileset.h"
#include "pkguard/locks.h"

enum pkguard_proc_state {
	PKGUARD_PROC_OK,
	PKGUARD_PROC_GONE,   /* vanished while being read (ENOENT, ESRCH) */
	PKGUARD_PROC_DENIED, /* could not be read (EACCES, EPERM) */
};

enum pkguard_use_kind {
	PKGUARD_USE_EXE,  /* runs the file */
	PKGUARD_USE_MAP,  /* maps the file (a shared object, usually) */
	PKGUARD_USE_LOCK, /* holds a lock on the file */
};

/* A distinct file identity met during the scan. */
struct pkguard_seen {
	struct pkguard_fileid id;
	char *label;	     /* raw path text from maps, exe or fd: display only, may lie */
	pid_t pid;	     /* where it was first met, for a map_files/ re-check ... */
	uint64_t start, end; /* ... of this mapping (0, 0: met as exe or fd) */
	size_t n_procs;	     /* how many processes use it */
};

struct pkguard_use {
	size_t seen; /* index into the table's seen[] */
	enum pkguard_use_kind kind;
};

struct pkguard_proc {
	pid_t pid;
	uint64_t start_time; /* clock ticks since boot: (pid, start_time) names a process */
	uid_t uid;	     /* real uid */
	uid_t euid;	     /* effective uid */
	char comm[64];	     /* raw bytes from stat, NUL-terminated: escape before output */
	char unit[128];	     /* the service unit from cgroup, e.g. "nginx.service"; "" if none */
	bool other_mntns;    /* in a mount namespace other than the scanner's */
	enum pkguard_proc_state state;
	int error;	  /* negative errno behind GONE or DENIED */
	size_t first_use; /* this process's uses: uses[first_use .. first_use + n_uses) */
	size_t n_uses;
};

struct pkguard_proctab {
	struct pkguard_proc *procs;
	size_t n_procs;
	struct pkguard_use *uses;
	size_t n_uses;
	struct pkguard_seen *seen;
	size_t n_seen;
	size_t n_scanned;		    /* processes looked at, kernel threads excluded */
	size_t n_streamed;		    /* of those, read from the BPF stream of all of them */
	size_t n_maps;			    /* file-backed mapping lines read */
	size_t n_gone;			    /* processes that vanished while being read */
	enum pkguard_maps_source maps_used; /* how the mappings were read (never AUTO) */
};

struct pkguard_scan_opts {
	/*
	 * Keep only uses of files in this fileset (and processes that have
	 * one, or could not be read). NULL keeps every file-backed use of every
	 * process (for "which packages are in use").
	 */
	const struct pkguard_fileset *want;
	/*
	 * Locks to attribute (may be NULL): locks on wanted files, or on the
	 * identities in lock_ids, become USE_LOCK of their holders. POSIX locks
	 * by their pid; flock and OFD locks through fdinfo "lock:" lines.
	 */
	const struct pkguard_locktab *locks;
	const struct pkguard_fileid *lock_ids;
	size_t n_lock_ids;
	/*
	 * How to read the mappings. AUTO takes the fastest the system allows:
	 * the BPF iterator (root, a kernel with BTF, 6.1+; not with overlayfs
	 * or FUSE mounted, whose backing files it would see instead of the
	 * files maps shows), else the binary PROCMAP_QUERY ioctl on
	 * /proc/PID/maps (6.11+), else the text of maps. QUERY skips the BPF
	 * iterator, TEXT reads the text only. The answer is the same; tests
	 * compare them. AUTO follows the context (pkguard_ctx_set_maps(), the
	 * configuration's scan-mappings); BPF fails when the iterator cannot be
	 * loaded (for tests).
	 */
	enum pkguard_maps_source maps;
	/*
	 * 0: read the processes in two threads when there are two CPUs and
	 * enough processes; 1: only in the calling thread; 2: in two threads
	 * whatever the machine (for tests). The result is the same.
	 */
	unsigned threads;
	/*
	 * For tests: with the BPF iterator, read each process through an
	 * iterator of its own, as the scan does where it cannot read them all
	 * as one stream (outside the first pid namespace). The result is the
	 * same.
	 */
	bool bpf_per_process;
	/*
	 * What pkguard_scan_early_start() prepared (may be NULL): the scan uses
	 * its BPF iterator instead of loading one.
	 */
	struct pkguard_scan_early *early;
};

/*
 * The part of a scan that does not depend on what it looks for, started on
 * threads of its own so that it runs while the caller loads a package
 * database: reading /proc/locks, which waits for an RCU grace period (the
 * kernel takes file_rwsem for writing to list the locks: 10-30 ms on a quiet
 * 2-CPU machine), and loading the BPF iterator (the kernel relocates and
 * verifies it: about 7 ms), if the context's scan-mappings allows it. Once
 * loaded, the iterator's thread reads processes ahead from its stream (see
 * struct scan_job in scan.c) until the first scan takes over.
 * Neither touches the context. Returns 0, or -ENOMEM (then *EARLY is NULL,
 * and scans do it all themselves as without it).
 */
struct pkguard_scan_early;
int pkguard_scan_early_start(struct pkguard_ctx *ctx, struct pkguard_scan_early **early);

/*
 * Start the /proc/locks read of the process's next pkguard_scan_early_start()
 * with CTX now, ahead of everything else a command does before it scans:
 * the read's grace period then passes while the program starts up (a check
 * of libc6 with 1000 processes waited for it otherwise: see
 * tests/bench/README.md). Once per process, from one thread, before any
 * other thread of ours is started (a thread started while another of ours
 * runs took 1-2 ms here). pkguard_scan_early_cancel() lets go of a read
 * that no start took (a command that ended up not scanning).
 */
void pkguard_scan_early_begin(struct pkguard_ctx *ctx);
void pkguard_scan_early_cancel(void);

/*
 * The lock table from the /proc/locks read early, as pkguard_locktab_read()
 * would return it (waiting for the read to finish). The first call only:
 * later ones read /proc/locks anew, as do calls with EARLY NULL.
 */
int pkguard_scan_early_locks(struct pkguard_ctx *ctx, struct pkguard_scan_early *early,
			     struct pkguard_locktab **out);

/*
 * Has EARLY's /proc/locks read finished, so that pkguard_scan_early_locks()
 * would not wait? Also true when it runs no read (EARLY NULL, or a read
 * already taken): then pkguard_scan_early_locks() reads /proc/locks itself.
 */
bool pkguard_scan_early_locks_ready(struct pkguard_scan_early *early);

/* Waits for what is still running. After the scans that use it. */
void pkguard_scan_early_free(struct pkguard_scan_early *early);

/*
 * Would OPTS->locks change what a scan with OPTS finds? Only locks on wanted
 * files do (see pkguard_scan_opts.locks): without any, a scan without the
 * locks finds the same.
 */
bool pkguard_scan_locks_matter(const struct pkguard_scan_opts *opts);

/*
 * Scan every process in the context's /proc. Returns 0 with *out set (free
 * with pkguard_proctab_free()), -PKGUARD_ENOPROC when /proc cannot be listed,
 * -PKGUARD_EDEADLINE when the context's deadline passes, or -ENOMEM; with
 * detail in ctx.
 */
int pkguard_proc_scan(struct pkguard_ctx *ctx, const struct pkguard_scan_opts *opts,
		      struct pkguard_proctab **out);

void pkguard_proctab_free(struct pkguard_proctab *tab);

/* The process record for PID, or NULL. */
const struct pkguard_proc *pkguard_proctab_find(const struct pkguard_proctab *tab, pid_t pid);

/*
 * stat() the very inode that seen file SEEN is, through /proc: the map_files/
 * entry of the mapping where it was met (following that link needs
 * CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE), else the exe link of a process
 * that runs it. Both reach the inode even once it has no name left, and give
 * the true st_dev where maps shows an anonymous device (btrfs subvolumes).
 * The inode number must match the scan's, so a pid or an address range
 * reused since the scan is not taken for the file. Returns 0 with *ST set,
 * or a negative errno.
 */
struct stat;
int pkguard_proc_stat(struct pkguard_ctx *ctx, const struct pkguard_proctab *tab, size_t seen,
		      struct stat *st);

/* --- Parsers, exposed for unit tests and fuzzing. --- */

/* One line of /proc/PID/maps. */
struct pkguard_maps_entry {
	uint64_t start, end;
	const char *range; /* "start-end" text, for map_files/ */
	size_t range_len;
	dev_t dev;
	ino_t ino;	   /* 0: anonymous mapping */
	const char *label; /* path text after the padding; may be empty; not NUL-terminated */
	size_t label_len;
};

/* Parse one maps line (LEN without the newline). Returns 0 or -PKGUARD_EPARSE. */
int pkguard_maps_parse(const char *line, size_t len, struct pkguard_maps_entry *out);

struct pkguard_stat {
	char comm[64];
	char state;
	unsigned long flags;
	uint64_t start_time;
};

/*
 * Parse /proc/PID/stat. The command name may hold ')' and spaces: it runs from
 * the first '(' to the last ')'. Returns 0 or -PKGUARD_EPARSE.
 */
int pkguard_stat_parse(const char *text, size_t len, struct pkguard_stat *out);

/* The real and effective uid from /proc/PID/status. Returns 0 or -PKGUARD_EPARSE. */
int pkguard_status_uids(const char *text, size_t len, uid_t *uid, uid_t *euid);

/*
 * The unit of a process from /proc/PID/cgroup: the unified ("0::") path, else
 * the "name=systemd" one (cgroup v1 and hybrid); below the slices, the first
 * component names the unit, as systemd itself reads it. So a user's delegated
 * ".../user@1000.service/system.slice/sshd.service" is "user@1000.service",
 * not sshd. Only ".service" and ".scope" units are reported.
 * Returns 1 with UNIT set, 0 when there is none, -PKGUARD_EPARSE.
 */
int pkguard_cgroup_unit(const char *text, size_t len, char *unit, size_t size);

/*
 * The same unit from the two cgroups the BPF iterator writes (see
 * core/src/proc/bpf/records.h): UNIFIED and SYSTEMD, each its directory
 * names from the cgroup up, each followed by '/'. Returns as
 * pkguard_cgroup_unit(), and -PKGUARD_EPARSE for a path cut short ("!").
 */
int pkguard_cgroup_unit_up(const char *unified, const char *systemd, char *unit, size_t size);

#endif
