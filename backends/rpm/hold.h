/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The native hold of rpm systems: the front-ends' own lock files.
 *
 * rpm itself has no hold; dnf and zypper each keep one. This module edits
 * them on the context's root:
 *
 * dnf 4 (dnf-plugins-core's versionlock plugin). Present when
 * ROOT/etc/dnf/plugins/versionlock.conf exists; its [main] "locklist =" names
 * the list (Fedora and Debian ship /etc/dnf/plugins/versionlock.list). A hold
 * is the two lines
 *	# pkguard: deferred NAME
 *	NAME-EPOCH:VERSION-RELEASE.*
 * appended at the end, in the form `dnf versionlock add` writes (epoch "0"
 * when EVR has none). The plugin skips "#" lines. A conf with "enabled = 0"
 * gets no new hold (the plugin is not loaded, a lock there would hold
 * nothing), but pkguard's own entry is still lifted from it.
 *
 * zypper (libzypp). Present when ROOT/etc/zypp is a directory; the locks file
 * is zypp.conf's [main] "locksfile.path", by default /etc/zypp/locks. A hold
 * is one record, a blank line before and after:
 *	type: package
 *	match_type: exact
 *	case_sensitive: on
 *	solvable_name: NAME
 *	comment: pkguard: deferred NAME
 * It locks every edition of NAME, as `zypper addlock NAME` does; EVR is not
 * used. libzypp drops "#" lines whenever it rewrites the file, so pkguard's
 * mark is the record's "comment:" attribute, which libzypp >= 17.27 keeps as
 * the lock's comment and older ones keep as an attribute no package has
 * (attributes are OR'ed: the lock still holds NAME). A zypp.conf with
 * "locksfile.apply = false" gets no new hold; lifting still looks there.
 *
 * Paths in the configuration files are paths inside the root. Every file is
 * reached through the root fd without leaving the root (openat2
 * RESOLVE_IN_ROOT) and without following a symlink at the last component;
 * the configuration files, the lock files and their directory must be
 * owned by root (or by the user pkguard runs as) and not writable by group
 * or others, else -PKGUARD_EUNSAFE naming the file. A lock file is replaced
 * atomically: a new file in the same directory (O_EXCL), with the old one's
 * mode and owner (0644 root when there was none), fsync, rename over it.
 * Every line that is not pkguard's is kept byte for byte.
 *
 * Not handled: dnf5's /etc/dnf/versionlock.toml (a root with only dnf5 has
 * neither front-end here), and a root with rpm alone.
 */
#ifndef PKGUARD_RPM_HOLD_H
#define PKGUARD_RPM_HOLD_H

#include <stdbool.h>

#include "pkguard/context.h"

/*
 * Hold package NAME at its installed version EVR ("[EPOCH:]VERSION-RELEASE";
 * needed when ON, ignored otherwise) with the front-ends' own mechanisms on
 * the context's root: dnf's versionlock list and zypper's locks file,
 * whichever of the two the root has (both when it has both). Lifting (not
 * ON) removes only the entries pkguard placed, recognised by their mark,
 * never an entry of the admin's.
 *
 * Returns 0 placed (in at least one front-end; a front-end that already had
 * an entry for NAME is left alone) or lifted (from at least one); 1 nothing
 * to do (ON: NAME already locked in every usable front-end, by the admin or
 * anyone: pkguard must not count it as its own; not ON: pkguard's entry is
 * in none); -ENOTSUP when the root has neither front-end (or, for ON, only
 * disabled ones): the caller records the deferral without a hold;
 * -EINVAL for a NAME or EVR that cannot be written into a lock file;
 * -PKGUARD_EUNSAFE for a file that fails the checks above; <0 with detail
 * in ctx otherwise. When placing fails in the second front-end, the hold
 * just placed in the first is lifted again.
 */
int pkguard_rpm_hold(struct pkguard_ctx *ctx, const char *name, const char *evr, bool on);

#endif
