/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Paths resolved inside a root: openat2(RESOLVE_IN_ROOT), or the same walk by hand. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/internal.h"

#define MAX_LINKS 40

/* The directories walked into, the root at the bottom (not ours to close). */
struct walk {
	int root;
	int *fds;
	size_t n, cap;
};

static int walk_cur(const struct walk *w)
{
	return w->n ? w->fds[w->n - 1] : w->root;
}

static void walk_pop(struct walk *w, size_t keep)
{
	while (w->n > keep)
		close(w->fds[--w->n]);
}

static int walk_push(struct walk *w, int fd)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		int *fds = realloc(w->fds, cap * sizeof(*fds));

		if (!fds) {
			close(fd);
			return -ENOMEM;
		}
		w->fds = fds;
		w->cap = cap;
	}
	w->fds[w->n++] = fd;
	return 0;
}

/* REST becomes TARGET "/" REST (owned; TARGET is a symlink's text). */
static int splice_link(char **rest, const char *target, const char *after)
{
	size_t a = strlen(target), b = strlen(after);
	char *s = malloc(a + b + 2);

	if (!s)
		return -ENOMEM;
	memcpy(s, target, a);
	s[a] = '/';
	memcpy(s + a + 1, after, b + 1);
	free(*rest);
	*rest = s;
	return 0;
}

int pkguard_walk_in_root(int root_fd, const char *path, int flags)
{
	struct walk w = {root_fd, NULL, 0, 0};
	char *rest = strdup(path), *p;
	char target[PATH_MAX];
	int links = 0, fd = -ENOMEM;

	if (!rest)
		return -ENOMEM;
	p = rest;
	for (;;) {
		char *comp, *end;
		bool last;
		struct stat st;
		ssize_t len;

		while (*p == '/')
			p++;
		if (!*p) {
			/* The path named a directory ("", "a/", "a/.."): that one. */
			fd = openat(walk_cur(&w), ".", flags | O_CLOEXEC);
			fd = fd < 0 ? -errno : fd;
			break;
		}
		comp = p;
		end = strchr(p, '/');
		p = end ? end : p + strlen(p);
		if (end)
			*end = '\0';
		last = !end || !end[1 + strspn(end + 1, "/")];
		if (end)
			p = end + 1;
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			/* Never above the root. */
			walk_pop(&w, w.n ? w.n - 1 : 0);
			continue;
		}
		if (last && (flags & O_NOFOLLOW)) {
			fd = openat(walk_cur(&w), comp, flags | O_CLOEXEC);
			fd = fd < 0 ? -errno : fd;
			break;
		}
		fd = openat(walk_cur(&w), comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			fd = fd < 0 ? -errno : (close(fd), -errno);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			len = readlinkat(fd, "", target, sizeof(target) - 1);
			close(fd);
			if (len < 0 || ++links > MAX_LINKS) {
				fd = len < 0 ? -errno : -ELOOP;
				break;
			}
			target[len] = '\0';
			/* An absolute link starts again at the root, not at ours. */
			if (target[0] == '/')
				walk_pop(&w, 0);
			fd = splice_link(&rest, target, last ? "" : p);
			if (fd < 0)
				break;
			p = rest;
			continue;
		}
		if (last) {
			close(fd);
			/* Swapped for a symlink meanwhile: O_NOFOLLOW makes that an error. */
			fd = openat(walk_cur(&w), comp, flags | O_NOFOLLOW | O_CLOEXEC);
			fd = fd < 0 ? -errno : fd;
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			close(fd);
			fd = -ENOTDIR;
			break;
		}
		fd = walk_push(&w, fd);
		if (fd < 0)
			break;
	}
	walk_pop(&w, 0);
	free(w.fds);
	free(rest);
	return fd;
}

int pkguard_ctx_openat(const struct pkguard_ctx *ctx, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	while (*path == '/')
		path++;
	fd = (int)syscall(SYS_openat2, ctx->root_fd, *path ? path : ".", &how, sizeof(how));
	if (fd >= 0)
		return fd;
	if (errno != ENOSYS)
		return -errno;
	return pkguard_walk_in_root(ctx->root_fd, path, flags);
}
