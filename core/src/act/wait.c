/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pkguard/act.h"
#include "pkguard/escape.h"
#include "pkguard/locks.h"
#include "pkguard/proc.h"
#include "util/internal.h"

/* Lockfiles are re-probed this often: a few wake-ups a second cost nothing. */
#define LOCK_POLL_MS 200
#define PROGRESS_MS  1000

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* 0 when PID is still the process that started at START_TIME, 1 when it is gone. */
static int same_process(struct pkguard_ctx *ctx, pid_t pid, uint64_t start_time)
{
	struct pkguard_stat st;
	struct buf b = {0};
	char name[32];
	int rc;

	snprintf(name, sizeof(name), "%d/stat", (int)pid);
	rc = buf_read_at(&b, pkguard_ctx_proc_fd(ctx), name);
	if (rc == 0)
		rc = pkguard_stat_parse(b.data, b.len, &st) < 0 || st.start_time != start_time ||
		     st.state == 'Z';
	else
		rc = 1;
	buf_release(&b);
	return rc;
}

int pkguard_lockfile_held(struct pkguard_ctx *ctx, const struct pkguard_wait_lock *lock)
{
	struct pkguard_lock_probe pr;
	struct pkguard_locktab *tab;
	size_t i;
	int rc;

	rc = pkguard_lock_probe(ctx, lock->path, &pr);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (pr.held)
		return 1;
	/* flock() locks are invisible to F_OFD_GETLK: /proc/locks has them. */
	rc = pkguard_locktab_read(ctx, &tab);
	if (rc < 0)
		return rc;
	rc = 0;
	for (i = 0; i < tab->n_locks; i++) {
		const struct pkguard_lock *l = &tab->locks[i];

		if (!l->waiter && l->kind != PKGUARD_LOCK_LEASE && l->id.ino == pr.id.ino &&
		    l->id.dev == pr.id.dev)
			rc = 1;
	}
	pkguard_locktab_free(tab);
	return rc;
}

/* "sleep (1234), /etc/x/.lock": what is still there, escaped, cut to SIZE. */
static void describe_left(const struct pkguard_wait_spec *spec, const int *pidfds, const bool *held,
			  char *out, size_t size)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < spec->n_procs && len + 1 < size; i++) {
		char *comm;

		if (pidfds[i] < 0)
			continue;
		comm = pkguard_escape(spec->procs[i].comm, strlen(spec->procs[i].comm));
		len += (size_t)snprintf(out + len, size - len, "%s%s (%d)", len ? ", " : "",
					comm ? comm : "?", (int)spec->procs[i].pid);
		free(comm);
	}
	for (i = 0; i < spec->n_locks && len + 1 < size; i++) {
		char *path;

		if (!held[i])
			continue;
		path = pkguard_escape(spec->locks[i].path, strlen(spec->locks[i].path));
		len += (size_t)snprintf(out + len, size - len, "%slock on %s", len ? ", " : "",
					path ? path : "?");
		free(path);
	}
}

int pkguard_wait(struct pkguard_ctx *ctx, const struct pkguard_wait_spec *spec)
{
	struct pollfd *pfds = NULL;
	int *pidfds = NULL;
	bool *held = NULL;
	uint64_t last_progress = 0;
	size_t i;
	int rc = -ENOMEM;

	pidfds = malloc((spec->n_procs + 1) * sizeof(*pidfds));
	pfds = malloc((spec->n_procs + 1) * sizeof(*pfds));
	held = calloc(spec->n_locks + 1, sizeof(*held));
	if (!pidfds || !pfds || !held) {
		rc = pkguard_fail(ctx, -ENOMEM, "cannot wait");
		goto out;
	}
	for (i = 0; i < spec->n_procs; i++)
		pidfds[i] = -1;
	for (i = 0; i < spec->n_procs; i++) {
		pidfds[i] = pidfd_open(spec->procs[i].pid);
		if (pidfds[i] < 0 && errno != ESRCH) {
			rc = pkguard_fail(ctx, -errno, "cannot watch process %d",
					  (int)spec->procs[i].pid);
			goto out;
		}
		/* Opened after the scan: make sure the pid still names the process we saw. */
		if (pidfds[i] >= 0 &&
		    same_process(ctx, spec->procs[i].pid, spec->procs[i].start_time) != 0) {
			close(pidfds[i]);
			pidfds[i] = -1;
		}
	}

	for (;;) {
		uint64_t now = pkguard_now_ns(), timeout_ms;
		bool any_held = false;
		size_t n = 0;
		char left[512];

		for (i = 0; i < spec->n_locks; i++) {
			rc = pkguard_lockfile_held(ctx, &spec->locks[i]);
			if (rc < 0)
				goto out;
			held[i] = rc == 1;
			any_held |= held[i];
		}
		for (i = 0; i < spec->n_procs; i++) {
			if (pidfds[i] < 0)
				continue;
			pfds[n].fd = pidfds[i];
			pfds[n].events = POLLIN;
			pfds[n].revents = 0;
			n++;
		}
		if (n == 0 && !any_held) {
			rc = 0;
			goto out;
		}
		if (now >= spec->deadline_ns) {
			describe_left(spec, pidfds, held, left, sizeof(left));
			rc = pkguard_fail(ctx, 1, "still in use after the wait: %s", left);
			goto out;
		}
		if (spec->progress && now - last_progress >= PROGRESS_MS * 1000000ull) {
			describe_left(spec, pidfds, held, left, sizeof(left));
			spec->progress(spec->userdata, left, (spec->deadline_ns - now) / 1000000);
			last_progress = now;
		}
		timeout_ms = (spec->deadline_ns - now + 999999) / 1000000;
		if (any_held && timeout_ms > LOCK_POLL_MS)
			timeout_ms = LOCK_POLL_MS;
		if (spec->progress && timeout_ms > PROGRESS_MS)
			timeout_ms = PROGRESS_MS;
		if (poll(pfds, n, (int)timeout_ms) < 0 && errno != EINTR) {
			rc = pkguard_fail(ctx, -errno, "cannot wait");
			goto out;
		}
		/* A pidfd turns readable when its process exits. */
		for (i = 0; i < spec->n_procs; i++) {
			size_t j;

			if (pidfds[i] < 0)
				continue;
			for (j = 0; j < n; j++) {
				if (pfds[j].fd == pidfds[i] &&
				    (pfds[j].revents & (POLLIN | POLLHUP))) {
					close(pidfds[i]);
					pidfds[i] = -1;
					break;
				}
			}
		}
	}
out:
	for (i = 0; pidfds && pfds && i < spec->n_procs; i++) {
		if (pidfds[i] >= 0)
			close(pidfds[i]);
	}
	free(pidfds);
	free(pfds);
	free(held);
	return rc;
}
