/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <pthread.h>
#include <signal.h>

#include "util/internal.h"

int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all;
	pthread_attr_t attr;
	int rc;

	rc = pthread_attr_init(&attr);
	if (rc)
		return rc;
	/* pkguard's threads need little stack: a few path buffers per call. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	sigfillset(&all);
#ifdef PKGUARD_HAVE_ATTR_SIGMASK
	/* Set on the new thread alone: the caller's mask is not touched, even briefly. */
	rc = pthread_attr_setsigmask_np(&attr, &all);
	if (rc == 0)
		rc = pthread_create(thread, &attr, fn, arg);
#else
	/* Before glibc 2.32: the new thread inherits it; ours is put back at once. */
	sigset_t old;

	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(thread, &attr, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
#endif
	pthread_attr_destroy(&attr);
	return rc;
}
