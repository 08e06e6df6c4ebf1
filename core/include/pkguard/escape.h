/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Escaping of process-controlled strings (comm, paths) for every output.
 *
 * A process names itself and its files: those bytes can hold terminal escape
 * sequences, newlines that fake extra lines, or bidi overrides that reorder
 * what the admin reads. Every such string goes through pkguard_escape() before
 * it is shown, logged or written as JSON.
 */
#ifndef PKGUARD_ESCAPE_H
#define PKGUARD_ESCAPE_H

#include <stddef.h>

/*
 * Escape LEN bytes of S: backslash becomes "\\", \n \r \t become "\n" "\r"
 * "\t", other bytes below 0x20, 0x7f and bytes that are not part of valid
 * UTF-8 become "\xNN", and the Unicode bidi controls (U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069) become "\u{NNNN}". Everything else, printable
 * ASCII and valid UTF-8, is copied.
 * Returns a NUL-terminated string owned by the caller (free()), or NULL on ENOMEM.
 */
char *pkguard_escape(const char *s, size_t len);

/*
 * Escaped copies that live as long as their slot, for building one line of
 * several strings: pkguard_escslots() escapes S into SLOT (modulo 8),
 * freeing what the slot held; "?" when out of memory.
 */
struct pkguard_escslots {
	char *slot[8];
	size_t cap[8];
};

const char *pkguard_escslots(struct pkguard_escslots *e, unsigned slot, const char *s);

void pkguard_escslots_release(struct pkguard_escslots *e);

/* The user name of UID, escaped, into BUF; its digits when it has none. */
const char *pkguard_user_name(unsigned uid, char *buf, size_t size);

#endif
