/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: /proc/PID/stat, status and cgroup text, and the BPF iterator's cgroups. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkguard/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkguard_stat st;
	char unit[128];
	uid_t uid, euid;

	char *up;

	pkguard_stat_parse((const char *)data, size, &st);
	pkguard_status_uids((const char *)data, size, &uid, &euid);
	pkguard_cgroup_unit((const char *)data, size, unit, sizeof(unit));
	/* The two NUL-terminated texts as the iterator writes them: split at the first NUL. */
	up = malloc(size + 2);
	if (!up)
		return 0;
	memcpy(up, data, size);
	up[size] = up[size + 1] = '\0';
	pkguard_cgroup_unit_up(up, up + strlen(up) + 1, unit, sizeof(unit));
	free(up);
	return 0;
}
