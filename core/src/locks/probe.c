/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkguard/locks.h"

int pkguard_lock_probe(struct pkguard_ctx *ctx, const char *path, struct pkguard_lock_probe *out)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	struct stat st;
	int fd, rc = -PKGUARD_EINTERNAL;

	memset(out, 0, sizeof(*out));
	/*
	 * O_NONBLOCK: a FIFO planted at the path must not hang us, and a leased
	 * file fails with EAGAIN instead of stalling for lease-break-time.
	 * O_NOFOLLOW: a symlink fails with ELOOP, or EACCES in a sticky directory.
	 * F_OFD_GETLK works on an O_RDONLY fd even when asking about F_WRLCK.
	 */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			return pkguard_fail(ctx, -PKGUARD_EUNSAFE, "not probing '%s': a symlink",
					    path);
		return pkguard_fail(ctx, rc, "cannot open lockfile '%s'", path);
	}
	if (fstat(fd, &st) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot stat lockfile '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = pkguard_fail(ctx, -PKGUARD_EUNSAFE, "not probing '%s': not a regular file",
				  path);
		goto out;
	}
	out->id = (struct pkguard_fileid){st.st_dev, st.st_ino};
	out->uid = st.st_uid;
	out->mode = st.st_mode;
	/* F_OFD_GETLK wants l_pid 0 on input; it reports -1 for an OFD holder. */
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
		rc = pkguard_fail(ctx, -errno, "cannot probe lockfile '%s'", path);
		goto out;
	}
	if (fl.l_type != F_UNLCK) {
		out->held = true;
		out->held_write = fl.l_type == F_WRLCK;
		out->pid = fl.l_pid;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}
