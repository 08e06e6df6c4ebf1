/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/internal.h"

int pkguard_ctx_new(struct pkguard_ctx **out)
{
	struct pkguard_ctx *ctx;
	int rc;

	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->root_fd = -1;
	ctx->proc_fd = -1;
	ctx->log_max = PKGUARD_LOG_INFO;
	rc = pkguard_ctx_set_root(ctx, "/");
	if (rc < 0) {
		pkguard_ctx_free(ctx);
		return rc;
	}
	/*
	 * A missing /proc (a chroot without it) is not fatal here: the scan
	 * reports it as PKGUARD_ENOPROC and the caller fails open.
	 */
	pkguard_ctx_set_proc(ctx, "/proc");
	*out = ctx;
	return 0;
}

void pkguard_ctx_free(struct pkguard_ctx *ctx)
{
	if (!ctx)
		return;
	if (ctx->root_fd >= 0)
		close(ctx->root_fd);
	if (ctx->proc_fd >= 0)
		close(ctx->proc_fd);
	free(ctx->root);
	free(ctx);
}

static int open_dir(struct pkguard_ctx *ctx, const char *dir, int flags)
{
	int fd = open(dir, flags | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pkguard_fail(ctx, -errno, "cannot open directory '%s'", dir);
	return fd;
}

int pkguard_ctx_set_root(struct pkguard_ctx *ctx, const char *root)
{
	char *copy;
	int fd;

	fd = open_dir(ctx, root, O_PATH);
	if (fd < 0)
		return fd;
	copy = strdup(root);
	if (!copy) {
		close(fd);
		return pkguard_fail(ctx, -ENOMEM, "cannot set root");
	}
	if (ctx->root_fd >= 0)
		close(ctx->root_fd);
	free(ctx->root);
	ctx->root_fd = fd;
	ctx->root = copy;
	return 0;
}

const char *pkguard_ctx_root(const struct pkguard_ctx *ctx)
{
	return ctx->root;
}

int pkguard_ctx_root_fd(const struct pkguard_ctx *ctx)
{
	return ctx->root_fd;
}

bool pkguard_ctx_root_is_live(const struct pkguard_ctx *ctx)
{
	struct stat a, b;

	if (fstat(ctx->root_fd, &a) < 0 || stat("/", &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int pkguard_ctx_set_proc(struct pkguard_ctx *ctx, const char *dir)
{
	int fd = open_dir(ctx, dir, O_RDONLY);

	if (fd < 0)
		return fd;
	if (ctx->proc_fd >= 0)
		close(ctx->proc_fd);
	ctx->proc_fd = fd;
	return 0;
}

int pkguard_ctx_proc_fd(const struct pkguard_ctx *ctx)
{
	return ctx->proc_fd;
}

void pkguard_ctx_set_logger(struct pkguard_ctx *ctx, pkguard_log_fn fn, void *userdata)
{
	ctx->log_fn = fn;
	ctx->log_data = userdata;
}

void pkguard_ctx_set_log_level(struct pkguard_ctx *ctx, enum pkguard_log_level max)
{
	ctx->log_max = max;
}

void pkguard_ctx_set_maps(struct pkguard_ctx *ctx, enum pkguard_maps_source maps)
{
	ctx->maps = maps;
}

enum pkguard_maps_source pkguard_ctx_maps(const struct pkguard_ctx *ctx)
{
	return ctx->maps;
}

void pkguard_ctx_set_deadline(struct pkguard_ctx *ctx, uint64_t deadline_ns)
{
	ctx->deadline_ns = deadline_ns;
}

uint64_t pkguard_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool pkguard_ctx_expired(const struct pkguard_ctx *ctx)
{
	return ctx->deadline_ns && pkguard_now_ns() >= ctx->deadline_ns;
}

int pkguard_fail(struct pkguard_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ctx)
		return code;
	va_start(ap, fmt);
	n = vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
	va_end(ap);
	/* A non-negative code is a result, not an error: no ": <error>" suffix. */
	if (code < 0 && n >= 0 && (size_t)n < sizeof(ctx->errmsg))
		snprintf(ctx->errmsg + n, sizeof(ctx->errmsg) - (size_t)n, ": %s",
			 pkguard_strerror(code));
	return code;
}

const char *pkguard_ctx_errmsg(const struct pkguard_ctx *ctx)
{
	return ctx->errmsg;
}

void pkguard_log(struct pkguard_ctx *ctx, enum pkguard_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!ctx || !ctx->log_fn || level > ctx->log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->log_fn(ctx->log_data, level, msg);
}
