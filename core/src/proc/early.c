/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The part of a scan that does not depend on what it looks for, on threads
 * of its own (see pkguard_scan_early_start() in pkguard/proc.h). Each thread
 * writes only its own fields, read after pthread_join(); neither touches
 * the context, whose messages belong to the caller's thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "pkguard/locks.h"
#include "pkguard/proc.h"
#include "util/internal.h"
#ifdef PKGUARD_HAVE_BPF
#include "proc/early.h"
#endif

struct pkguard_scan_early {
	int proc_fd;

	pthread_t locks_thread;
	bool locks_running;	/* and not yet used */
	atomic_bool locks_read; /* its thread is done */
	struct buf locks;	/* the text of /proc/locks */
	int locks_rc;		/* of reading it */

#ifdef PKGUARD_HAVE_BPF
	pthread_t bpf_thread;
	bool bpf_running, bpf_started;
	struct maps_bpf_prep bpf;
	/* The stream read ahead by the same thread, until stop_ahead. */
	atomic_bool stop_ahead;
	int stream_fd; /* -1: none, or taken */
	struct buf ahead;
	bool ahead_eof;
#endif
};

static void *read_locks(void *arg)
{
	struct pkguard_scan_early *e = arg;

	e->locks_rc = buf_read_at(&e->locks, e->proc_fd, "locks");
	atomic_store(&e->locks_read, true);
	return NULL;
}

#ifdef PKGUARD_HAVE_BPF
/*
 * At most this much is read ahead (about 1000 processes here), so that a
 * slow package database cannot grow it without bound; the scan reads on.
 */
#define AHEAD_MAX ((size_t)1 << 20)
/*
 * Each read() walks until it has this much: about 8 processes here (0.6
 * ms), so that scan_early_bpf() waits little for the last one.
 */
#define AHEAD_READ ((size_t)8192)

/*
 * Read the stream of every process until told to stop. The memory is
 * reserved first: growing it under the other threads would be a TLB flush
 * on their CPUs (see prefault_static() in the CLI).
 */
static void read_ahead(struct pkguard_scan_early *e)
{
	ssize_t n;

	e->stream_fd = maps_bpf_open_all(e->bpf.bpf);
	if (e->stream_fd < 0 || buf_reserve(&e->ahead, AHEAD_MAX - 1) < 0)
		return;
	while (!atomic_load(&e->stop_ahead) && e->ahead.len + AHEAD_READ < AHEAD_MAX) {
		n = read(e->stream_fd, e->ahead.data + e->ahead.len, AHEAD_READ);
		if (n < 0 && errno == EINTR)
			continue;
		/* A failed read is the scan's to meet again: it reads on from here. */
		if (n <= 0) {
			e->ahead_eof = n == 0;
			return;
		}
		e->ahead.len += (size_t)n;
	}
}

static void *load_bpf(void *arg)
{
	struct pkguard_scan_early *e = arg;

	maps_bpf_prepare(e->proc_fd, &e->bpf);
	if (e->bpf.bpf && e->bpf.stream)
		read_ahead(e);
	return NULL;
}
#endif

/* The /proc/locks read pkguard_scan_early_begin() started, for the next start. */
static struct pkguard_scan_early *begun;

/* A new struct pkguard_scan_early, its /proc/locks read started; NULL without memory. */
static struct pkguard_scan_early *early_new(struct pkguard_ctx *ctx)
{
	struct pkguard_scan_early *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->proc_fd = pkguard_ctx_proc_fd(ctx);
	atomic_init(&e->locks_read, false);
#ifdef PKGUARD_HAVE_BPF
	e->stream_fd = -1;
	atomic_init(&e->stop_ahead, false);
#endif
	if (e->proc_fd >= 0)
		e->locks_running = thread_start(&e->locks_thread, read_locks, e) == 0;
	return e;
}

void pkguard_scan_early_begin(struct pkguard_ctx *ctx)
{
	if (!begun)
		begun = early_new(ctx);
}

void pkguard_scan_early_cancel(void)
{
	/*
	 * Not joined: the read may wait for its grace period yet. Its thread
	 * is let go, and keeps its memory (reachable from here) until we exit.
	 */
	if (begun && begun->locks_running) {
		pthread_detach(begun->locks_thread);
		begun->locks_running = false;
	} else if (begun) {
		pkguard_scan_early_free(begun);
		begun = NULL;
	}
}

int pkguard_scan_early_start(struct pkguard_ctx *ctx, struct pkguard_scan_early **early)
{
	struct pkguard_scan_early *e;

	*early = NULL;
	if (begun && begun->proc_fd == pkguard_ctx_proc_fd(ctx)) {
		e = begun;
		begun = NULL;
	} else {
		e = early_new(ctx);
		if (!e)
			return -ENOMEM;
	}
#ifdef PKGUARD_HAVE_BPF
	if (e->proc_fd >= 0 && (pkguard_ctx_maps(ctx) == PKGUARD_MAPS_AUTO ||
				pkguard_ctx_maps(ctx) == PKGUARD_MAPS_BPF))
		e->bpf_running = e->bpf_started = thread_start(&e->bpf_thread, load_bpf, e) == 0;
#endif
	*early = e;
	return 0;
}

int pkguard_scan_early_locks(struct pkguard_ctx *ctx, struct pkguard_scan_early *early,
			     struct pkguard_locktab **out)
{
	if (!early || !early->locks_running)
		return pkguard_locktab_read(ctx, out);
	pthread_join(early->locks_thread, NULL);
	early->locks_running = false;
	return pkguard_locktab_from_read(ctx, early->locks_rc, early->locks.data, early->locks.len,
					 out);
}

bool pkguard_scan_early_locks_ready(struct pkguard_scan_early *early)
{
	return !early || !early->locks_running || atomic_load(&early->locks_read);
}

#ifdef PKGUARD_HAVE_BPF
const struct maps_bpf_prep *scan_early_bpf(struct pkguard_scan_early *early)
{
	/* Its thread finishes the read it is in (AHEAD_READ). */
	atomic_store(&early->stop_ahead, true);
	if (early->bpf_running) {
		pthread_join(early->bpf_thread, NULL);
		early->bpf_running = false;
	}
	return early->bpf_started ? &early->bpf : NULL;
}

int scan_early_stream(struct pkguard_scan_early *early, struct buf *raw, bool *eof)
{
	struct buf swap = *raw;
	int fd = early->stream_fd;

	if (fd < 0)
		return -1;
	*raw = early->ahead;
	early->ahead = swap;
	early->ahead.len = 0;
	*eof = early->ahead_eof;
	early->stream_fd = -1;
	return fd;
}
#endif

void pkguard_scan_early_free(struct pkguard_scan_early *early)
{
	if (!early)
		return;
	if (early->locks_running)
		pthread_join(early->locks_thread, NULL);
	buf_release(&early->locks);
#ifdef PKGUARD_HAVE_BPF
	atomic_store(&early->stop_ahead, true);
	if (early->bpf_running)
		pthread_join(early->bpf_thread, NULL);
	if (early->stream_fd >= 0)
		close(early->stream_fd);
	buf_release(&early->ahead);
	maps_bpf_prep_release(&early->bpf);
#endif
	free(early);
}
