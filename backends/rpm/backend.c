/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * backend-rpm.so: the rpm backend as the pkguard program loads it, only on
 * an rpm root (core/cli/rpm_lazy.c): librpm and its libraries cost every
 * run 1.5 ms to load. It exports this one function (backend.map).
 */
#include <string.h>

#include "backend.h"
#include "rpmdb.h"

__attribute__((visibility("default"))) const struct pkguard_pkgdb_ops *
pkguard_rpm_backend(const char *version)
{
	return strcmp(version, PKGUARD_VERSION) == 0 ? &pkguard_rpm_ops : NULL;
}
