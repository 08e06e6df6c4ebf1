/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-lockslater: pkguard_inspect() scans before it has the lock table when
 * reading /proc/locks is late (core/src/run/inspect.c), and scans again
 * once a lock turns out to be on a file of the targets. So the holders it
 * reports must not depend on the order: for a POSIX, an OFD and a flock
 * lock held by children of this test on a file of the targets (a file they
 * only have open, not mapped), the inspection with the table late names
 * the same holders as the one with it first, and says that it scanned
 * again; with the locked files outside the targets, it does not. The late
 * table comes from the /proc/locks read started early, as a check's does,
 * and from one made when asked.
 *
 * Root only (exit 77 otherwise): other processes' fdinfo.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkguard/context.h"
#include "pkguard/fileset.h"
#include "pkguard/proc.h"
#include "pkguard/run.h"

#include "expect.h"

/* Did the inspection say it scanned again? */
static bool rescanned;

static void logger(void *userdata, enum pkguard_log_level level, const char *msg)
{
	(void)userdata;
	(void)level;
	if (strstr(msg, "scanning again with the locks"))
		rescanned = true;
}

enum kind { POSIX, OFD, FLOCK, N_KINDS };
static const char *const kind_names[N_KINDS] = {"POSIX", "OFD", "flock"};

/* A child that opens PATH, locks it the KIND way, says so on READY, and waits. */
static pid_t holder(const char *path, enum kind kind)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		int fd = open(path, O_RDWR | O_CLOEXEC);

		close(ready[0]);
		if (fd < 0 || (kind == POSIX && fcntl(fd, F_SETLK, &fl) < 0) ||
		    (kind == OFD && fcntl(fd, F_OFD_SETLK, &fl) < 0) ||
		    (kind == FLOCK && flock(fd, LOCK_EX | LOCK_NB) < 0))
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (pid < 0 || read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return pid;
}

/* The pids with a lock use in TAB, as a sorted list in OUT ("" for none). */
static void lock_holders(const struct pkguard_proctab *tab, char *out, size_t size)
{
	size_t i, u, len = 0;

	out[0] = '\0';
	for (i = 0; tab && i < tab->n_procs; i++) {
		const struct pkguard_proc *p = &tab->procs[i];

		for (u = p->first_use; u < p->first_use + p->n_uses; u++) {
			if (tab->uses[u].kind == PKGUARD_USE_LOCK) {
				len += (size_t)snprintf(out + len, size - len, "%d ", (int)p->pid);
				break;
			}
		}
		if (len >= size)
			break;
	}
}

/*
 * Inspect the files PATHS[0..N) as one target, the table LATER or not,
 * the /proc/locks read started EARLY or not: the lock holders into OUT.
 */
static int inspect(struct pkguard_ctx *ctx, const char *const *paths, size_t n, bool later,
		   bool early, char *out, size_t size)
{
	struct pkguard_inspection ins = {.locks_later = later};
	size_t target, i;
	int rc;

	rescanned = false;
	rc = pkguard_fileset_new(ctx, &ins.fs);
	if (rc == 0)
		rc = pkguard_fileset_add_target(ins.fs, "demo", NULL, "1.0", NULL, &target);
	for (i = 0; rc == 0 && i < n; i++)
		rc = pkguard_fileset_add_path(ins.fs, target, paths[i]);
	if (rc == 0 && early)
		rc = pkguard_scan_early_start(ctx, &ins.early);
	if (rc == 0)
		rc = pkguard_inspect(ctx, &ins);
	if (rc == 0)
		lock_holders(ins.procs, out, size);
	pkguard_inspection_release(&ins);
	return rc;
}

int main(void)
{
	char dir[] = "/tmp/t-lockslater.XXXXXX", locked[N_KINDS][256], free_path[256];
	struct pkguard_ctx *ctx = NULL;
	pid_t kids[N_KINDS];
	int k, e, fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		fprintf(stderr, "t-lockslater: needs root\n");
		return 77;
	}
	if (!mkdtemp(dir) || pkguard_ctx_new(&ctx) < 0)
		return 1;
	pkguard_ctx_set_logger(ctx, logger, NULL);
	pkguard_ctx_set_log_level(ctx, PKGUARD_LOG_DEBUG);
	snprintf(free_path, sizeof(free_path), "%s/free", dir);
	fd = open(free_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return 1;
	close(fd);
	for (k = 0; k < N_KINDS; k++) {
		snprintf(locked[k], sizeof(locked[k]), "%s/locked-%s", dir, kind_names[k]);
		fd = open(locked[k], O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			return 1;
		close(fd);
		kids[k] = holder(locked[k], (enum kind)k);
		if (kids[k] < 0)
			return 1;
	}

	for (k = 0; k < N_KINDS; k++) {
		const char *const paths[2] = {locked[k], free_path};
		char want[32], first[256], later[256];
		bool again;

		snprintf(want, sizeof(want), "%d ", (int)kids[k]);
		expect(inspect(ctx, paths, 2, false, false, first, sizeof(first)) == 0 &&
			       strcmp(first, want) == 0,
		       "%s lock, table first: holder %s (want %s)", kind_names[k], first, want);
		for (e = 0; e < 2; e++) {
			const char *how = e ? "read early" : "read when asked";

			expect(inspect(ctx, paths, 2, true, e, later, sizeof(later)) == 0 &&
				       strcmp(later, first) == 0,
			       "%s lock, table late (%s): holder %s, as with it first",
			       kind_names[k], how, later);
			again = rescanned;
			expect(again, "%s lock, table late (%s): scanned again", kind_names[k],
			       how);
		}
	}
	/* Locked files, but none of the targets': one scan, no holder. */
	{
		const char *const paths[1] = {free_path};
		char out[256];

		for (e = 0; e < 2; e++) {
			expect(inspect(ctx, paths, 1, true, e, out, sizeof(out)) == 0 &&
				       out[0] == '\0' && !rescanned,
			       "no target file locked, table late (%s): no holder (%s), one scan",
			       e ? "read early" : "read when asked", out);
		}
	}

	for (k = 0; k < N_KINDS; k++) {
		kill(kids[k], SIGKILL);
		waitpid(kids[k], NULL, 0);
		unlink(locked[k]);
	}
	unlink(free_path);
	rmdir(dir);
	pkguard_ctx_free(ctx);
	printf("%s\n", failures ? "t-lockslater: FAILED" : "t-lockslater: all passed");
	return failures ? 1 : 0;
}
