/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-daemon HELPER [SECONDS]: the shape of lightningd or postfix's master.
 * Print "ready PID", then every SECONDS (default 2) fork and exec HELPER from
 * disk, wait for it and log "ran HELPER: status N" on stderr; stop when stdin
 * reaches EOF or a signal ends the process. Nothing else is written to stdout
 * after "ready": tests may close their end of it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
	long seconds = argc == 3 ? strtol(argv[2], NULL, 10) : 2;
	char buf[256];
	int status;
	pid_t pid;

	if (argc < 2 || argc > 3 || seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "usage: t-daemon HELPER [SECONDS]\n");
		return 2;
	}
	printf("ready %d\n", (int)getpid());
	if (fflush(stdout) == EOF)
		return 1;
	for (;;) {
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execv(argv[1], (char *[]){argv[1], NULL});
			perror(argv[1]);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0) {
			if (errno != EINTR) {
				perror("waitpid");
				return 1;
			}
		}
		fprintf(stderr, "ran %s: status %d\n", argv[1],
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		/* The interval doubles as the wait for EOF on stdin. */
		if (poll(&in, 1, (int)seconds * 1000) > 0) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n == 0 || (n < 0 && errno != EINTR))
				return 0;
		}
	}
}
