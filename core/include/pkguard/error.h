/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard error codes.
 *
 * Every function of libpkguard returns an int: 0 on success, 1 only where a
 * documented tri-state needs it, and a negative value on failure. A negative
 * value is either a negated errno or a negated PKGUARD_E* code below. The codes
 * start above every errno (Linux's MAX_ERRNO is 4095) so the two never collide.
 *
 * PKGUARD_ERRORS is the single list of codes and their messages.
 */
#ifndef PKGUARD_ERROR_H
#define PKGUARD_ERROR_H

#define PKGUARD_ERRORS(X)                                                                          \
	X(PKGUARD_EINTERNAL, 4096, "internal error")                                               \
	X(PKGUARD_EDEADLINE, 4097, "deadline passed")                                              \
	X(PKGUARD_EPARSE, 4098, "malformed input")                                                 \
	X(PKGUARD_ENOPKG, 4099, "package is not installed")                                        \
	X(PKGUARD_EBACKEND, 4100, "package database error")                                        \
	X(PKGUARD_EUNSAFE, 4101, "unsafe file")                                                    \
	X(PKGUARD_ENOPROC, 4102, "/proc is not usable")                                            \
	X(PKGUARD_EUSAGE, 4103, "usage error")

enum pkguard_error {
#define PKGUARD_ERROR_ENUM(name, value, msg) name = (value),
	PKGUARD_ERRORS(PKGUARD_ERROR_ENUM)
#undef PKGUARD_ERROR_ENUM
};

/*
 * The message for a return code: a negated errno or a negated PKGUARD_E* code.
 * Returns a static string; never NULL.
 */
const char *pkguard_strerror(int code);

#endif
