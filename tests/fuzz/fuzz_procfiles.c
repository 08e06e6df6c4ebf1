/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: /proc/PID/stat, status and cgroup text. */
#include <stddef.h>
#include <stdint.h>

#include "pkguard/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkguard_stat st;
	char unit[128];
	uid_t uid, euid;

	pkguard_stat_parse((const char *)data, size, &st);
	pkguard_status_uids((const char *)data, size, &uid, &euid);
	pkguard_cgroup_unit((const char *)data, size, unit, sizeof(unit));
	return 0;
}
