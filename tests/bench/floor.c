/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * floor [-v]: the least any /proc-based answer costs: read every
 * /proc/PID/maps to the end and stat every /proc/PID/exe, nothing else.
 * -v: print "PROCESSES MAPPINGS" (lines of maps) on stdout.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	unsigned long procs = 0, lines = 0;
	struct dirent *d;
	struct stat st;
	char path[300];
	DIR *dir = opendir("/proc");

	if (!dir) {
		perror("/proc");
		return 1;
	}
	while ((d = readdir(dir))) {
		ssize_t r;
		int fd;

		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/exe", d->d_name);
		(void)stat(path, &st);
		snprintf(path, sizeof(path), "/proc/%s/maps", d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		procs++;
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < r; i++)
				lines += buf[i] == '\n';
		close(fd);
	}
	closedir(dir);
	if (argc > 1 && strcmp(argv[1], "-v") == 0)
		printf("%lu %lu\n", procs, lines);
	return 0;
}
