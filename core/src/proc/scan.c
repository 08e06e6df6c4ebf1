/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(addr, len) ((void)(addr), (void)(len))
#endif

#include "pkguard/proc.h"
#include "util/internal.h"
#ifdef PKGUARD_HAVE_BPF
#include <linux/types.h>

#include "proc/bpf.h"
#include "proc/bpf/records.h"
#include "proc/early.h"
#endif

/* PF_KTHREAD from include/linux/sched.h: kernel threads have no exe and no maps. */
#define PF_KTHREAD 0x00200000UL

/*
 * PROCMAP_QUERY (Linux 6.11, include/uapi/linux/fs.h): an ioctl on an open
 * /proc/PID/maps that returns one mapping in binary, the same device and
 * inode as the text (both come from file_user_inode()), without formatting
 * a line or building the path with d_path() for every mapping: the path is
 * asked for only when a file is met for the first time. The headers of older
 * distributions (Debian bookworm's are 6.1) lack it, so the layout is
 * declared here as the kernel defines it; a kernel without it answers ENOTTY
 * and the scan reads the text instead.
 */
#ifndef PROCMAP_QUERY
struct procmap_query {
	__u64 size;
	__u64 query_flags;
	__u64 query_addr;
	__u64 vma_start;
	__u64 vma_end;
	__u64 vma_flags;
	__u64 vma_page_size;
	__u64 vma_offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
	__u32 vma_name_size;
	__u32 build_id_size;
	__u64 vma_name_addr;
	__u64 build_id_addr;
};
#define PROCMAP_QUERY			   _IOWR('f', 17, struct procmap_query)
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#define PROCMAP_QUERY_FILE_BACKED_VMA	   0x20
#endif

enum maps_mode {
	MAPS_UNKNOWN, /* try PROCMAP_QUERY on the first process */
	MAPS_QUERY,   /* the kernel answers PROCMAP_QUERY */
	MAPS_TEXT,    /* it does not (before 6.11, or not a real /proc): parse the text */
};

/*
 * What the scanners of one scan share: the pids listed from /proc, handed out
 * in chunks to whichever scanner asks next; or, with the BPF iterator over
 * every process (a stream), claimed from both ends: the stream's scanner
 * upwards in pid order, the other one downwards through the list, one
 * process at a time (see claim()), until they meet. With two scanners (two
 * threads), each builds its own table; they are merged in pid order at the
 * end, so the result is the one a single scanner would give.
 */
struct scan_job {
	struct pkguard_ctx *ctx;
	const struct pkguard_scan_opts *opts;
	int proc_fd;
	pid_t *pids;
	size_t n_pids, cap_pids;
	atomic_size_t next;
	/*
	 * With a stream: the highest pid the stream's scanner has taken (low 32
	 * bits) and the lowest the other one has (high 32 bits), so that one
	 * compare-and-swap takes a pid for one side only.
	 */
	_Atomic uint64_t frontier;
	bool stream;
	/*
	 * With a stream in two threads, the other scanner lists /proc while the
	 * stream's starts: then pids can be read once this is true.
	 */
	atomic_bool listed;
	int list_errno;
	/* The stream as read ahead early (scan_early_stream()): -1, or its fd and what was read. */
	int ahead_fd;
	struct buf ahead;
	bool ahead_eof;
	atomic_bool stop; /* a scanner failed, or the deadline passed */
	bool threaded;
	pthread_mutex_t log_lock; /* the context's logger is called by one thread at a time */
	struct stat self_mntns;
	bool have_self_mntns;
	/* Lock attribution: flock/OFD locks of interest need a walk of fdinfo. */
	bool walk_fds;
	/* The BPF mappings iterator, when it loaded; NULL: the scan reads /proc/PID/maps. */
	struct maps_bpf *bpf;
#ifdef PKGUARD_HAVE_BPF
	struct maps_bpf_prep own_bpf; /* loaded by this scan, not early */
#endif
	long clk_tck;
	/*
	 * The iterator's start time and cgroups read as /proc shows them to us:
	 * we are in the first time and cgroup namespaces. Then a process the
	 * scan keeps needs /proc only for what the iterator does not give.
	 */
	bool bpf_direct;
	enum pkguard_maps_source maps; /* the options', or the context's for AUTO */
};

/* Everything a scan needs besides its result, reused from process to process. */
struct scanner {
	struct pkguard_ctx *ctx;
	const struct pkguard_scan_opts *opts;
	struct scan_job *job;
	struct pkguard_proctab *tab;
	size_t cap_procs, cap_uses, cap_seen, cap_seen_last;
	/* Each process's index in job->pids, or its pid with a stream: the order of the merged
	 * table. */
	size_t *pos;
	size_t cap_pos;
	size_t n_tried;
	int rc; /* of a scanner run in a thread */

	/* seen[] by identity: open addressing, index + 1, 0 = empty. */
	size_t *slots;
	size_t n_slots;
	/* The last process that used each seen file, to count a file once per process. */
	size_t *seen_last;

	struct buf buf;
	enum maps_mode maps_mode;
	/* A mapping's path from PROCMAP_QUERY (PATH_MAX with its NUL), then as maps prints it. */
	struct buf name;
	/* A process's output from the BPF iterator, or the stream's. */
	struct buf records;
	/* The process being read from it: its cgroups, then its records (struct bpf_task). */
	struct buf cgroups, maps;
	/*
	 * The stream's scanner: the pids the stream gave (in order), and how far
	 * it has gone through them and through the list (stream_past()).
	 */
	pid_t *done;
	size_t n_done, cap_done, next_done, next_listed;
};

__attribute__((format(printf, 3, 4))) static void
scan_log(struct scanner *s, enum pkguard_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->job->threaded)
		pthread_mutex_lock(&s->job->log_lock);
	pkguard_log(s->ctx, level, "%s", msg);
	if (s->job->threaded)
		pthread_mutex_unlock(&s->job->log_lock);
}

static bool gone_errno(int rc)
{
	return rc == -ENOENT || rc == -ESRCH;
}

static bool denied_errno(int rc)
{
	return rc == -EACCES || rc == -EPERM;
}

static size_t hash_id(struct pkguard_fileid id)
{
	uint64_t h = (uint64_t)id.ino * 0x9e3779b97f4a7c15ull;

	h ^= (uint64_t)id.dev * 0xc2b2ae3d27d4eb4full;
	return (size_t)(h ^ (h >> 29));
}

static int rehash(struct scanner *s)
{
	size_t n = s->n_slots ? s->n_slots * 2 : 1024, i, j;
	size_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < s->n_slots; i++) {
		if (!s->slots[i])
			continue;
		for (j = hash_id(s->tab->seen[s->slots[i] - 1].id) & (n - 1); slots[j];
		     j = (j + 1) & (n - 1))
			;
		slots[j] = s->slots[i];
	}
	free(s->slots);
	s->slots = slots;
	s->n_slots = n;
	return 0;
}

/* true when ID is in seen[] already. */
static bool interned(const struct scanner *s, struct pkguard_fileid id)
{
	size_t i, mask;

	if (!s->n_slots)
		return false;
	mask = s->n_slots - 1;
	for (i = hash_id(id) & mask; s->slots[i]; i = (i + 1) & mask) {
		const struct pkguard_seen *seen = &s->tab->seen[s->slots[i] - 1];

		if (seen->id.dev == id.dev && seen->id.ino == id.ino)
			return true;
	}
	return false;
}

/* The seen[] index of ID, adding it with LABEL when new. */
static int intern(struct scanner *s, struct pkguard_fileid id, const char *label, size_t label_len,
		  pid_t pid, uint64_t start, uint64_t end, size_t *index)
{
	struct pkguard_proctab *tab = s->tab;
	struct pkguard_seen *seen;
	size_t i, mask;
	int rc;

	if ((tab->n_seen + 1) * 2 > s->n_slots) {
		rc = rehash(s);
		if (rc < 0)
			return rc;
	}
	mask = s->n_slots - 1;
	for (i = hash_id(id) & mask; s->slots[i]; i = (i + 1) & mask) {
		seen = &tab->seen[s->slots[i] - 1];
		if (seen->id.dev == id.dev && seen->id.ino == id.ino) {
			*index = s->slots[i] - 1;
			return 0;
		}
	}
	if (array_grow(&tab->seen, &s->cap_seen, tab->n_seen + 1, sizeof(*seen)) < 0 ||
	    array_grow(&s->seen_last, &s->cap_seen_last, tab->n_seen + 1, sizeof(*s->seen_last)) <
		    0)
		return -ENOMEM;
	seen = &tab->seen[tab->n_seen];
	memset(seen, 0, sizeof(*seen));
	seen->label = strndup(label, label_len);
	if (!seen->label)
		return -ENOMEM;
	seen->id = id;
	seen->pid = pid;
	seen->start = start;
	seen->end = end;
	s->seen_last[tab->n_seen] = SIZE_MAX;
	s->slots[i] = tab->n_seen + 1;
	*index = tab->n_seen++;
	return 0;
}

/* Record that the current process uses ID. */
static int add_use(struct scanner *s, struct pkguard_proc *proc, size_t proc_index,
		   struct pkguard_fileid id, enum pkguard_use_kind kind, const char *label,
		   size_t label_len, uint64_t start, uint64_t end)
{
	struct pkguard_proctab *tab = s->tab;
	size_t seen, i;
	int rc;

	rc = intern(s, id, label, label_len, proc->pid, start, end, &seen);
	if (rc < 0)
		return rc;
	if (s->seen_last[seen] == proc_index) {
		/* Already used by this process: a lock use is still worth its own record. */
		if (kind != PKGUARD_USE_LOCK)
			return 0;
		for (i = proc->first_use; i < proc->first_use + proc->n_uses; i++) {
			if (tab->uses[i].seen == seen && tab->uses[i].kind == kind)
				return 0;
		}
	} else {
		s->seen_last[seen] = proc_index;
		tab->seen[seen].n_procs++;
	}
	if (array_grow(&tab->uses, &s->cap_uses, tab->n_uses + 1, sizeof(*tab->uses)) < 0)
		return -ENOMEM;
	tab->uses[tab->n_uses++] = (struct pkguard_use){seen, kind};
	proc->n_uses++;
	return 0;
}

static bool opts_want(const struct pkguard_scan_opts *opts, struct pkguard_fileid id)
{
	const struct pkguard_file *f;
	size_t cursor = 0;
	size_t i;

	if (!opts->want)
		return true;
	if (pkguard_fileset_lookup(opts->want, id, &cursor, &f) == 0)
		return true;
	for (i = 0; i < opts->n_lock_ids; i++) {
		if (opts->lock_ids[i].dev == id.dev && opts->lock_ids[i].ino == id.ino)
			return true;
	}
	return false;
}

static bool wanted(struct scanner *s, struct pkguard_fileid id)
{
	return opts_want(s->opts, id);
}

/*
 * Is the maps identity (dev, ino) possibly wanted? The device in maps is a
 * cheap pre-filter, but on btrfs it is the superblock's anonymous device and
 * matches no st_dev: for a major-0 device with a wanted inode number, the true
 * identity comes from stat() through map_files/.
 */
static int resolve_mapping(struct scanner *s, int dirfd, const struct pkguard_maps_entry *e,
			   struct pkguard_fileid *id)
{
	char name[128];
	struct stat st;

	*id = (struct pkguard_fileid){e->dev, e->ino};
	if (!s->opts->want || wanted(s, *id))
		return 1;
	if (major(e->dev) != 0 || !pkguard_fileset_has_ino(s->opts->want, e->ino))
		return 0;
	/* The entry's name, as pkguard_proc_stat() spells it: hex without padding. */
	snprintf(name, sizeof(name), "map_files/%llx-%llx", (unsigned long long)e->start,
		 (unsigned long long)e->end);
	if (fstatat(dirfd, name, &st, 0) < 0)
		return gone_errno(-errno) ? -errno : 0;
	*id = (struct pkguard_fileid){st.st_dev, st.st_ino};
	return wanted(s, *id) ? 1 : 0;
}

/*
 * The path of mapping E, escaped as maps prints it (seq_path() turns a
 * newline into "\012" and nothing else), in *LABEL; returns its length. It
 * comes from PROCMAP_QUERY on QUERY_FD, or with QUERY_FD < 0 from the
 * mapping's map_files/ link (root only). An empty label when the mapping
 * changed meanwhile or cannot be read: it is for display only.
 */
static size_t mapping_label(struct scanner *s, int dirfd, int query_fd,
			    const struct pkguard_maps_entry *e, const char **label)
{
	struct procmap_query q = {
		.size = sizeof(q),
		.query_flags = PROCMAP_QUERY_FILE_BACKED_VMA,
		.query_addr = e->start,
		.vma_name_size = PATH_MAX,
	};
	char *name, *out;
	size_t i, n = 0;

	*label = "";
	s->name.len = 0;
	if (buf_reserve(&s->name, 5 * PATH_MAX) < 0)
		return 0;
	name = s->name.data;
	out = name + PATH_MAX;
	if (query_fd >= 0) {
		q.vma_name_addr = (uintptr_t)name;
		if (ioctl(query_fd, PROCMAP_QUERY, &q) < 0 || q.vma_start != e->start ||
		    q.inode != e->ino || q.vma_name_size == 0 || q.vma_name_size > PATH_MAX)
			return 0;
		/* valgrind knows the struct from the ioctl number, not the name it points to. */
		VALGRIND_MAKE_MEM_DEFINED(name, q.vma_name_size);
	} else {
		char link[64];
		ssize_t len;

		snprintf(link, sizeof(link), "map_files/%llx-%llx", (unsigned long long)e->start,
			 (unsigned long long)e->end);
		len = readlinkat(dirfd, link, name, PATH_MAX - 1);
		if (len <= 0)
			return 0;
		name[len] = '\0';
	}
	name[PATH_MAX - 1] = '\0';
	for (i = 0; name[i]; i++) {
		if (name[i] == '\n') {
			memcpy(out + n, "\\012", 4);
			n += 4;
		} else {
			out[n++] = name[i];
		}
	}
	*label = out;
	return n;
}

/*
 * One file-backed mapping E of the current process. LAST is the identity of
 * the previous one: consecutive mappings of one file (its segments) count
 * once. E without a label (from PROCMAP_QUERY on QUERY_FD, or from the BPF
 * iterator with QUERY_FD -1) gets its path only if the file is new to the
 * scan: the label is display only.
 */
static int map_entry(struct scanner *s, int dirfd, struct pkguard_proc *proc, size_t proc_index,
		     struct pkguard_fileid exe, struct pkguard_fileid *last,
		     const struct pkguard_maps_entry *e, int query_fd)
{
	const char *label = e->label;
	size_t label_len = e->label_len;
	struct pkguard_fileid id;
	int rc;

	if (e->ino == 0 || (e->dev == last->dev && e->ino == last->ino))
		return 0;
	*last = (struct pkguard_fileid){e->dev, e->ino};
	s->tab->n_maps++;
	rc = resolve_mapping(s, dirfd, e, &id);
	if (rc <= 0 || (id.dev == exe.dev && id.ino == exe.ino))
		return rc;
	if (label_len == 0 && !interned(s, id))
		label_len = mapping_label(s, dirfd, query_fd, e, &label);
	return add_use(s, proc, proc_index, id, PKGUARD_USE_MAP, label, label_len, e->start,
		       e->end);
}

static int read_maps_text(struct scanner *s, int dirfd, struct pkguard_proc *proc,
			  size_t proc_index, struct pkguard_fileid exe)
{
	const char *p, *end;
	struct pkguard_fileid last = {0, 0};
	int rc;

	rc = buf_read_at(&s->buf, dirfd, "maps");
	if (rc < 0)
		return rc;
	p = s->buf.data;
	end = p + s->buf.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct pkguard_maps_entry e;

		if (pkguard_maps_parse(p, n, &e) < 0) {
			scan_log(s, PKGUARD_LOG_DEBUG, "skipping a malformed maps line of %d",
				 (int)proc->pid);
			p += n + 1;
			continue;
		}
		p += n + 1;
		rc = map_entry(s, dirfd, proc, proc_index, exe, &last, &e, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * The file-backed mappings through PROCMAP_QUERY, in address order as the
 * text lists them. Returns 0, a negative errno, or 1 when the kernel does
 * not know the ioctl (then nothing was recorded: read the text).
 */
static int read_maps_query(struct scanner *s, int dirfd, struct pkguard_proc *proc,
			   size_t proc_index, struct pkguard_fileid exe)
{
	struct pkguard_fileid last = {0, 0};
	uint64_t addr = 0;
	int fd, rc = 0;

	fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	for (;;) {
		struct procmap_query q = {
			.size = sizeof(q),
			.query_flags =
				PROCMAP_QUERY_COVERING_OR_NEXT_VMA | PROCMAP_QUERY_FILE_BACKED_VMA,
			.query_addr = addr,
		};
		struct pkguard_maps_entry e = {0};

		if (ioctl(fd, PROCMAP_QUERY, &q) < 0) {
			rc = -errno;
			/*
			 * ENOENT: no mapping at or after addr. ESRCH: the address space
			 * is gone (a zombie, or it exited since the open), where the
			 * text reads as empty. ENOTTY (or EINVAL from a kernel that
			 * knows other flags only) on the first query: no such ioctl.
			 */
			if (rc == -ENOENT || rc == -ESRCH)
				rc = 0;
			else if (s->maps_mode == MAPS_UNKNOWN && (rc == -ENOTTY || rc == -EINVAL))
				rc = 1;
			break;
		}
		s->maps_mode = MAPS_QUERY;
		if (q.vma_end <= addr)
			break; /* never loop on a confused answer */
		addr = q.vma_end;
		e.start = q.vma_start;
		e.end = q.vma_end;
		e.dev = makedev(q.dev_major, q.dev_minor);
		e.ino = (ino_t)q.inode;
		e.label = "";
		rc = map_entry(s, dirfd, proc, proc_index, exe, &last, &e, fd);
		if (rc < 0)
			break;
	}
	close(fd);
	return rc;
}

static int read_maps(struct scanner *s, int dirfd, struct pkguard_proc *proc, size_t proc_index,
		     struct pkguard_fileid exe)
{
	int rc;

	if (s->maps_mode != MAPS_TEXT) {
		rc = read_maps_query(s, dirfd, proc, proc_index, exe);
		if (rc <= 0)
			return rc;
		s->maps_mode = MAPS_TEXT;
		scan_log(s, PKGUARD_LOG_DEBUG,
			 "no PROCMAP_QUERY on this kernel: reading maps as text");
	}
	return read_maps_text(s, dirfd, proc, proc_index, exe);
}

static bool lock_wanted(const struct pkguard_scan_opts *opts, const struct pkguard_lock *l)
{
	return !l->waiter && l->kind != PKGUARD_LOCK_LEASE && opts->want && opts_want(opts, l->id);
}

/* POSIX locks belong to a process and show its pid (in our pid namespace). */
static int add_posix_locks(struct scanner *s, struct pkguard_proc *proc, size_t proc_index)
{
	const struct pkguard_locktab *locks = s->opts->locks;
	size_t i;
	int rc;

	for (i = 0; locks && i < locks->n_locks; i++) {
		const struct pkguard_lock *l = &locks->locks[i];

		if (l->kind != PKGUARD_LOCK_POSIX || l->pid != proc->pid ||
		    !lock_wanted(s->opts, l))
			continue;
		rc = add_use(s, proc, proc_index, l->id, PKGUARD_USE_LOCK, "", 0, 0, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct fdinfo_match {
	struct scanner *s;
	struct pkguard_fileid id;
	bool found;
};

static int fdinfo_lock_cb(void *userdata, const struct pkguard_lock *lock)
{
	struct fdinfo_match *m = userdata;

	/* The device in a lock line may be btrfs's anonymous one; the inode decides, fstat
	 * confirms. */
	if (lock->kind != PKGUARD_LOCK_LEASE && lock->id.ino == m->id.ino)
		m->found = true;
	return 0;
}

/*
 * flock and OFD locks belong to an open file description: whoever has an fd
 * on it holds the lock, and /proc/locks may name a dead parent or -1. The
 * holders are the processes whose fdinfo shows a "lock:" line for the file
 * (fdinfo also shows the POSIX locks its process owns on that file).
 */
static int add_fd_locks(struct scanner *s, int dirfd, struct pkguard_proc *proc, size_t proc_index)
{
	struct dirent *de;
	DIR *dir;
	int fd, rc = 0;

	fd = openat(dirfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((de = readdir(dir))) {
		char path[300], label[512];
		struct fdinfo_match m = {s, {0, 0}, false};
		struct stat st;
		ssize_t n;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "fd/%s", de->d_name);
		if (fstatat(dirfd, path, &st, 0) < 0)
			continue;
		m.id = (struct pkguard_fileid){st.st_dev, st.st_ino};
		if (!S_ISREG(st.st_mode) || !wanted(s, m.id))
			continue;
		snprintf(path, sizeof(path), "fdinfo/%s", de->d_name);
		if (buf_read_at(&s->buf, dirfd, path) < 0)
			continue;
		if (pkguard_fdinfo_locks(s->buf.data, s->buf.len, fdinfo_lock_cb, &m) < 0 ||
		    !m.found)
			continue;
		snprintf(path, sizeof(path), "fd/%s", de->d_name);
		n = readlinkat(dirfd, path, label, sizeof(label));
		rc = add_use(s, proc, proc_index, m.id, PKGUARD_USE_LOCK, label,
			     n > 0 ? (size_t)n : 0, 0, 0);
		if (rc < 0)
			break;
	}
	closedir(dir);
	return rc;
}

/* The unit, from cgroup. */
static int read_unit(struct scanner *s, int dirfd, struct pkguard_proc *proc)
{
	int rc = buf_read_at(&s->buf, dirfd, "cgroup");

	if (rc == 0 &&
	    pkguard_cgroup_unit(s->buf.data, s->buf.len, proc->unit, sizeof(proc->unit)) < 0)
		proc->unit[0] = '\0';
	else if (rc < 0 && !denied_errno(rc) && rc != -ENOENT)
		return rc;
	return 0;
}

/* uid, unit and mount namespace: read only for processes worth reporting. */
static int read_details(struct scanner *s, int dirfd, struct pkguard_proc *proc)
{
	struct stat st;
	int rc;

	rc = buf_read_at(&s->buf, dirfd, "status");
	if (rc < 0)
		return rc;
	if (pkguard_status_uids(s->buf.data, s->buf.len, &proc->uid, &proc->euid) < 0)
		return -PKGUARD_EPARSE;
	rc = read_unit(s, dirfd, proc);
	if (rc < 0)
		return rc;
	if (s->job->have_self_mntns && fstatat(dirfd, "ns/mnt", &st, 0) == 0)
		proc->other_mntns = st.st_ino != s->job->self_mntns.st_ino ||
				    st.st_dev != s->job->self_mntns.st_dev;
	return 0;
}

/*
 * Reading process PROC (at INDEX, through DIRFD) failed with RC: keep it as
 * gone or denied when it was seen using something, else forget it. Returns
 * 0, or -ENOMEM.
 */
static int proc_failed(struct scanner *s, int dirfd, struct pkguard_proc *proc, size_t index,
		       int rc)
{
	struct pkguard_proctab *tab = s->tab;

	if (rc == -ENOMEM)
		return rc;
	if (gone_errno(rc)) {
		tab->n_gone++;
		/* It is gone now: only what it was seen using before it went matters. */
		if (!proc->n_uses) {
			tab->n_procs = index;
			return 0;
		}
	}
	proc->state = denied_errno(rc) ? PKGUARD_PROC_DENIED : PKGUARD_PROC_GONE;
	proc->error = rc;
	if (!gone_errno(rc) && !denied_errno(rc))
		scan_log(s, PKGUARD_LOG_WARN, "cannot read process %d: %s", (int)proc->pid,
			 pkguard_strerror(rc));
	if (proc->state == PKGUARD_PROC_DENIED)
		read_details(s, dirfd, proc);
	tab->n_procs = index + 1;
	return 0;
}

static int new_proc(struct scanner *s, pid_t pid, struct pkguard_proc **proc)
{
	struct pkguard_proctab *tab = s->tab;

	if (array_grow(&tab->procs, &s->cap_procs, tab->n_procs + 1, sizeof(**proc)) < 0)
		return -ENOMEM;
	*proc = &tab->procs[tab->n_procs];
	memset(*proc, 0, sizeof(**proc));
	(*proc)->pid = pid;
	(*proc)->first_use = tab->n_uses;
	return 0;
}

/*
 * Scan one process through DIRFD. Returns 0 (also for gone and denied
 * processes, which are recorded as such), or -ENOMEM.
 */
static int scan_one(struct scanner *s, int dirfd, pid_t pid)
{
	struct pkguard_proctab *tab = s->tab;
	struct pkguard_fileid exe = {0, 0};
	struct pkguard_proc *proc;
	struct pkguard_stat pst;
	size_t index = tab->n_procs;
	struct stat st;
	int rc;

	rc = buf_read_at(&s->buf, dirfd, "stat");
	if (rc == 0 && pkguard_stat_parse(s->buf.data, s->buf.len, &pst) < 0)
		rc = -PKGUARD_EPARSE;
	if (rc == 0 && (pst.flags & PF_KTHREAD))
		return 0;
	tab->n_scanned++;
	rc = rc < 0 ? rc : new_proc(s, pid, &proc);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		/* Not even stat: record who it was as far as we know. */
		if (new_proc(s, pid, &proc) < 0)
			return -ENOMEM;
		goto failed;
	}

	memcpy(proc->comm, pst.comm, sizeof(proc->comm));
	proc->start_time = pst.start_time;

	/* exe: stat() follows the link to the real inode, even a deleted one. */
	if (fstatat(dirfd, "exe", &st, 0) == 0) {
		char label[4096];
		ssize_t n;

		exe = (struct pkguard_fileid){st.st_dev, st.st_ino};
		if (wanted(s, exe)) {
			n = readlinkat(dirfd, "exe", label, sizeof(label));
			rc = add_use(s, proc, index, exe, PKGUARD_USE_EXE, label,
				     n > 0 ? (size_t)n : 0, 0, 0);
			if (rc < 0)
				return rc;
		}
	} else if (errno != ENOENT || pst.state != 'Z') {
		/* A zombie has no exe; anything else that fails is gone or denied. */
		rc = -errno;
		goto failed;
	}

	rc = read_maps(s, dirfd, proc, index, exe);
	if (rc == 0)
		rc = add_posix_locks(s, proc, index);
	if (rc == 0 && s->job->walk_fds)
		rc = add_fd_locks(s, dirfd, proc, index);
	if (rc < 0)
		goto failed;
	if (!proc->n_uses) {
		/* Nothing of interest: forget the process, keep the table small. */
		tab->n_procs = index;
		return 0;
	}
	rc = read_details(s, dirfd, proc);
	if (rc < 0)
		goto failed;
	tab->n_procs = index + 1;
	return 0;

failed:
	return proc_failed(s, dirfd, proc, index, rc);
}

/*
 * One pinned directory fd per process: after the process dies, reads through
 * it fail with ESRCH instead of reaching a newcomer with the same pid.
 */
static int open_pid_dir(const struct scan_job *job, pid_t pid)
{
	char name[16];

	snprintf(name, sizeof(name), "%d", (int)pid);
	return openat(job->proc_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

#ifdef PKGUARD_HAVE_BPF
static dev_t kernel_dev(__u32 dev)
{
	return makedev(dev >> 20, dev & 0xfffff);
}

/* Could (DEV, INO) as the iterator gives it be wanted? See resolve_mapping(). */
static bool maybe_wanted(struct scanner *s, dev_t dev, ino_t ino)
{
	return wanted(s, (struct pkguard_fileid){dev, ino}) ||
	       (major(dev) == 0 && pkguard_fileset_has_ino(s->opts->want, ino));
}

/* The iterator's output for one process (records.h). */
struct bpf_task {
	struct pkguard_bpf_task hdr;
	const char *unified, *systemd; /* the cgroups; NULL when not given */
	const struct pkguard_bpf_map *maps;
	size_t n_maps;
};

/*
 * The length of the header (with its cgroups) or record at P, which ends
 * before END; 0 when it does not, -1 when it is neither.
 */
static ptrdiff_t bpf_item(const char *p, const char *end)
{
	struct pkguard_bpf_task hdr;
	const char *q, *nul;
	__u32 kind;
	int i;

	if (end - p < (ptrdiff_t)sizeof(kind))
		return 0;
	memcpy(&kind, p, sizeof(kind));
	if (kind == PKGUARD_BPF_MAP)
		return end - p < (ptrdiff_t)sizeof(struct pkguard_bpf_map)
			       ? 0
			       : (ptrdiff_t)sizeof(struct pkguard_bpf_map);
	if (kind != PKGUARD_BPF_TASK)
		return -1;
	if (end - p < (ptrdiff_t)sizeof(hdr))
		return 0;
	memcpy(&hdr, p, sizeof(hdr));
	q = p + sizeof(hdr);
	for (i = 0; i < 2 && (hdr.flags & PKGUARD_BPF_CGROUPS); i++) {
		nul = memchr(q, '\0', (size_t)(end - q));
		if (!nul)
			return 0;
		q = nul + 1;
	}
	return q - p;
}

/* Start collecting the process of the header at P (LEN long, bpf_item()). */
static int task_begin(struct scanner *s, const char *p, size_t len)
{
	s->cgroups.len = 0;
	s->maps.len = 0;
	return buf_append(&s->cgroups, p, len);
}

/* The process collected (task_begin(), then its records in s->maps). */
static void task_get(const struct scanner *s, struct bpf_task *t)
{
	const char *cg = s->cgroups.data + sizeof(t->hdr);

	memcpy(&t->hdr, s->cgroups.data, sizeof(t->hdr));
	t->unified = t->systemd = NULL;
	if (t->hdr.flags & PKGUARD_BPF_CGROUPS) {
		t->unified = cg;
		t->systemd = cg + strlen(cg) + 1;
	}
	t->maps = (const struct pkguard_bpf_map *)(const void *)s->maps.data;
	t->n_maps = s->maps.len / sizeof(*t->maps);
}

/* Its own iterator's output (s->records) as process T: 1, 0 when it is not one, or -ENOMEM. */
static int bpf_parse(struct scanner *s, struct bpf_task *t)
{
	const char *p = s->records.data, *end = p + s->records.len;
	ptrdiff_t len = bpf_item(p, end);
	__u32 kind = 0;

	if (len > 0)
		memcpy(&kind, p, sizeof(kind));
	if (kind != PKGUARD_BPF_TASK)
		return 0;
	if (task_begin(s, p, (size_t)len) < 0)
		return -ENOMEM;
	for (p += len; p < end; p += len) {
		len = bpf_item(p, end);
		if (len <= 0)
			return 0;
		memcpy(&kind, p, sizeof(kind));
		/* Else a header again: the walk went on on another CPU. */
		if (kind == PKGUARD_BPF_MAP && buf_append(&s->maps, p, (size_t)len) < 0)
			return -ENOMEM;
	}
	task_get(s, t);
	return 1;
}

/*
 * Does keeping the use of (DEV, INO), as the iterator gives it, need the
 * process's /proc directory? Its path, if the file is new to the scan
 * (mapping_label()), or its true identity on a major-0 device
 * (resolve_mapping()).
 */
static bool use_needs_dir(struct scanner *s, dev_t dev, ino_t ino)
{
	return major(dev) == 0 || !interned(s, (struct pkguard_fileid){dev, ino});
}

enum bpf_verdict {
	BPF_SKIP,     /* nothing the scan keeps: counted, not read further */
	BPF_KEEP,     /* kept, everything from the iterator */
	BPF_KEEP_DIR, /* kept, and /proc/PID is needed too */
};

/*
 * Do the process's records (T) show anything the scan keeps: a wanted
 * executable or mapping, or a POSIX lock of interest? And does keeping it
 * need its /proc directory (use_needs_dir(), fds to walk for flock/OFD locks
 * of interest)? A skipped process's mappings are counted, as map_entry()
 * does for the others. Without a fileset every process with a file is kept.
 */
static enum bpf_verdict bpf_triage(struct scanner *s, const struct bpf_task *t, pid_t pid)
{
	const struct pkguard_locktab *locks = s->opts->locks;
	dev_t exe_dev = kernel_dev(t->hdr.exe_dev);
	bool keep = !s->opts->want || s->job->walk_fds, dir = s->job->walk_fds;
	const struct pkguard_bpf_map *rec;
	__u64 last_ino = 0;
	__u32 last_dev = 0;
	size_t i, n_maps = 0;

	if (t->hdr.exe_ino && maybe_wanted(s, exe_dev, t->hdr.exe_ino)) {
		keep = true;
		dir |= use_needs_dir(s, exe_dev, t->hdr.exe_ino);
	}
	for (rec = t->maps; rec < t->maps + t->n_maps; rec++) {
		if (rec->ino == 0 || (rec->ino == last_ino && rec->dev == last_dev))
			continue;
		last_ino = rec->ino;
		last_dev = rec->dev;
		n_maps++;
		if (maybe_wanted(s, kernel_dev(rec->dev), (ino_t)rec->ino)) {
			keep = true;
			dir |= use_needs_dir(s, kernel_dev(rec->dev), (ino_t)rec->ino);
			if (dir)
				return BPF_KEEP_DIR;
		}
	}
	for (i = 0; !keep && locks && i < locks->n_locks; i++) {
		if (locks->locks[i].kind == PKGUARD_LOCK_POSIX && locks->locks[i].pid == pid &&
		    lock_wanted(s->opts, &locks->locks[i]))
			keep = true;
	}
	if (!keep) {
		s->tab->n_maps += n_maps;
		return BPF_SKIP;
	}
	return dir ? BPF_KEEP_DIR : BPF_KEEP;
}

/*
 * The executable and mappings from the iterator's records (T), through DIRFD
 * where bpf_triage() said it is needed, else -1.
 */
static int add_bpf_uses(struct scanner *s, int dirfd, struct pkguard_proc *proc, size_t proc_index,
			const struct bpf_task *t)
{
	struct pkguard_fileid exe = {kernel_dev(t->hdr.exe_dev), (ino_t)t->hdr.exe_ino};
	struct pkguard_fileid last = {0, 0};
	const struct pkguard_bpf_map *rec;
	int rc;

	if (t->hdr.exe_ino) {
		struct stat st;

		/* The true device where the superblock's is anonymous (btrfs), as for maps. */
		if (major(exe.dev) == 0 &&
		    (!s->opts->want || pkguard_fileset_has_ino(s->opts->want, exe.ino))) {
			if (fstatat(dirfd, "exe", &st, 0) < 0)
				return -errno;
			exe = (struct pkguard_fileid){st.st_dev, st.st_ino};
		}
		if (wanted(s, exe)) {
			char label[4096];
			ssize_t n = 0;

			/* The path is for a file new to the scan only, as for mappings. */
			if (!interned(s, exe))
				n = readlinkat(dirfd, "exe", label, sizeof(label));
			rc = add_use(s, proc, proc_index, exe, PKGUARD_USE_EXE, label,
				     n > 0 ? (size_t)n : 0, 0, 0);
			if (rc < 0)
				return rc;
		}
	}
	for (rec = t->maps; rec < t->maps + t->n_maps; rec++) {
		struct pkguard_maps_entry e = {0};

		e.start = rec->start;
		e.end = rec->end;
		e.dev = kernel_dev(rec->dev);
		e.ino = (ino_t)rec->ino;
		e.label = "";
		rc = map_entry(s, dirfd, proc, proc_index, exe, &last, &e, -1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Scan process PID from the iterator's output T: stat's start time and name,
 * status's uids, exe, maps, ns/mnt and cgroup in one read. /proc is read only
 * for a process the scan keeps and only for what the iterator does not give
 * (bpf_triage()): the paths of files new to the scan, fds, the unit of a
 * cgroup too deep for the iterator. Then it is read through a directory pinned
 * and checked to be the process the iterator read (stat's start time).
 * Whatever the iterator cannot answer (T NULL: no output, for a kernel
 * thread, a zombie, or an error; another start time) is read from /proc as
 * scan_one() does. Returns 0 or -ENOMEM, as scan_one().
 */
static int scan_bpf_task(struct scanner *s, pid_t pid, const struct bpf_task *t)
{
	struct pkguard_proctab *tab = s->tab;
	unsigned long long tick = 1000000000ull / (unsigned long long)s->job->clk_tck;
	enum bpf_verdict verdict = BPF_KEEP_DIR;
	struct pkguard_proc *proc;
	struct pkguard_stat pst;
	size_t index = tab->n_procs;
	char unit[sizeof(proc->unit)] = "";
	int pfd = -1, rc, unit_rc = -1;

	if (t) {
		verdict = bpf_triage(s, t, pid);
		if (verdict == BPF_SKIP) {
			tab->n_scanned++;
			return 0;
		}
		if (s->job->bpf_direct && t->unified)
			unit_rc =
				pkguard_cgroup_unit_up(t->unified, t->systemd, unit, sizeof(unit));
		if (unit_rc < 0)
			verdict = BPF_KEEP_DIR;
	}
	if (verdict == BPF_KEEP_DIR || !s->job->bpf_direct) {
		pfd = open_pid_dir(s->job, pid);
		if (pfd < 0)
			return 0; /* gone: it uses nothing now */
		if (!t || buf_read_at(&s->buf, pfd, "stat") < 0 ||
		    pkguard_stat_parse(s->buf.data, s->buf.len, &pst) < 0 ||
		    t->hdr.start_ns / tick != pst.start_time) {
			rc = scan_one(s, pfd, pid);
			close(pfd);
			return rc;
		}
	} else {
		memcpy(pst.comm, t->hdr.comm, sizeof(t->hdr.comm));
		pst.comm[sizeof(t->hdr.comm)] = '\0';
		pst.start_time = t->hdr.start_ns / tick;
	}
	tab->n_scanned++;
	rc = new_proc(s, pid, &proc);
	if (rc < 0)
		goto out;
	memcpy(proc->comm, pst.comm, sizeof(proc->comm));
	proc->start_time = pst.start_time;
	proc->uid = t->hdr.uid;
	proc->euid = t->hdr.euid;
	/* Another mount namespace than our scanning thread's, which is ours (self/ns/mnt). */
	proc->other_mntns =
		s->job->have_self_mntns && (t->hdr.flags & PKGUARD_BPF_OTHER_MNTNS) != 0;
	rc = add_bpf_uses(s, pfd, proc, index, t);
	if (rc == 0)
		rc = add_posix_locks(s, proc, index);
	if (rc == 0 && s->job->walk_fds)
		rc = add_fd_locks(s, pfd, proc, index);
	if (rc == 0 && proc->n_uses && unit_rc >= 0)
		memcpy(proc->unit, unit, sizeof(unit));
	else if (rc == 0 && proc->n_uses)
		rc = read_unit(s, pfd, proc);
	if (rc < 0)
		rc = proc_failed(s, pfd, proc, index, rc);
	else if (proc->n_uses)
		tab->n_procs = index + 1;
out:
	if (pfd >= 0)
		close(pfd);
	return rc;
}

/* Scan process PID through an iterator of its own, as scan_bpf_task(). */
static int scan_one_bpf(struct scanner *s, pid_t pid)
{
	struct bpf_task t;
	int rc;

	rc = maps_bpf_read(s->job->bpf, pid, &s->records);
	if (rc == -ENOMEM)
		return rc;
	rc = rc == 0 ? bpf_parse(s, &t) : 0;
	if (rc < 0)
		return rc;
	return scan_bpf_task(s, pid, rc ? &t : NULL);
}
#endif

/* Scan process PID through /proc. Returns 0 or -ENOMEM. */
static int scan_proc(struct scanner *s, pid_t pid)
{
	int pfd, rc;

	pfd = open_pid_dir(s->job, pid);
	if (pfd < 0)
		return 0; /* gone before we looked: it used nothing */
	rc = scan_one(s, pfd, pid);
	close(pfd);
	return rc;
}

/* Scan process PID, the fastest way this scan has. Returns 0 or -ENOMEM. */
static int scan_pid(struct scanner *s, pid_t pid)
{
#ifdef PKGUARD_HAVE_BPF
	if (s->job->bpf)
		return scan_one_bpf(s, pid);
#endif
	return scan_proc(s, pid);
}

static bool any_fd_locks(const struct pkguard_scan_opts *opts)
{
	size_t i;

	if (!opts->locks || !opts->want)
		return false;
	for (i = 0; i < opts->locks->n_locks; i++) {
		const struct pkguard_lock *l = &opts->locks->locks[i];

		if ((l->kind == PKGUARD_LOCK_FLOCK || l->kind == PKGUARD_LOCK_OFD) &&
		    lock_wanted(opts, l))
			return true;
		/* btrfs: the lock's device may not be the file's; match by inode then confirm. */
		if (l->kind != PKGUARD_LOCK_LEASE && major(l->id.dev) == 0 &&
		    pkguard_fileset_has_ino(opts->want, l->id.ino))
			return true;
	}
	return false;
}

bool pkguard_scan_locks_matter(const struct pkguard_scan_opts *opts)
{
	size_t i;

	if (any_fd_locks(opts))
		return true;
	for (i = 0; opts->locks && i < opts->locks->n_locks; i++) {
		if (opts->locks->locks[i].kind == PKGUARD_LOCK_POSIX &&
		    lock_wanted(opts, &opts->locks->locks[i]))
			return true;
	}
	return false;
}

static int scanner_init(struct scanner *s, struct scan_job *job)
{
	memset(s, 0, sizeof(*s));
	s->ctx = job->ctx;
	s->opts = job->opts;
	s->job = job;
	s->maps_mode = job->maps == PKGUARD_MAPS_TEXT ? MAPS_TEXT : MAPS_UNKNOWN;
	s->tab = calloc(1, sizeof(*s->tab));
	return s->tab ? 0 : -ENOMEM;
}

static void scanner_release(struct scanner *s)
{
	pkguard_proctab_free(s->tab);
	buf_release(&s->buf);
	buf_release(&s->name);
	buf_release(&s->records);
	buf_release(&s->cgroups);
	buf_release(&s->maps);
	free(s->done);
	free(s->slots);
	free(s->seen_last);
	free(s->pos);
	memset(s, 0, sizeof(*s));
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/*
 * The pids of the processes now, into job->pids: the directory is listed
 * first, then read. With a stream, in pid order, and then job->listed says
 * so to the stream's scanner. Touches no context (another thread may list):
 * returns 0, -ENOMEM, or -PKGUARD_ENOPROC with job->list_errno.
 */
static int list_pids(struct scan_job *job)
{
	struct dirent *de;
	DIR *dir;
	int fd, rc = 0;

	fd = openat(job->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		job->list_errno = errno;
		if (fd >= 0)
			close(fd);
		return -PKGUARD_ENOPROC;
	}
	while ((de = readdir(dir))) {
		char *endp;
		long pid;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &endp, 10);
		if (*endp || pid <= 0 || pid > INT32_MAX)
			continue;
		if (array_grow(&job->pids, &job->cap_pids, job->n_pids + 1, sizeof(*job->pids)) <
		    0) {
			rc = -ENOMEM;
			break;
		}
		job->pids[job->n_pids++] = (pid_t)pid;
	}
	closedir(dir);
	if (rc == 0 && job->stream) {
		qsort(job->pids, job->n_pids, sizeof(*job->pids), cmp_pid);
		atomic_store_explicit(&job->listed, true, memory_order_release);
	}
	return rc;
}

/* Processes handed out at a time: few enough to share the work evenly. */
static size_t chunk_size(const struct scan_job *job)
{
	size_t n = job->n_pids / 64;

	return n < 1 ? 1 : n > 16 ? 16 : n;
}

/*
 * Stop, or go on? 1 when another scanner failed, -PKGUARD_EDEADLINE once the
 * deadline has passed (looked at every 64 processes; then the other scanner
 * stops too), else 0.
 */
static int scan_check(struct scanner *s)
{
	if (atomic_load(&s->job->stop))
		return 1;
	if ((s->n_tried++ & 63) == 0 && pkguard_ctx_expired(s->job->ctx)) {
		atomic_store(&s->job->stop, true);
		return -PKGUARD_EDEADLINE;
	}
	return 0;
}

/* Where the process the scanner just added (if it added one) goes in the merged table. */
static int note_pos(struct scanner *s, size_t before, size_t pos)
{
	if (s->tab->n_procs == before)
		return 0;
	if (array_grow(&s->pos, &s->cap_pos, s->tab->n_procs, sizeof(*s->pos)) < 0)
		return -ENOMEM;
	s->pos[before] = pos;
	return 0;
}

/*
 * Scan the processes of the job that no other scanner has taken. Returns 0,
 * -PKGUARD_EDEADLINE or -ENOMEM (and then stops the other scanner too).
 */
static int scan_pids(struct scanner *s)
{
	struct scan_job *job = s->job;
	size_t chunk = chunk_size(job), i, end;
	int rc;

	for (;;) {
		i = atomic_fetch_add(&job->next, chunk);
		if (i >= job->n_pids)
			return 0;
		end = i + chunk < job->n_pids ? i + chunk : job->n_pids;
		for (; i < end; i++) {
			size_t before = s->tab->n_procs;

			rc = scan_check(s);
			if (rc)
				return rc < 0 ? rc : 0;
			rc = scan_pid(s, job->pids[i]);
			if (rc == 0)
				rc = note_pos(s, before, i);
			if (rc < 0) {
				atomic_store(&job->stop, true);
				return rc;
			}
		}
	}
}

#ifdef PKGUARD_HAVE_BPF
/*
 * Take PID for the stream's scanner (UP) or for the other one, unless the
 * other has taken it or one beyond it. The stream's scanner goes up, and
 * back for listed pids it went past; the other one goes down, never to or
 * below the highest pid the first has taken. So no pid is taken twice, and
 * together they leave none out.
 */
static bool claim(struct scan_job *job, pid_t pid, bool up)
{
	uint64_t f = atomic_load(&job->frontier), nf;
	uint32_t p = (uint32_t)pid, low, high;

	do {
		low = (uint32_t)f;
		high = (uint32_t)(f >> 32);
		if (up ? p >= high : p <= low)
			return false;
		/* The stream's scanner goes back for pids it went past (stream_one()). */
		nf = up ? (uint64_t)high << 32 | (p > low ? p : low) : (uint64_t)p << 32 | low;
	} while (!atomic_compare_exchange_weak(&job->frontier, &f, nf));
	return true;
}

/* How the stream's scanner reads a process it has taken. */
enum stream_way {
	FROM_STREAM, /* its records, collected from the stream */
	OWN_READ,    /* through an iterator of its own (scan_pid()) */
	FROM_PROC,   /* listed, but the stream went past it: a kernel thread, a zombie */
};

/*
 * Take process PID (claim()) and scan it the way WAY says. Returns 0, 1 when
 * the stream's scanner is done (the other scanner had it, or failed), or a
 * negative errno as scan_pids().
 */
static int stream_one(struct scanner *s, pid_t pid, enum stream_way way)
{
	size_t before = s->tab->n_procs;
	struct bpf_task t;
	int rc = scan_check(s);

	if (rc)
		return rc;
	if (!claim(s->job, pid, true))
		return 1;
	if (way != FROM_PROC) {
		if (array_grow(&s->done, &s->cap_done, s->n_done + 1, sizeof(*s->done)) < 0)
			return -ENOMEM;
		s->done[s->n_done++] = pid;
	}
	/* Our own process from /proc, as scan_one_bpf() does (see MAPS_BPF_MAX). */
	if (way == FROM_STREAM && pid != getpid()) {
		task_get(s, &t);
		s->tab->n_streamed++;
		rc = scan_bpf_task(s, pid, &t);
	} else if (way == FROM_PROC) {
		rc = scan_proc(s, pid);
	} else {
		rc = scan_pid(s, pid);
	}
	if (rc == 0)
		rc = note_pos(s, before, (size_t)pid);
	if (rc < 0)
		atomic_store(&s->job->stop, true);
	return rc;
}

/*
 * The listed processes below BELOW that the stream has not given (it went
 * past them, or stopped short), once the list is there: read the way WAY
 * says. Returns as stream_one().
 */
static int stream_past(struct scanner *s, pid_t below, enum stream_way way)
{
	struct scan_job *job = s->job;
	pid_t q;
	int rc;

	if (!atomic_load_explicit(&job->listed, memory_order_acquire))
		return 0;
	while (s->next_listed < job->n_pids && (q = job->pids[s->next_listed]) < below) {
		s->next_listed++;
		while (s->next_done < s->n_done && s->done[s->next_done] < q)
			s->next_done++;
		if (s->next_done < s->n_done && s->done[s->next_done] == q)
			continue;
		rc = stream_one(s, q, way);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The stream's scanner: every process from the iterator over all of them,
 * up in pid order, until it meets the other scanner (scan_down()). Listed
 * processes the stream goes past are read from /proc; where the stream
 * fails, the rest of the list is read one process at a time. Returns as
 * scan_pids().
 */
static int scan_stream(struct scanner *s)
{
	struct scan_job *job = s->job;
	struct buf *raw = &s->records, swap;
	struct pkguard_bpf_task hdr;
	pid_t cur = 0; /* the process being collected, 0 for none */
	const char *p, *end;
	ptrdiff_t len = 0;
	bool eof = false;
	ssize_t n;
	__u32 kind;
	int iter, rc = 0;

	/* Where the stream was read ahead, on from there. */
	iter = job->ahead_fd;
	job->ahead_fd = -1;
	raw->len = 0;
	if (iter >= 0) {
		swap = *raw;
		*raw = job->ahead;
		job->ahead = swap;
		eof = job->ahead_eof;
		scan_log(s, PKGUARD_LOG_DEBUG, "process scan: %zu bytes of the stream read ahead%s",
			 raw->len, eof ? ", all of it" : "");
	} else {
		iter = maps_bpf_open_all(job->bpf);
		if (iter < 0)
			scan_log(s, PKGUARD_LOG_DEBUG, "process scan: no BPF stream (%s)",
				 strerror(-iter));
	}
	rc = buf_reserve(raw, 65536);
	if (rc < 0)
		goto out;
	while (iter >= 0) {
		for (p = raw->data, end = p + raw->len; (len = bpf_item(p, end)) > 0; p += len) {
			memcpy(&kind, p, sizeof(kind));
			if (kind == PKGUARD_BPF_MAP) {
				if (cur && buf_append(&s->maps, p, (size_t)len) < 0) {
					rc = -ENOMEM;
					goto out;
				}
				continue;
			}
			memcpy(&hdr, p, sizeof(hdr));
			if (cur && (pid_t)hdr.pid == cur)
				continue; /* the same process goes on (another CPU) */
			if (cur && (pid_t)hdr.pid < cur)
				break; /* not in pid order: not to be trusted */
			if (cur && (rc = stream_one(s, cur, FROM_STREAM)) != 0)
				goto out;
			cur = 0;
			rc = stream_past(s, (pid_t)hdr.pid, FROM_PROC);
			if (rc)
				goto out;
			if (task_begin(s, p, (size_t)len) < 0) {
				rc = -ENOMEM;
				goto out;
			}
			cur = (pid_t)hdr.pid;
		}
		if (len != 0) {
			rc = -EPROTO;
			break;
		}
		memmove(raw->data, p, (size_t)(end - p));
		raw->len = (size_t)(end - p);
		if (eof)
			break;
		rc = buf_reserve(raw, 65536);
		if (rc < 0)
			goto out;
		n = read(iter, raw->data + raw->len, raw->cap - raw->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		eof = n == 0;
		raw->len += (size_t)n;
	}
	/* Failed: what it did not give is read one process at a time. */
	if (rc < 0)
		scan_log(s, PKGUARD_LOG_DEBUG, "process scan: the BPF stream failed (%s)",
			 strerror(-rc));
	/* The last process, whole only if the stream ended well. */
	if (cur &&
	    (rc = stream_one(s, cur, rc == 0 && raw->len == 0 ? FROM_STREAM : OWN_READ)) != 0)
		goto out;
	rc = 0;
	/* Then the rest of the list: what the stream went past, and did not reach. */
	while (!atomic_load_explicit(&job->listed, memory_order_acquire)) {
		if (atomic_load(&job->stop))
			goto out;
		sched_yield(); /* the other scanner lists /proc first thing */
	}
	rc = stream_past(s, cur + 1, FROM_PROC);
	if (rc == 0)
		rc = stream_past(s, INT32_MAX, OWN_READ);
out:
	if (iter >= 0)
		close(iter);
	return rc == 1 ? 0 : rc;
}

/*
 * The other scanner beside a stream: it lists /proc (unless that is done),
 * then takes one process at a time, down the list from its end.
 */
static int scan_down(struct scanner *s)
{
	struct scan_job *job = s->job;
	size_t i, before;
	int rc;

	if (!atomic_load(&job->listed)) {
		rc = list_pids(job);
		if (rc < 0) {
			atomic_store(&job->stop, true);
			return rc;
		}
	}
	for (i = job->n_pids; i-- > 0;) {
		rc = scan_check(s);
		if (rc)
			return rc < 0 ? rc : 0;
		if (!claim(job, job->pids[i], false))
			return 0;
		before = s->tab->n_procs;
		rc = scan_pid(s, job->pids[i]);
		if (rc == 0)
			rc = note_pos(s, before, (size_t)job->pids[i]);
		if (rc < 0) {
			atomic_store(&job->stop, true);
			return rc;
		}
	}
	return 0;
}
#endif

static void *scan_thread(void *arg)
{
	struct scanner *s = arg;

#ifdef PKGUARD_HAVE_BPF
	if (s->job->stream) {
		s->rc = scan_down(s);
		return NULL;
	}
#endif
	s->rc = scan_pids(s);
	return NULL;
}

/* Append process P of scanner FROM's table to OUT's, its uses re-interned there. */
static int merge_proc(struct scanner *out, const struct scanner *from, const struct pkguard_proc *p)
{
	const struct pkguard_proctab *tab = from->tab;
	size_t index = out->tab->n_procs, u;
	struct pkguard_proc *np;
	int rc;

	rc = new_proc(out, p->pid, &np);
	if (rc < 0)
		return rc;
	*np = *p;
	np->first_use = out->tab->n_uses;
	np->n_uses = 0;
	out->tab->n_procs++;
	for (u = p->first_use; u < p->first_use + p->n_uses; u++) {
		const struct pkguard_seen *sn = &tab->seen[tab->uses[u].seen];

		/* In pid-list order, the first process to meet a file is the same as in one
		 * pass, and so are the mapping and label it is remembered by. */
		rc = add_use(out, np, index, sn->id, tab->uses[u].kind, sn->label,
			     strlen(sn->label), sn->start, sn->end);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A process of one scanner's table: its place in the merged table (pos), and its index. */
struct placed {
	size_t pos, i;
};

static int cmp_placed(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;

	return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * S's processes in the order of the merged table: each scanner adds them in
 * its own (down the list, or back for pids the stream went past). NULL
 * when out of memory.
 */
static struct placed *placed(const struct scanner *s)
{
	size_t i, n = s->tab->n_procs;
	struct placed *p = malloc((n ? n : 1) * sizeof(*p));

	if (!p)
		return NULL;
	for (i = 0; i < n; i++)
		p[i] = (struct placed){s->pos[i], i};
	qsort(p, n, sizeof(*p), cmp_placed);
	return p;
}

/* One table from both scanners', in pid-list order. */
static int merge(struct scanner *out, const struct scanner *a, const struct scanner *b)
{
	struct placed *pa = placed(a), *pb = placed(b);
	size_t i = 0, j = 0, na = a->tab->n_procs, nb = b->tab->n_procs;
	int rc = pa && pb ? 0 : -ENOMEM;

	while (rc == 0 && (i < na || j < nb)) {
		if (j >= nb || (i < na && pa[i].pos < pb[j].pos))
			rc = merge_proc(out, a, &a->tab->procs[pa[i++].i]);
		else
			rc = merge_proc(out, b, &b->tab->procs[pb[j++].i]);
	}
	free(pa);
	free(pb);
	out->tab->n_scanned = a->tab->n_scanned + b->tab->n_scanned;
	out->tab->n_streamed = a->tab->n_streamed + b->tab->n_streamed;
	out->tab->n_maps = a->tab->n_maps + b->tab->n_maps;
	out->tab->n_gone = a->tab->n_gone + b->tab->n_gone;
	return rc;
}

/*
 * Two threads when there are two CPUs to run them and enough processes to
 * share, or a stream (then the other thread lists /proc meanwhile): reading
 * /proc is kernel work that runs in parallel (each process's address space
 * has its own locks).
 */
static bool want_thread(const struct scan_job *job)
{
	cpu_set_t cpus;

	if (job->opts->threads >= 2)
		return true;
	if (job->opts->threads == 1 || (!job->stream && job->n_pids < 128))
		return false;
	/*
	 * The stream read ahead to its end (a small system): what is left is
	 * parsing it, sooner done than a second thread is started (in a run
	 * of the live test with 16 processes, that thread had read each of
	 * them through an iterator of its own before this one took the first
	 * from the stream).
	 */
	if (job->stream && job->ahead_eof)
		return false;
	return sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) >= 2;
}

/*
 * Use the BPF iterator when the options allow it: the one loaded early
 * (pkguard_scan_early_start()), else loaded now. Returns 0 (with or without
 * it, said at debug level), or a negative errno when PKGUARD_MAPS_BPF was
 * asked for and it cannot be had.
 */
static int bpf_start(struct scan_job *job)
{
	const struct maps_bpf_prep *prep = NULL;
	bool early = false;

	if (job->maps != PKGUARD_MAPS_AUTO && job->maps != PKGUARD_MAPS_BPF)
		return 0;
#ifdef PKGUARD_HAVE_BPF
	if (job->opts->early) {
		early = (prep = scan_early_bpf(job->opts->early)) != NULL;
		job->ahead_fd = scan_early_stream(job->opts->early, &job->ahead, &job->ahead_eof);
	}
	if (!prep) {
		maps_bpf_prepare(job->proc_fd, &job->own_bpf);
		prep = &job->own_bpf;
	}
	job->bpf = prep->bpf;
	job->clk_tck = prep->clk_tck;
	job->bpf_direct = prep->direct;
	job->stream = job->bpf && prep->stream && !job->opts->bpf_per_process;
	if (job->bpf) {
		pkguard_log(job->ctx, PKGUARD_LOG_DEBUG, "process scan: mappings through BPF%s%s",
			    early ? " (loaded early)" : "",
			    job->bpf_direct ? "" : " (start times and cgroups from /proc)");
		if (prep->kept.found || prep->kept.added)
			pkguard_log(job->ctx, PKGUARD_LOG_DEBUG, "BPF program %s %s",
				    prep->kept.found ? "taken from" : "kept in", MAPS_BPF_KEEP);
		else
			pkguard_log(job->ctx, PKGUARD_LOG_DEBUG, "BPF program loaded, not kept: %s",
				    prep->kept.why ? prep->kept.why : "another run keeps its own");
		return 0;
	}
	if (job->maps == PKGUARD_MAPS_BPF)
		return pkguard_fail(job->ctx, prep->rc < 0 ? prep->rc : -EOPNOTSUPP,
				    "no BPF iterator: %s", prep->why);
	pkguard_log(job->ctx, PKGUARD_LOG_DEBUG, "process scan: no BPF iterator (%s%s%s)",
		    prep->why, prep->rc < 0 ? ": " : "", prep->rc < 0 ? strerror(-prep->rc) : "");
	return 0;
#else
	(void)prep;
	(void)early;
	if (job->maps == PKGUARD_MAPS_BPF)
		return pkguard_fail(job->ctx, -EOPNOTSUPP,
				    "no BPF iterator: pkguard was built without it");
	return 0;
#endif
}

int pkguard_proc_scan(struct pkguard_ctx *ctx, const struct pkguard_scan_opts *opts,
		      struct pkguard_proctab **out)
{
	struct scan_job job = {.ctx = ctx, .opts = opts, .ahead_fd = -1};
	struct scanner s[3] = {0};
	pthread_t thread;
	bool threaded = false;
	int rc;

	*out = NULL;
	job.proc_fd = pkguard_ctx_proc_fd(ctx);
	if (job.proc_fd < 0)
		return pkguard_fail(ctx, -PKGUARD_ENOPROC, "cannot scan processes");
	job.have_self_mntns = fstatat(job.proc_fd, "self/ns/mnt", &job.self_mntns, 0) == 0;
	atomic_init(&job.next, 0);
	atomic_init(&job.stop, false);
	job.maps = opts->maps == PKGUARD_MAPS_AUTO ? pkguard_ctx_maps(ctx) : opts->maps;
	atomic_init(&job.listed, false);
	atomic_init(&job.frontier, (uint64_t)UINT32_MAX << 32);
	rc = bpf_start(&job);
	if (rc < 0)
		goto out;
	/* With a stream, the other thread lists /proc while the stream starts (below). */
	if (!job.stream) {
		rc = list_pids(&job);
		if (rc < 0)
			goto fail;
	}
	rc = scanner_init(&s[0], &job);
	if (rc < 0)
		goto fail;
	job.walk_fds = any_fd_locks(opts);
	if (want_thread(&job) && pthread_mutex_init(&job.log_lock, NULL) == 0) {
		job.threaded = true;
		rc = scanner_init(&s[1], &job);
		if (rc < 0)
			goto fail;
		threaded = thread_start(&thread, scan_thread, &s[1]) == 0;
	}
	if (job.stream && !threaded) {
		rc = list_pids(&job); /* no other thread to do it */
		if (rc < 0)
			goto fail;
	}
#ifdef PKGUARD_HAVE_BPF
	if (job.stream)
		rc = scan_stream(&s[0]);
	else
#endif
		rc = scan_pids(&s[0]);
	if (threaded) {
		pthread_join(thread, NULL);
		if (rc == 0 || s[1].rc == -ENOMEM)
			rc = s[1].rc;
	}
	if (rc == 0 && threaded) {
		rc = scanner_init(&s[2], &job);
		if (rc == 0)
			rc = merge(&s[2], &s[0], &s[1]);
		if (rc == 0) {
			*out = s[2].tab;
			s[2].tab = NULL;
		}
	} else if (rc == 0) {
		*out = s[0].tab;
		s[0].tab = NULL;
	}
	if (rc == 0)
		(*out)->maps_used = job.bpf			  ? PKGUARD_MAPS_BPF
				    : s[0].maps_mode == MAPS_TEXT ? PKGUARD_MAPS_TEXT
								  : PKGUARD_MAPS_QUERY;
	if (rc == 0 && job.stream)
		pkguard_log(ctx, PKGUARD_LOG_DEBUG,
			    "process scan: %zu processes from the BPF stream, %zu otherwise",
			    (*out)->n_streamed, (*out)->n_scanned - (*out)->n_streamed);
fail:
	if (rc == -PKGUARD_ENOPROC)
		rc = pkguard_fail(ctx, rc, "cannot list /proc: %s", strerror(job.list_errno));
	else if (rc == -PKGUARD_EDEADLINE)
		rc = pkguard_fail(ctx, rc, "process scan stopped after %zu processes",
				  s[0].tab->n_scanned + (s[1].tab ? s[1].tab->n_scanned : 0));
	else if (rc < 0)
		rc = pkguard_fail(ctx, rc, "cannot scan processes");
out:
	scanner_release(&s[0]);
	scanner_release(&s[1]);
	scanner_release(&s[2]);
	if (job.threaded)
		pthread_mutex_destroy(&job.log_lock);
#ifdef PKGUARD_HAVE_BPF
	maps_bpf_prep_release(&job.own_bpf);
#endif
	free(job.pids);
	if (job.ahead_fd >= 0)
		close(job.ahead_fd);
	buf_release(&job.ahead);
	return rc;
}

void pkguard_proctab_free(struct pkguard_proctab *tab)
{
	size_t i;

	if (!tab)
		return;
	for (i = 0; i < tab->n_seen; i++)
		free(tab->seen[i].label);
	free(tab->seen);
	free(tab->uses);
	free(tab->procs);
	free(tab);
}

const struct pkguard_proc *pkguard_proctab_find(const struct pkguard_proctab *tab, pid_t pid)
{
	size_t i;

	for (i = 0; i < tab->n_procs; i++) {
		if (tab->procs[i].pid == pid)
			return &tab->procs[i];
	}
	return NULL;
}

int pkguard_proc_stat(struct pkguard_ctx *ctx, const struct pkguard_proctab *tab, size_t seen,
		      struct stat *st)
{
	const struct pkguard_seen *sn = &tab->seen[seen];
	int proc_fd = pkguard_ctx_proc_fd(ctx);
	char name[96];
	size_t p, u;
	int rc = -ENOENT;

	if (sn->start || sn->end) {
		snprintf(name, sizeof(name), "%d/map_files/%llx-%llx", (int)sn->pid,
			 (unsigned long long)sn->start, (unsigned long long)sn->end);
		if (fstatat(proc_fd, name, st, 0) == 0)
			return st->st_ino == sn->id.ino ? 0 : -ENOENT;
		rc = -errno;
		if (!gone_errno(rc))
			return rc;
	}
	/* Met as an executable, or its first mapper has exited since: any process running it. */
	for (p = 0; p < tab->n_procs; p++) {
		const struct pkguard_proc *pr = &tab->procs[p];

		for (u = pr->first_use; u < pr->first_use + pr->n_uses; u++) {
			if (tab->uses[u].seen != seen || tab->uses[u].kind != PKGUARD_USE_EXE)
				continue;
			snprintf(name, sizeof(name), "%d/exe", (int)pr->pid);
			if (fstatat(proc_fd, name, st, 0) < 0) {
				rc = -errno;
				continue;
			}
			if (st->st_ino == sn->id.ino)
				return 0;
		}
	}
	return rc;
}
