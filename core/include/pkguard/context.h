/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The context every libpkguard call works in.
 *
 * It holds what a run needs and nothing global: the target root directory, a
 * directory fd for /proc (tests point it at a fixture tree), the logger, the
 * deadline, and the detail of the last error. Two contexts in one process (two
 * transactions in one rpm process) never interfere.
 */
#ifndef PKGUARD_CONTEXT_H
#define PKGUARD_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "pkguard/error.h"

struct pkguard_ctx;

enum pkguard_log_level {
	PKGUARD_LOG_ERR,
	PKGUARD_LOG_WARN,
	PKGUARD_LOG_INFO,
	PKGUARD_LOG_DEBUG,
};

/* How a process scan reads the mappings (see struct pkguard_scan_opts). */
enum pkguard_maps_source {
	PKGUARD_MAPS_AUTO,
	PKGUARD_MAPS_BPF,
	PKGUARD_MAPS_QUERY,
	PKGUARD_MAPS_TEXT,
};

/* A logger receives one formatted message, without a trailing newline. */
typedef void (*pkguard_log_fn)(void *userdata, enum pkguard_log_level level, const char *msg);

/*
 * Create a context with root "/", /proc, no logger and no deadline.
 * Returns 0, or -ENOMEM. The caller frees *out with pkguard_ctx_free().
 */
int pkguard_ctx_new(struct pkguard_ctx **out);

/* Free a context and close its fds. NULL is a no-op. */
void pkguard_ctx_free(struct pkguard_ctx *ctx);

/*
 * Set the target root: the directory the package database describes and the
 * installed paths are relative to. Opens it as a directory (O_PATH); returns 0
 * or a negative errno with the detail in the context.
 */
int pkguard_ctx_set_root(struct pkguard_ctx *ctx, const char *root);

/* The root as given (borrowed, valid until the next set_root): "/" by default. */
const char *pkguard_ctx_root(const struct pkguard_ctx *ctx);

/* The root directory fd (borrowed). */
int pkguard_ctx_root_fd(const struct pkguard_ctx *ctx);

/*
 * Open PATH, a path inside the root (a leading '/' is the root's), the way
 * openat2() with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS does: ".." and
 * absolute symlinks stay inside the root. FLAGS are open(2)'s; with
 * O_NOFOLLOW the last component is not followed. Where openat2() is missing
 * (Linux before 5.6, valgrind) the same walk is made in user space, one
 * component at a time, each opened O_NOFOLLOW: a symlink is read and its
 * target walked instead, at most 40 of them. Returns an fd or -errno.
 */
int pkguard_ctx_openat(const struct pkguard_ctx *ctx, const char *path, int flags);

/* true when the root is the running system's "/" (same device and inode). */
bool pkguard_ctx_root_is_live(const struct pkguard_ctx *ctx);

/*
 * Use DIR instead of /proc: unit tests point this at a fixture tree.
 * Returns 0 or a negative errno with the detail in the context.
 */
int pkguard_ctx_set_proc(struct pkguard_ctx *ctx, const char *dir);

/* The /proc directory fd (borrowed). */
int pkguard_ctx_proc_fd(const struct pkguard_ctx *ctx);

/* Install a logger; NULL drops every message. */
void pkguard_ctx_set_logger(struct pkguard_ctx *ctx, pkguard_log_fn fn, void *userdata);

/* Messages above this level are not formatted at all (default PKGUARD_LOG_INFO). */
void pkguard_ctx_set_log_level(struct pkguard_ctx *ctx, enum pkguard_log_level max);

/*
 * Set the run's deadline as an absolute CLOCK_MONOTONIC time in nanoseconds
 * (see pkguard_now_ns()); 0 means none.
 */
void pkguard_ctx_set_deadline(struct pkguard_ctx *ctx, uint64_t deadline_ns);

/*
 * How scans whose options say PKGUARD_MAPS_AUTO read the mappings: AUTO
 * (the default: the BPF iterator where it loads), QUERY (never BPF) or TEXT.
 */
void pkguard_ctx_set_maps(struct pkguard_ctx *ctx, enum pkguard_maps_source maps);
enum pkguard_maps_source pkguard_ctx_maps(const struct pkguard_ctx *ctx);

/* true once the deadline has passed. */
bool pkguard_ctx_expired(const struct pkguard_ctx *ctx);

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t pkguard_now_ns(void);

/*
 * Record the detail of a failure and return code, so that a caller can write
 *	return pkguard_fail(ctx, -errno, "cannot open '%s'", path);
 * The stored message is the formatted text followed, for a negative code,
 * by ": " and pkguard_strerror(code). ctx may be NULL (the detail is then
 * dropped).
 */
int pkguard_fail(struct pkguard_ctx *ctx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The last failure's detail (borrowed, valid until the next failure); "" if none. */
const char *pkguard_ctx_errmsg(const struct pkguard_ctx *ctx);

/* Log through the context's logger. */
void pkguard_log(struct pkguard_ctx *ctx, enum pkguard_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
