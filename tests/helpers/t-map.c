/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-map FILE: map FILE (PROT_READ, MAP_PRIVATE) and close its fd, so that the
 * mapping is the only trace of it in /proc/PID; print "ready PID" and wait
 * until stdin reaches EOF or a signal ends the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct stat st;
	char buf[256];
	size_t len;
	void *p;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: t-map FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(argv[1]);
		return 1;
	}
	/* A zero-length mapping is EINVAL; one page past EOF maps fine (never touched). */
	len = st.st_size > 0 ? (size_t)st.st_size : 1;
	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	close(fd);
	printf("ready %d\n", (int)getpid());
	if (fflush(stdout) == EOF)
		return 1;
	/* Tests hold our stdin open (a FIFO) and close it to let us go. */
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	munmap(p, len);
	return 0;
}
