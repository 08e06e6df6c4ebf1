/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spawn N NEXE NLOCK EXE LOCKDIR LIB...: the benchmark's process farm.
 *
 * Forks N children. Each dlopen()s a mix of the shared objects LIB... (child
 * i loads LIB[0] when i is even, LIB[1] when i % 3 == 0, and each further one
 * by a bit of a hash of i), then:
 *   i < NEXE               execs EXE --exe-child (EXE is replaced later on disk)
 *   NEXE <= i < NEXE+NLOCK locks LOCKDIR/lock.(i-NEXE): flock-ex, posix-wr,
 *                          ofd-wr in turn
 *   the others             just sleep.
 * Prints one line per child, "PID KIND LIB0" (KIND exe|flock|posix|ofd|plain,
 * LIB0 1 when it loaded LIB[0]), then "ready", once every child has set up.
 * Stops every child (SIGTERM, then reaps it) when stdin reaches EOF or on
 * SIGTERM/SIGINT/SIGHUP, or when its own parent dies; children also get
 * SIGTERM when spawn dies (PR_SET_PDEATHSIG), so nothing outlives it. It only ever signals its own,
 * unreaped children.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
}

static void load_libs(unsigned i, int nlib, char **libs)
{
	unsigned h = i * 2654435761u;
	int j;

	for (j = 0; j < nlib; j++) {
		int want = j == 0 ? i % 2 == 0 : j == 1 ? i % 3 == 0 : (h >> (j % 32)) & 1;

		if (want && !dlopen(libs[j], RTLD_NOW | RTLD_GLOBAL))
			fprintf(stderr, "spawn: %s\n", dlerror());
	}
}

static void sleep_forever(void)
{
	for (;;)
		pause();
}

static int take_lock(const char *dir, int k)
{
	char path[4096];
	struct flock fl = {.l_whence = SEEK_SET, .l_type = F_WRLCK};
	int fd;

	snprintf(path, sizeof(path), "%s/lock.%d", dir, k);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	switch (k % 3) {
	case 0:
		return flock(fd, LOCK_EX | LOCK_NB);
	case 1:
		return fcntl(fd, F_SETLK, &fl);
	default:
		return fcntl(fd, F_OFD_SETLK, &fl);
	}
}

int main(int argc, char **argv)
{
	static const char *const lock_kinds[] = {"flock", "posix", "ofd"};
	int n, nexe, nlock, nlib, ready[2], i, got = 0;
	pid_t parent = getpid(), *pids;
	char **libs, c, buf[256];
	struct sigaction sa = {.sa_handler = on_signal};

	if (argc >= 3 && strcmp(argv[1], "--exe-child") == 0) {
		/* argv: --exe-child READYFD LIB...: we are the replaced executable. */
		int fd = atoi(argv[2]);

		if (getppid() == 1)
			return 1;
		load_libs(0, argc - 3, argv + 3);
		if (write(fd, "x", 1) != 1)
			return 1;
		close(fd);
		sleep_forever();
	}
	if (argc < 6) {
		fprintf(stderr, "usage: spawn N NEXE NLOCK EXE LOCKDIR LIB...\n");
		return 2;
	}
	n = atoi(argv[1]);
	nexe = atoi(argv[2]);
	nlock = atoi(argv[3]);
	libs = argv + 6;
	nlib = argc - 6;
	pids = calloc((size_t)n, sizeof(*pids));
	if (!pids || pipe(ready) < 0) {
		perror("spawn");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Our starter killed (even by SIGKILL): stop too, and take the children along. */
	{
		pid_t starter = getppid();

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != starter)
			stop = 1;
	}
	for (i = 0; i < n && !stop; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			break;
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			die_with_parent(parent);
			close(ready[0]);
			if (i < nexe) {
				char fdarg[16];
				char **av = calloc((size_t)nlib + 4, sizeof(*av));
				int j;

				snprintf(fdarg, sizeof(fdarg), "%d", ready[1]);
				av[0] = "bench-demo";
				av[1] = "--exe-child";
				av[2] = fdarg;
				for (j = 0; j < nlib && j < 2;
				     j++) /* the exe children: LIB[0], LIB[1] */
					av[3 + j] = libs[j];
				execv(argv[4], av);
				perror(argv[4]);
				_exit(1);
			}
			load_libs((unsigned)i, nlib, libs);
			if (i < nexe + nlock && take_lock(argv[5], i - nexe) < 0) {
				perror("lock");
				_exit(1);
			}
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			close(ready[1]);
			sleep_forever();
		}
		pids[i] = pid;
	}
	n = i;
	close(ready[1]);
	while (got < n && !stop) {
		ssize_t r = read(ready[0], &c, 1);

		if (r == 1)
			got++;
		else if (r == 0 || errno != EINTR)
			break;
	}
	if (got == n && !stop) {
		for (i = 0; i < n; i++)
			printf("%d %s %d\n", (int)pids[i],
			       i < nexe		  ? "exe"
			       : i < nexe + nlock ? lock_kinds[(i - nexe) % 3]
						  : "plain",
			       i >= nexe && i % 2 == 0);
		printf("ready\n");
		fflush(stdout);
		while (!stop) {
			ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));

			if (r == 0 || (r < 0 && errno != EINTR))
				break;
		}
	} else {
		fprintf(stderr, "spawn: only %d of %d children got ready\n", got, n);
	}
	for (i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	return got == n ? 0 : 1;
}
