/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the configuration loader. It reads files by path (with
 * its ownership and mode checks), so each input is written to a private file
 * first.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pkguard/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pkguard_ctx *ctx;
	static char path[64];
	struct pkguard_config_paths paths = {path, NULL, NULL};
	struct pkguard_config *cfg;
	struct pkguard_policy policy;
	int fd;

	if (!ctx) {
		if (pkguard_ctx_new(&ctx) < 0)
			abort();
		snprintf(path, sizeof(path), "/tmp/pkguard-fuzz-config-%d.conf", (int)getpid());
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	if (pkguard_config_load(ctx, &paths, &cfg) == 0) {
		if (pkguard_config_resolve(cfg, "certbot", &policy) == 0)
			pkguard_policy_release(&policy);
		pkguard_config_free(cfg);
	}
	return 0;
}
