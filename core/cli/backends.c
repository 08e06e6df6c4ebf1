/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The package-database backends compiled into this program. */
#include <stddef.h>
#include <string.h>

#include "pkguard/pkgdb.h"
#ifdef PKGUARD_WITH_DPKG
#include "dpkgdb.h"
#endif
#ifdef PKGUARD_WITH_RPM
/* rpm_lazy.c: the rpm backend, loaded on first use. */
extern const struct pkguard_pkgdb_ops pkguard_rpm_lazy_ops;
#endif

const struct pkguard_pkgdb_ops *const pkguard_pkgdb_backends[] = {
#ifdef PKGUARD_WITH_DPKG
	&pkguard_dpkg_ops,
#endif
#ifdef PKGUARD_WITH_RPM
	&pkguard_rpm_lazy_ops,
#endif
	NULL,
};

const struct pkguard_pkgdb_ops *pkguard_pkgdb_find(const char *name)
{
	size_t i;

	for (i = 0; pkguard_pkgdb_backends[i]; i++) {
		if (strcmp(pkguard_pkgdb_backends[i]->name, name) == 0)
			return pkguard_pkgdb_backends[i];
	}
	return NULL;
}

const struct pkguard_pkgdb_ops *pkguard_pkgdb_detect(const char *root)
{
	size_t i;

	for (i = 0; pkguard_pkgdb_backends[i]; i++) {
		if (pkguard_pkgdb_backends[i]->manages(root))
			return pkguard_pkgdb_backends[i];
	}
	return NULL;
}
