/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The dpkg package database, read through libdpkg.
 *
 * pkguard_dpkg_ops implements struct pkguard_pkgdb_ops (see pkguard/pkgdb.h)
 * for ROOT/var/lib/dpkg. What it adds to that contract:
 *
 * One database per process. libdpkg keeps its database in process-global
 * state, so only one pkguard_pkgdb of this backend may be open at a time:
 * a second open() fails with -EBUSY until the first is closed. After close()
 * the next open() may use another root. The backend is not thread-safe: the
 * open database must be used by one thread at a time.
 *
 * Lifetimes. open() borrows ctx: it must outlive the database and keep its
 * root until close(). Every failure leaves its detail in ctx. The pkginfo and
 * path strings a callback receives are valid during that call only. A
 * callback may call back into the same database.
 *
 * Installed. An instance counts as installed from half-installed onwards
 * (half-installed, unpacked, half-configured, triggers-awaited,
 * triggers-pending, installed): a half-installed instance may have files on
 * disk from an interrupted unpack or removal. Config-files instances keep
 * nothing but conffiles and do not count.
 *
 * files() yields each path as the package's files list spells it ("/bin/bash"
 * on a merged-/usr system too), directories included, without dpkg's "/."
 * entry. A path that a diversion sends away from this package is yielded
 * where its file really is: the diverted-to name.
 *
 * owners() takes a diversion the same way: the owners of a path are the
 * installed packages whose file is there. When ROOT/bin, ROOT/sbin or a
 * ROOT/lib* is a symlink to its /usr counterpart (merged /usr), the two
 * spellings of a path name one file, and the owners of both are reported
 * once each. owners_many() gives the same owners, reading each files list
 * once without keeping any.
 *
 * open_for() reads the stanzas of the named packages only (see open_for()
 * in dpkgdb.c: libdpkg parses them from a copy), so files() and lookup()
 * answer for those names as open() would, every other package looks not
 * installed, and owners() and owners_many() fail with -EINVAL. A status
 * file with anything the picking does not read for certain (a carriage
 * return, vertical tab or form feed, a NUL or ^Z, a stanza without a Package
 * field, a missing final newline, an update file libdpkg would refuse) is
 * read whole instead, with a debug message, and then fails or not as with
 * open(). The stanzas of other packages are not parsed, so one that
 * open() would refuse goes unnoticed.
 *
 * Errors. libdpkg reports errors by longjmp(); each entry point catches them
 * and returns -PKGUARD_EBACKEND with the libdpkg message, prefixed
 * "libdpkg: ", in ctx. libdpkg's state is unknown after that, so every later
 * files(), owners() or lookup() on that database fails with
 * -PKGUARD_EBACKEND until it is closed; a new open() starts afresh. A
 * malformed files list is refused with -PKGUARD_EBACKEND before libdpkg
 * reads it (libdpkg would exit), and only the call that needs it fails. A
 * database file that cannot be read returns the negative errno; a path that
 * is not absolute, -EINVAL. Three libdpkg behaviours remain: it exits the
 * process when out of memory, it prints its warnings (a missing files list,
 * a questionable status entry) on stderr, and a status file it cannot parse
 * leaks its parser state (a few hundred bytes per failed open()).
 */
#ifndef PKGUARD_DPKGDB_H
#define PKGUARD_DPKGDB_H

#include "pkguard/pkgdb.h"

/* The dpkg backend: name "dpkg". */
extern const struct pkguard_pkgdb_ops pkguard_dpkg_ops;

#endif
