/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Configuration, state and runs, as the global options name them. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

/* The wait's countdown, on a terminal only; cleared when the wait ends (WHAT NULL). */
static void wait_progress(void *userdata, const char *what, uint64_t left_ms)
{
	(void)userdata;
	if (!isatty(STDERR_FILENO))
		return;
	if (!what)
		fputs("\r\033[K", stderr);
	else
		fprintf(stderr, "\rpkguard: waiting for %s: %llum%02llus left\033[K", what,
			(unsigned long long)(left_ms / 60000),
			(unsigned long long)(left_ms / 1000 % 60));
	fflush(stderr);
}

struct pkguard_run_opts cli_run_opts(struct cli *cli, enum pkguard_run_mode mode, const char *entry)
{
	return (struct pkguard_run_opts){
		.mode = mode,
		.entry = entry,
		.config_path = cli->config_path,
		.state_path = cli->state_path,
		.backend = cli->backend,
		.wait_progress = wait_progress,
	};
}

int cli_load_config(struct cli *cli, struct pkguard_config **cfg)
{
	int rc = pkguard_config_load_file(cli->ctx, cli->config_path, cfg);

	if (rc == -PKGUARD_EPARSE || rc == -PKGUARD_EUNSAFE)
		rc = -PKGUARD_EUSAGE; /* a configuration error: exit 2 */
	return rc;
}

int cli_open_state(struct cli *cli, struct pkguard_state **st)
{
	return pkguard_run_open_state(cli->ctx, cli->state_path, st);
}
