/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pairs N A... -- B...: run command A and command B one after the other, N
 * times (A first in odd pairs, B first in even ones), and print
 * "MEDIAN_A MEDIAN_B RATIO LOW HIGH" in seconds: the median wall time of
 * each, and the median, lowest and highest of the pairs' ratios B/A.
 *
 * hyperfine times one command's runs, then the next command's: a machine
 * that is slower for a while (another guest on the host, a kernel thread)
 * then moves a ratio between two tools. A pair runs both within a second
 * or so, and the median of the pairs' ratios is what a ratio goal reads.
 * Both are started the same way (fork, execvp, output to /dev/null).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The wall time of one run of ARGV, or a negative value when it could not run. */
static double run(char **argv)
{
	double t0 = now();
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 127))
		return -1;
	return now() - t0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	char **a = argv + 2, **b = NULL;
	double *ta, *tb, *ratio;
	int n, i;

	if (argc < 5 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: pairs N A... -- B...\n");
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			argv[i] = NULL;
			b = argv + i + 1;
			break;
		}
	}
	if (!b || !*a || !*b) {
		fprintf(stderr, "usage: pairs N A... -- B...\n");
		return 2;
	}
	ta = calloc((size_t)n, sizeof(*ta));
	tb = calloc((size_t)n, sizeof(*tb));
	ratio = calloc((size_t)n, sizeof(*ratio));
	if (!ta || !tb || !ratio)
		return 1;
	for (i = 0; i < n; i++) {
		if (i % 2 == 0) {
			ta[i] = run(a);
			tb[i] = run(b);
		} else {
			tb[i] = run(b);
			ta[i] = run(a);
		}
		if (ta[i] <= 0 || tb[i] <= 0) {
			fprintf(stderr, "pairs: cannot run %s\n", ta[i] <= 0 ? a[0] : b[0]);
			return 1;
		}
		ratio[i] = tb[i] / ta[i];
	}
	printf("%.6f %.6f", median(ta, n), median(tb, n));
	printf(" %.3f", median(ratio, n));
	printf(" %.3f %.3f\n", ratio[0], ratio[n - 1]); /* sorted by median() */
	return 0;
}
