/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-statedb write DB COUNT: record COUNT runs (0: until killed), each a run,
 * three targets, a needs-restart list and the run's end, in their own
 * transactions, and print the run's id on stdout once all of it is committed.
 *
 * t-statedb read DB TOTAL: list the runs again and again until there are
 * TOTAL of them, checking that their number never shrinks nor exceeds TOTAL;
 * print the number of passes. Gives up after 30 s.
 *
 * Any failure, or any message logged by the core: the text on stderr, exit
 * status 1. Never installed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkguard/context.h"
#include "pkguard/state.h"

#define READ_TIMEOUT_NS (30ull * 1000000000ull)

static void stderr_logger(void *userdata, enum pkguard_log_level level, const char *msg)
{
	int *logged = userdata;

	fprintf(stderr, "t-statedb: logged: %s\n", msg);
	(*logged)++;
}

static int write_runs(struct pkguard_state *st, unsigned long count)
{
	struct pkguard_run_info info = {.entry = "hook apt", .backend = "dpkg", .root = "/"};
	struct pkguard_state_target t = {
		.new_version = "2.0", .action = "allow", .origin = "default"};
	struct pkguard_state_finding f = {
		.package = "libfoo", .start_time = 1, .comm = "daemon", .reason = "map"};
	static const char *const names[] = {"libfoo", "bar", "baz"};
	unsigned long i;
	int64_t id;
	size_t k;

	for (i = 0; count == 0 || i < count; i++) {
		if (pkguard_state_run_begin(st, &info, &id) < 0)
			return -1;
		for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			t.name = names[k];
			if (pkguard_state_add_target(st, id, &t) < 0)
				return -1;
		}
		/* A transaction that reads before it writes (threats.md #15). */
		f.pid = (pid_t)(i % 1000);
		if (pkguard_state_needs_restart_set(st, id, &f, 1) < 0)
			return -1;
		if (pkguard_state_run_end(st, id, "allow", NULL) < 0)
			return -1;
		if (printf("%" PRId64 "\n", id) < 0 || fflush(stdout) != 0)
			return -1;
	}
	return 0;
}

static int count_row(void *userdata, const struct pkguard_state_row *row)
{
	(*(unsigned long *)userdata)++;
	return 0;
}

static int read_runs(struct pkguard_state *st, unsigned long total)
{
	uint64_t deadline = pkguard_now_ns() + READ_TIMEOUT_NS;
	unsigned long n, last = 0, passes = 0;

	do {
		n = 0;
		if (pkguard_state_list(st, PKGUARD_STATE_RUNS, 0, count_row, &n) < 0)
			return -1;
		passes++;
		if (n < last || n > total) {
			fprintf(stderr, "t-statedb: %lu runs after %lu\n", n, last);
			return -1;
		}
		last = n;
		if (pkguard_now_ns() > deadline) {
			fprintf(stderr, "t-statedb: only %lu of %lu runs after 30 s\n", n, total);
			return -1;
		}
	} while (n < total);
	printf("%lu passes\n", passes);
	return 0;
}

int main(int argc, char **argv)
{
	struct pkguard_state *st = NULL;
	struct pkguard_ctx *ctx = NULL;
	unsigned long n;
	int logged = 0, rc;
	char *end;

	if (argc != 4 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0)) {
		fprintf(stderr, "usage: t-statedb write DB COUNT | read DB TOTAL\n");
		return 2;
	}
	n = strtoul(argv[3], &end, 10);
	if (*end != '\0') {
		fprintf(stderr, "t-statedb: bad number '%s'\n", argv[3]);
		return 2;
	}
	if (pkguard_ctx_new(&ctx) < 0) {
		fprintf(stderr, "t-statedb: out of memory\n");
		return 1;
	}
	pkguard_ctx_set_logger(ctx, stderr_logger, &logged);
	rc = pkguard_state_open(ctx, argv[2], &st);
	/* 1 (a quarantined file) is a failure here too: nothing may corrupt the file. */
	if (rc == 0)
		rc = strcmp(argv[1], "write") == 0 ? write_runs(st, n) : read_runs(st, n);
	if (rc != 0)
		fprintf(stderr, "t-statedb: %s\n", pkguard_ctx_errmsg(ctx));
	pkguard_state_close(st);
	pkguard_ctx_free(ctx);
	return rc != 0 || logged ? 1 : 0;
}
