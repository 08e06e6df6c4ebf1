/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the whole of /proc/locks, and fdinfo "lock:" lines. */
#include <stddef.h>
#include <stdint.h>

#include "pkguard/locks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ignore(void *userdata, const struct pkguard_lock *lock)
{
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkguard_locktab *tab = NULL;

	if (pkguard_locktab_parse(NULL, (const char *)data, size, &tab) == 0)
		pkguard_locktab_free(tab);
	pkguard_fdinfo_locks((const char *)data, size, ignore, NULL);
	return 0;
}
