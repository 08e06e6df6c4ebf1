/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared by the core's modules; not part of the public API. */
#ifndef PKGUARD_UTIL_INTERNAL_H
#define PKGUARD_UTIL_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pkguard/context.h"

struct pkguard_ctx {
	char *root;
	int root_fd;
	int proc_fd;
	pkguard_log_fn log_fn;
	void *log_data;
	enum pkguard_log_level log_max;
	uint64_t deadline_ns;
	enum pkguard_maps_source maps;
	char errmsg[512];
};

/*
 * Start FN(ARG) in a thread of ours, with every signal blocked there: the
 * host program's handlers (rpm's, an apt hook's) keep running in its own
 * threads. Returns 0 or an error number (then the caller does the work itself).
 */
int thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* A growable byte buffer, reused across reads so that a scan allocates rarely. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Free the buffer's memory; the struct may be reused after buf_init(). */
void buf_release(struct buf *b);

/*
 * Read the whole file NAME, relative to DIRFD, into B (NUL-terminated, b->len
 * without the NUL). /proc files report st_size 0, so this reads until EOF.
 * Returns 0 or a negative errno; nothing is logged.
 */
int buf_read_at(struct buf *b, int dirfd, const char *name);

/* Read from an open fd until EOF, as buf_read_at(). */
int buf_read_fd(struct buf *b, int fd);

/* As buf_read_fd(), but -E2BIG once more than MAX bytes came. */
int buf_read_fd_max(struct buf *b, int fd, size_t max);

/* Ensure room for EXTRA more bytes. Returns 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);

/* Append the N bytes at P. Returns 0 or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);

/*
 * The length of the valid UTF-8 sequence at S (at most N bytes), with its
 * code point in *CP; 0 when the bytes are not valid UTF-8 (overlong forms,
 * surrogates and values past U+10FFFF included). ASCII is length 1.
 */
size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp);

/* Grow *ARRAY (of *CAP elements of SIZE bytes) to hold at least NEED elements. */
int array_grow(void *array, size_t *cap, size_t need, size_t size);

/*
 * pkguard_ctx_openat()'s walk without openat2(): PATH (relative) resolved
 * under ROOT_FD one component at a time. Returns an fd or -errno.
 */
int pkguard_walk_in_root(int root_fd, const char *path, int flags);

#endif
