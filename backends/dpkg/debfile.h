/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The identity of a Debian binary package file (.deb): its Package, Version
 * and Architecture fields, read the way dpkg-deb reads them.
 *
 * A .deb is an ar archive: "debian-binary" ("2.x\n"), optional members whose
 * names start with '_', "control.tar" compressed with nothing, gzip, xz or
 * zstd (the name's extension says which, as for dpkg-deb), then data.tar.*.
 * Only the first three parts are read: the data member, which can be large,
 * is never touched.
 *
 * Nothing here executes anything: libarchive is held to its built-in
 * decompressors (a filter it would run as an external program is refused).
 * Errors leave their detail in ctx.
 */
#ifndef PKGUARD_DEBFILE_H
#define PKGUARD_DEBFILE_H

#include <stddef.h>

#include "pkguard/context.h"

/* Longest field values accepted; longer ones are malformed. */
#define PKGUARD_DEB_NAME_MAX	256
#define PKGUARD_DEB_VERSION_MAX 256
#define PKGUARD_DEB_ARCH_MAX	64

struct pkguard_debinfo {
	char package[PKGUARD_DEB_NAME_MAX];	 /* "bash" */
	char version[PKGUARD_DEB_VERSION_MAX];	 /* "5.2.15-2+b2" */
	char architecture[PKGUARD_DEB_ARCH_MAX]; /* "amd64", "all" */
};

/*
 * Read the control fields of the .deb at PATH, opened relative to DIRFD as
 * openat(2) does (AT_FDCWD for the working directory). PATH may be a symlink:
 * it is followed, as dpkg follows it. It must then be a regular file; it is
 * opened O_NONBLOCK|O_NOCTTY, so a FIFO or a device cannot hang the caller
 * or be opened at all (it is refused by a stat first).
 *
 * Returns 0 with *OUT filled, -PKGUARD_EUNSAFE for something that is not a
 * regular file, -PKGUARD_EPARSE for a file that is not a well-formed binary
 * package (truncated, not ar, no control file, a missing or invalid field),
 * a negative errno when it cannot be opened or read, or -ENOMEM.
 */
int pkguard_debfile_read(struct pkguard_ctx *ctx, int dirfd, const char *path,
			 struct pkguard_debinfo *out);

/*
 * Parse the control file TEXT (LEN bytes, deb822: "Field: value" lines,
 * continuation lines starting with a space or a tab, field names in any
 * case) and take Package, Version and Architecture from its first stanza.
 * Each must appear exactly once, on one line, and be valid: a package name of
 * lowercase letters, digits and "+-." starting with a letter or digit; a
 * version of letters, digits and ".+~:-" (an epoch being digits); an
 * architecture of lowercase letters, digits and '-'. Exposed for unit tests.
 * Returns 0 or -PKGUARD_EPARSE with the detail (naming WHAT) in ctx.
 */
int pkguard_debfile_parse_control(struct pkguard_ctx *ctx, const char *what, const char *text,
				  size_t len, struct pkguard_debinfo *out);

#endif
