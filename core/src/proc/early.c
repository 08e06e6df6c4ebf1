/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The part of a scan that does not depend on what it looks for, on threads
 * of its own (see pkguard_scan_early_start() in pkguard/proc.h). Each thread
 * writes only its own fields, read after pthread_join(); neither touches
 * the context, whose messages belong to the caller's thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pkguard/locks.h"
#include "pkguard/proc.h"
#include "util/internal.h"
#ifdef PKGUARD_HAVE_BPF
#include "proc/early.h"
#endif

struct pkguard_scan_early {
	int proc_fd;

	pthread_t locks_thread;
	bool locks_running; /* and not yet used */
	struct buf locks;   /* the text of /proc/locks */
	int locks_rc;	    /* of reading it */

#ifdef PKGUARD_HAVE_BPF
	pthread_t bpf_thread;
	bool bpf_running, bpf_started;
	struct maps_bpf_prep bpf;
#endif
};

static void *read_locks(void *arg)
{
	struct pkguard_scan_early *e = arg;

	e->locks_rc = buf_read_at(&e->locks, e->proc_fd, "locks");
	return NULL;
}

#ifdef PKGUARD_HAVE_BPF
static void *load_bpf(void *arg)
{
	struct pkguard_scan_early *e = arg;

	maps_bpf_prepare(e->proc_fd, &e->bpf);
	return NULL;
}
#endif

int pkguard_scan_early_start(struct pkguard_ctx *ctx, struct pkguard_scan_early **early)
{
	struct pkguard_scan_early *e;

	*early = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->proc_fd = pkguard_ctx_proc_fd(ctx);
	if (e->proc_fd >= 0)
		e->locks_running = thread_start(&e->locks_thread, read_locks, e) == 0;
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

#ifdef PKGUARD_HAVE_BPF
const struct maps_bpf_prep *scan_early_bpf(struct pkguard_scan_early *early)
{
	if (early->bpf_running) {
		pthread_join(early->bpf_thread, NULL);
		early->bpf_running = false;
	}
	return early->bpf_started ? &early->bpf : NULL;
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
	if (early->bpf_running)
		pthread_join(early->bpf_thread, NULL);
	maps_bpf_prep_release(&early->bpf);
#endif
	free(early);
}
