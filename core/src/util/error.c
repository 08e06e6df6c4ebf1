/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "pkguard/error.h"

const char *pkguard_strerror(int code)
{
	const char *msg;

	if (code >= 0)
		return "success";
	switch (-code) {
#define PKGUARD_ERROR_CASE(name, value, text)                                                      \
	case name:                                                                                 \
		return text;
		PKGUARD_ERRORS(PKGUARD_ERROR_CASE)
#undef PKGUARD_ERROR_CASE
	}
	/* strerrordesc_np() is thread-safe and locale-independent, unlike strerror(). */
	msg = strerrordesc_np(-code);
	return msg ? msg : "unknown error";
}
