/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: one /proc/PID/maps line. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pkguard/proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkguard_maps_entry e;

	if (pkguard_maps_parse((const char *)data, size, &e) == 0) {
		/* The label and range must lie inside the input. */
		if (e.label < (const char *)data ||
		    e.label + e.label_len > (const char *)data + size || e.range_len > size)
			__builtin_trap();
	}
	return 0;
}
