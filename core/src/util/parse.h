/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bounded number parsers for /proc text: no locale, no errno, no NUL needed. */
#ifndef PKGUARD_UTIL_PARSE_H
#define PKGUARD_UTIL_PARSE_H

#include <stdint.h>

#include "pkguard/error.h"

/* Parse hex digits at *P (before END) into *V; advance *P. -PKGUARD_EPARSE if none or overflow. */
static inline int parse_hex(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	while (s < end) {
		unsigned d;
		char c = *s;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (x >> 60)
			return -PKGUARD_EPARSE;
		x = x << 4 | d;
		s++;
	}
	if (s == *p)
		return -PKGUARD_EPARSE;
	*p = s;
	*v = x;
	return 0;
}

/* Parse decimal digits at *P (before END) into *V; advance *P. */
static inline int parse_dec(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -PKGUARD_EPARSE;
		x = x * 10 + d;
		s++;
	}
	if (s == *p)
		return -PKGUARD_EPARSE;
	*p = s;
	*v = x;
	return 0;
}

#endif
