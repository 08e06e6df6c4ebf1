/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkguard/pkgdb.h"

int pkguard_usr_alias(struct pkguard_ctx *ctx, const char *path, char **alias)
{
	char link_name[NAME_MAX + 5];
	char target[NAME_MAX + 6];
	const char *rest;
	size_t top_len;
	ssize_t len;
	bool in_usr;

	*alias = NULL;
	in_usr = strncmp(path, "/usr/", 5) == 0;
	rest = in_usr ? path + 5 : path + 1;
	top_len = strcspn(rest, "/");
	/* Only a path below the directory has an alias: "/bin" itself has none. */
	if (top_len == 0 || top_len > NAME_MAX || rest[top_len] != '/')
		return 0;
	if (!((top_len == 3 && strncmp(rest, "bin", 3) == 0) ||
	      (top_len == 4 && strncmp(rest, "sbin", 4) == 0) || strncmp(rest, "lib", 3) == 0))
		return 0;

	/* usrmerge links "bin" to "usr/bin"; accept "/usr/bin" as well. The
	 * link is read, not followed: an absolute target would resolve
	 * against our own root, not the context's. */
	snprintf(link_name, sizeof(link_name), "usr/%.*s", (int)top_len, rest);
	len = readlinkat(pkguard_ctx_root_fd(ctx), link_name + 4, target, sizeof(target) - 1);
	if (len < 0) {
		if (errno == ENOENT || errno == EINVAL || errno == ENOTDIR)
			return 0;
		return pkguard_fail(ctx, -errno, "cannot read the link '%s' in '%s'", link_name + 4,
				    pkguard_ctx_root(ctx));
	}
	target[len] = '\0';
	if (strcmp(target, link_name) != 0 &&
	    !(target[0] == '/' && strcmp(target + 1, link_name) == 0))
		return 0;

	if (in_usr)
		*alias = strdup(path + 4);
	else if (asprintf(alias, "/usr%s", path) < 0)
		*alias = NULL;
	if (*alias == NULL)
		return pkguard_fail(ctx, -ENOMEM, "cannot look up '%s'", path);
	return 1;
}
