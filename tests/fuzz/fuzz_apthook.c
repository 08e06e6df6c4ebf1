/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: apt's DPkg::Pre-Install-Pkgs stream (backends/dpkg/
 * apthook.c, compiled into this target: the fuzz build has no dpkg backend).
 * Besides memory errors it checks the parser's contract on every input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apthook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A target name is "name" or "name:arch": no byte that could break a line or a field. */
static int name_ok(const char *name)
{
	const char *colon = strchr(name, ':');

	return name[0] != '\0' && strcspn(name, " \t\n\r=/") == strlen(name) &&
	       (!colon || (colon != name && colon[1] != '\0' && !strchr(colon + 1, ':')));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkguard_apt_hook h;
	size_t i, j;
	int rc;

	rc = pkguard_apt_hook_parse((const char *)data, size, &h);
	if (memchr(h.error, '\0', sizeof(h.error)) == NULL)
		abort();
	if (rc < 0) {
		/* A failure says why and hands out nothing. */
		if (h.error[0] == '\0' || h.n_targets != 0 || h.targets || h.native_arch)
			abort();
		pkguard_apt_hook_release(&h);
		return 0;
	}
	if (rc != 0 || h.error[0] != '\0' || (h.version != 2 && h.version != 3))
		abort();
	if (h.n_targets > h.n_lines || h.n_fresh + h.n_configure > h.n_lines)
		abort();
	for (i = 0; i < h.n_targets; i++) {
		const struct pkguard_apt_target *t = &h.targets[i];

		if (!t->name || !name_ok(t->name) || !t->old_version)
			abort();
		if (t->remove && (t->new_version || t->new_arch))
			abort();
		if ((h.version == 2) != (t->old_arch == NULL))
			abort();
		if (i > 0 && t->line <= h.targets[i - 1].line)
			abort();
		/* One target per name (quadratic: small inputs only). */
		for (j = 0; h.n_targets < 256 && j < i; j++) {
			if (strcmp(h.targets[j].name, t->name) == 0)
				abort();
		}
	}
	pkguard_apt_hook_release(&h);
	return 0;
}
