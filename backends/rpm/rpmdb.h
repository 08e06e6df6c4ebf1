/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rpm package database, read through librpm.
 *
 * pkguard_rpm_ops implements struct pkguard_pkgdb_ops (see pkguard/pkgdb.h)
 * for the rpm database of a root: ROOT/var/lib/rpm, or
 * ROOT/usr/lib/sysimage/rpm where only that one holds a database (newer
 * Fedora, where /var/lib/rpm may be an absolute link that would resolve
 * against our own root). A database is one of rpmdb.sqlite (rpm 4.16 on,
 * what Debian's rpm 4.18 creates), Packages (Berkeley DB) or Packages.db
 * (ndb). What it adds to that contract:
 *
 * Process-global librpm state. librpm keeps its configuration (rpmrc and
 * the macros) and its logger in process-global state. open() reads rpm's
 * configuration files once per process, never frees them (they stay
 * reachable, for the next open()), and sets the macro %_dbpath only while
 * it opens the database, then pops it again. While a database is open, its
 * rpmlog callback is installed: librpm's messages go to the context's
 * logger instead of stderr, and the last error completes the failure
 * detail; close() restores rpm's default logger. So only one pkguard_pkgdb
 * of this backend may be open at a time: a second open() fails with -EBUSY
 * until the first is closed. This backend must not be used inside a
 * process that uses librpm for itself (rpm, dnf, the rpm plugin): those
 * read the database through their own transaction set, attached with
 * pkguard_rpm_attach(). Not thread-safe.
 *
 * Names. rpm names an instance by NEVRA. A bare NAME means every installed
 * instance of that name (several versions, or several architectures, may
 * be installed at once); "NAME.ARCH" means the instances of that
 * architecture, where no package is called "NAME.ARCH" itself. The
 * pkginfo's version is VERSION-RELEASE, prefixed "EPOCH:" when the package
 * has an epoch; its arch is rpm's ("x86_64", "noarch"), or NULL for the
 * gpg-pubkey pseudo-packages that have none.
 *
 * files() yields each path rpm installed ("/usr/bin/x"), directories
 * included; files that rpm did not install (--excludedocs, another colour)
 * or that another package has replaced are left out, as rpm's own
 * installed-files index leaves them out. owners() matches PATH exactly as
 * the packages spell it, with the same states; when ROOT/bin, ROOT/sbin or
 * a ROOT/lib* is a symlink to its /usr counterpart (merged /usr), the owners
 * of both spellings are reported, each once. Symlinks elsewhere are not
 * followed (rpm's own lookup would follow them, but on our "/", not ROOT).
 *
 * Lifetimes. open() borrows ctx: it must outlive the database. The pkginfo
 * and path strings a callback receives are valid during that call only.
 *
 * Errors. A root without an rpm database: -PKGUARD_EBACKEND naming the
 * root. A path that is not absolute: -EINVAL. librpm failures:
 * -PKGUARD_EBACKEND with rpm's message, prefixed "librpm: ", in ctx.
 */
#ifndef PKGUARD_RPMDB_H
#define PKGUARD_RPMDB_H

#include <rpm/rpmtypes.h>

#include "pkguard/pkgdb.h"

/* The rpm backend: name "rpm". */
extern const struct pkguard_pkgdb_ops pkguard_rpm_ops;

/*
 * A database of this backend that reads through TS, a transaction set of the
 * process's own (the rpm plugin's): no configuration is read, no macro set,
 * the logger left alone, and close() only drops the reference taken here.
 * Several may be attached at once, beside an open() one. TS's root must be
 * the context's root. Returns 0 or -ENOMEM.
 */
int pkguard_rpm_attach(struct pkguard_ctx *ctx, rpmts ts, struct pkguard_pkgdb **out);

#endif
