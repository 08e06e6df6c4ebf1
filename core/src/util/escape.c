/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkguard/escape.h"
#include "util/internal.h"

size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xc2)
		return 0; /* continuation byte or overlong 2-byte lead */
	if (s[0] < 0xe0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and values past U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static int is_bidi_control(uint32_t c)
{
	return c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069);
}

/* S (LEN bytes) escaped into OUT, which has room for LEN * 4 + 1 bytes (see pkguard_escape()). */
static void escape_to(char *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	char *o = out;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7f) {
			if (c == '\\')
				*o++ = '\\';
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c == '\n' || c == '\r' || c == '\t') {
			*o++ = '\\';
			*o++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			i++;
			continue;
		}
		n = c >= 0x80 ? utf8_len(p + i, len - i, &cp) : 0;
		if (n == 0) {
			o += sprintf(o, "\\x%02x", c);
			i++;
		} else if (is_bidi_control(cp)) {
			o += sprintf(o, "\\u{%04x}", (unsigned)cp);
			i += n;
		} else {
			while (n--)
				*o++ = (char)p[i++];
		}
	}
	*o = '\0';
}

char *pkguard_escape(const char *s, size_t len)
{
	/* The worst case is "\u{NNNN}" (8 bytes) for 3 input bytes, or "\xNN" for 1. */
	char *out = malloc(len * 4 + 1);

	if (out)
		escape_to(out, s, len);
	return out;
}

const char *pkguard_escslots(struct pkguard_escslots *e, unsigned slot, const char *s)
{
	size_t len = strlen(s);

	slot %= 8;
	/* Each slot keeps its memory: a report escapes thousands of strings. */
	if (e->cap[slot] < len * 4 + 1) {
		char *p = realloc(e->slot[slot], len * 4 + 1);

		if (!p)
			return "?";
		e->slot[slot] = p;
		e->cap[slot] = len * 4 + 1;
	}
	escape_to(e->slot[slot], s, len);
	return e->slot[slot];
}

void pkguard_escslots_release(struct pkguard_escslots *e)
{
	size_t i;

	for (i = 0; i < 8; i++)
		free(e->slot[i]);
	memset(e, 0, sizeof(*e));
}

const char *pkguard_user_name(unsigned uid, char *buf, size_t size)
{
	struct passwd pw, *found = NULL;
	char scratch[1024];
	char *name;

	if (getpwuid_r((uid_t)uid, &pw, scratch, sizeof(scratch), &found) == 0 && found &&
	    found->pw_name && (name = pkguard_escape(found->pw_name, strlen(found->pw_name)))) {
		if (strlen(name) < size) {
			snprintf(buf, size, "%s", name);
			free(name);
			return buf;
		}
		free(name);
	}
	snprintf(buf, size, "%u", uid);
	return buf;
}
