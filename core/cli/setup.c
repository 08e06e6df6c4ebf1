/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Configuration and state, as the global options name them. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_load_config(struct cli *cli, struct pkguard_config **cfg)
{
	struct pkguard_config_paths paths = pkguard_config_default_paths;
	char dir[PATH_MAX], dropins[PATH_MAX];
	int rc;

	if (cli->config_path) {
		/* --config FILE: FILE and the drop-ins beside it, nothing installed. */
		snprintf(dir, sizeof(dir), "%s", cli->config_path);
		snprintf(dropins, sizeof(dropins), "%s/policy.d", dirname(dir));
		paths = (struct pkguard_config_paths){cli->config_path, NULL, dropins};
	}
	rc = pkguard_config_load(cli->ctx, &paths, cfg);
	if (rc == -PKGUARD_EPARSE || rc == -PKGUARD_EUNSAFE)
		rc = -PKGUARD_EUSAGE; /* a configuration error: exit 2 */
	return rc;
}

int cli_open_state(struct cli *cli, struct pkguard_state **st)
{
	const char *path = cli->state_path ? cli->state_path : PKGUARD_STATE_DEFAULT_PATH;
	int rc;

	/* 1: a corrupt file was moved aside; the state module logged where, loudly. */
	rc = pkguard_state_open(cli->ctx, path, st);
	return rc == 1 ? 0 : rc;
}
