/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What backend-rpm.so exports (backend.c) to the pkguard program that
 * loads it (core/cli/rpm_lazy.c).
 */
#ifndef PKGUARD_RPM_BACKEND_H
#define PKGUARD_RPM_BACKEND_H

#include "pkguard/pkgdb.h"

#define PKGUARD_RPM_BACKEND_SYMBOL "pkguard_rpm_backend"

/*
 * The rpm backend, for a pkguard program of the same version (VERSION):
 * the two share the context's layout. NULL for another version.
 */
const struct pkguard_pkgdb_ops *pkguard_rpm_backend(const char *version);

#endif
