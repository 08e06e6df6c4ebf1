/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-lock KIND FILE [--fork]: lock FILE, print "ready PID", wait until stdin
 * reaches EOF or a signal ends the process. KIND is flock-sh, flock-ex,
 * posix-rd, posix-wr, ofd-rd or ofd-wr; read locks and flock open FILE
 * O_RDONLY, write locks O_RDWR.
 *
 * --fork: a child keeps the lock and prints "ready CHILDPID"; the parent
 * exits once the child is ready. flock and OFD locks belong to the open file
 * description, so the parent takes them and the child inherits them: /proc/locks
 * then names the dead parent (flock) or -1 (OFD). POSIX locks are not
 * inherited across fork(), so for those the child takes the lock itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int take(const char *kind, int fd)
{
	struct flock fl = {.l_whence = SEEK_SET}; /* l_start 0, l_len 0: the whole file */
	bool rd = strcmp(kind + strlen(kind) - 3, "-rd") == 0;

	/* Never block: a conflicting lock is the test's mistake, say so at once. */
	if (strncmp(kind, "flock-", 6) == 0)
		return flock(fd, (strcmp(kind, "flock-sh") == 0 ? LOCK_SH : LOCK_EX) | LOCK_NB);
	fl.l_type = rd ? F_RDLCK : F_WRLCK;
	/* OFD locks need l_pid 0; the kernel reports them with pid -1. */
	return fcntl(fd, strncmp(kind, "ofd-", 4) == 0 ? F_OFD_SETLK : F_SETLK, &fl);
}

int main(int argc, char **argv)
{
	static const char *const kinds[] = {"flock-sh", "flock-ex", "posix-rd",
					    "posix-wr", "ofd-rd",   "ofd-wr"};
	bool fork_child = argc == 4 && strcmp(argv[3], "--fork") == 0;
	bool known = false, posix;
	int fd, sync[2] = {-1, -1};
	char buf[256];
	size_t i;
	pid_t pid;

	for (i = 0; argc >= 3 && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		known |= strcmp(argv[1], kinds[i]) == 0;
	if (!known || (argc != 3 && !fork_child)) {
		fprintf(stderr, "usage: t-lock flock-sh|flock-ex|posix-rd|posix-wr|ofd-rd|ofd-wr "
				"FILE [--fork]\n");
		return 2;
	}
	posix = strncmp(argv[1], "posix-", 6) == 0;
	fd = open(argv[2], strcmp(argv[1] + strlen(argv[1]) - 3, "-wr") == 0 ? O_RDWR : O_RDONLY);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	if (!(fork_child && posix) && take(argv[1], fd) < 0) {
		perror("lock");
		return 1;
	}
	if (fork_child) {
		if (pipe(sync) < 0 || (pid = fork()) < 0) {
			perror("fork");
			return 1;
		}
		if (pid > 0) {
			/* A byte: the child is ready. EOF: it failed (its error is on stderr). */
			close(sync[1]);
			return read(sync[0], buf, 1) == 1 ? 0 : 1;
		}
		close(sync[0]);
		if (posix && take(argv[1], fd) < 0) {
			perror("lock");
			return 1;
		}
	}
	printf("ready %d\n", (int)getpid());
	if (fflush(stdout) == EOF)
		return 1;
	if (fork_child && (write(sync[1], "r", 1) != 1 || close(sync[1]) < 0))
		return 1;
	/* Tests hold our stdin open (a FIFO) and close it to let us go. */
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	return 0;
}
