/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-bpfkeep: the BPF iterator kept in the BPF filesystem between runs
 * (maps_bpf_load() in core/src/proc/bpf.c). In a BPF filesystem mounted for
 * the test in a mount namespace of its own: the first load pins the
 * program in a directory it creates (root's, 0700), the next one takes it
 * from there and reads the same records of a process; the oldest programs
 * of other builds go beyond four; something else under the program's name
 * is replaced; a directory another user owns or may write, one reached
 * through a symbolic link, and one outside a BPF filesystem are not used
 * (the program is loaded all the same, and nothing is pinned there).
 *
 * Root only (exit 77 otherwise); 77 too where the program cannot load or
 * the kernel cannot pin at a directory's fd (Linux 6.5).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "pkguard_maps_id.h"
#include "proc/bpf.h"

#include "expect.h"

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	long rc = syscall(__NR_bpf, cmd, attr, sizeof(*attr));

	return rc < 0 ? -errno : (int)rc;
}

/* Pin FD at PATH (a path, not a directory's fd: the test's own doing). */
static int pin(int fd, const char *path)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = (__u64)(uintptr_t)path;
	attr.bpf_fd = (__u32)fd;
	return sys_bpf(BPF_OBJ_PIN, &attr);
}

/* The object pinned at PATH (a path, as the test's own doing): its fd, or a negative errno. */
static int get(const char *path)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = (__u64)(uintptr_t)path;
	return sys_bpf(BPF_OBJ_GET, &attr);
}

/*
 * The kind of object pinned at PATH, as its fd's fdinfo says: 0 a
 * program (prog_type), 1 a map (map_type), -1 none or neither.
 */
static int pinned_kind(const char *path)
{
	char name[64], line[256];
	int fd = get(path), kind = -1;
	FILE *f;

	if (fd < 0)
		return -1;
	snprintf(name, sizeof(name), "/proc/self/fdinfo/%d", fd);
	f = fopen(name, "r");
	while (f && kind < 0 && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "prog_type:", 10) == 0)
			kind = 0;
		else if (strncmp(line, "map_type:", 9) == 0)
			kind = 1;
	}
	if (f)
		fclose(f);
	close(fd);
	return kind;
}

static struct maps_bpf *load(const char *keep, struct maps_bpf_kept *kept)
{
	struct maps_bpf *bpf = NULL;
	const char *why = NULL;
	int rc = maps_bpf_load(keep, &bpf, kept, &why);

	if (rc < 0)
		printf("load: %s: %s\n", why, strerror(-rc));
	return bpf;
}

/* A process that sits still until killed, so that its records stay the same. */
static pid_t still_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

/* Is the running kernel MAJOR.MINOR or later? */
static bool kernel_since(int major, int minor)
{
	struct utsname u;
	int a = 0, b = 0;

	if (uname(&u) < 0 || sscanf(u.release, "%d.%d", &a, &b) != 2)
		return false;
	return a > major || (a == major && b >= minor);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int main(void)
{
	char mnt[] = "/tmp/t-bpfkeep.XXXXXX", plain[] = "/tmp/t-bpfkeep-plain.XXXXXX";
	char keep[256], path[512], other[512];
	struct buf first = {0}, again = {0};
	struct maps_bpf_kept kept;
	struct maps_bpf *bpf;
	struct stat st;
	pid_t kid;
	int i, map_fd, prog_fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		fprintf(stderr, "t-bpfkeep: needs root\n");
		return 77;
	}
	/* Mounts of our own, gone when we exit. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    !mkdtemp(mnt) || mount("bpf", mnt, "bpf", 0, "mode=0700") < 0) {
		fprintf(stderr, "t-bpfkeep: cannot mount a BPF filesystem: %s\n", strerror(errno));
		return 77;
	}
	snprintf(keep, sizeof(keep), "%s/pkguard", mnt);
	snprintf(path, sizeof(path), "%s/%s", keep, PKGUARD_MAPS_BPF_ID);
	kid = still_child();

	/* The first load pins the program in a directory of its making. */
	bpf = load(keep, &kept);
	if (!bpf) {
		fprintf(stderr, "t-bpfkeep: the program does not load here\n");
		kill(kid, SIGKILL);
		return 77;
	}
	/* Only a kernel that predates BPF_F_PATH_FD may refuse: elsewhere that is a bug. */
	if (!kept.added && kept.why && strstr(kept.why, "6.5") && !kernel_since(6, 5)) {
		fprintf(stderr, "t-bpfkeep: %s\n", kept.why);
		maps_bpf_free(bpf);
		kill(kid, SIGKILL);
		return 77;
	}
	expect(kept.added && !kept.found, "first load: pinned (why: %s)",
	       kept.why ? kept.why : "-");
	expect(stat(keep, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
		       (st.st_mode & 07777) == 0700,
	       "first load: %s made root's, 0700", keep);
	expect(pinned_kind(path) == 0, "first load: the program is at %s", path);
	i = maps_bpf_read(bpf, kid, &first);
	expect(i == 0 && first.len > 0, "first load: reads the child's records (%zu bytes)",
	       first.len);
	maps_bpf_free(bpf);

	/* The next load takes it from there, and it reads the same. */
	bpf = load(keep, &kept);
	expect(bpf && kept.found && !kept.added, "second load: taken from the directory");
	i = bpf ? maps_bpf_read(bpf, kid, &again) : -1;
	expect(i == 0 && again.len == first.len && memcmp(again.data, first.data, first.len) == 0,
	       "second load: the same records of the child (%zu bytes)", again.len);

	maps_bpf_free(bpf);

	/* Six programs of other builds, oldest first: pinning ours leaves the newest three. */
	prog_fd = get(path);
	for (i = 0; prog_fd >= 0 && i < 6; i++) {
		struct timespec pause_ms = {0, 20000000};

		snprintf(other, sizeof(other), "%s/maps-%016d", keep, i);
		if (pin(prog_fd, other) < 0)
			expect(false, "pin %s", other);
		nanosleep(&pause_ms, NULL);
	}
	unlink(path);
	bpf = load(keep, &kept);
	expect(bpf && kept.added, "load among other builds: pinned");
	for (i = 0; i < 6; i++) {
		snprintf(other, sizeof(other), "%s/maps-%016d", keep, i);
		expect(exists(other) == (i >= 3), "other build %d: %s", i,
		       i >= 3 ? "kept (among the newest)" : "removed (oldest)");
	}
	/* Not a program's name: left alone. */
	snprintf(other, sizeof(other), "%s/notes", keep);
	if (bpf && prog_fd >= 0 && pin(prog_fd, other) == 0) {
		maps_bpf_free(bpf);
		unlink(path);
		bpf = load(keep, &kept);
		expect(exists(other), "a name that is no program's stays");
	}
	maps_bpf_free(bpf);
	if (prog_fd >= 0)
		close(prog_fd);

	/* A map under the program's name: replaced by the program. */
	{
		union bpf_attr attr;

		memset(&attr, 0, sizeof(attr));
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 4;
		attr.max_entries = 1;
		map_fd = sys_bpf(BPF_MAP_CREATE, &attr);
	}
	unlink(path);
	expect(map_fd >= 0 && pin(map_fd, path) == 0 && pinned_kind(path) == 1,
	       "a map pinned under the program's name");
	bpf = load(keep, &kept);
	expect(bpf && !kept.found && kept.added && pinned_kind(path) == 0,
	       "a map under its name: not taken, replaced by the program (found %d, added %d, "
	       "now %d)",
	       kept.found, kept.added, pinned_kind(path));
	maps_bpf_free(bpf);
	if (map_fd >= 0)
		close(map_fd);

	/* A directory others may write to, or another user's: not used. */
	unlink(path);
	chmod(keep, 0777);
	bpf = load(keep, &kept);
	expect(bpf && !kept.found && !kept.added && kept.why && !exists(path),
	       "a directory others may write to: loaded, not pinned (%s)",
	       kept.why ? kept.why : "-");
	maps_bpf_free(bpf);
	chmod(keep, 0700);
	if (chown(keep, 65534, 65534) == 0) {
		bpf = load(keep, &kept);
		expect(bpf && !kept.found && !kept.added && kept.why && !exists(path),
		       "another user's directory: loaded, not pinned (%s)",
		       kept.why ? kept.why : "-");
		maps_bpf_free(bpf);
		if (chown(keep, 0, 0) < 0)
			expect(false, "chown back");
	}

	/* A symbolic link to a good directory: not followed. */
	snprintf(other, sizeof(other), "%s/link", mnt);
	if (symlink(keep, other) == 0) {
		bpf = load(other, &kept);
		expect(bpf && !kept.found && !kept.added && kept.why && !exists(path),
		       "a symbolic link to the directory: loaded, not pinned (%s)",
		       kept.why ? kept.why : "-");
		maps_bpf_free(bpf);
	}

	/* Outside a BPF filesystem: nothing is made there. */
	if (mkdtemp(plain)) {
		snprintf(other, sizeof(other), "%s/pkguard", plain);
		bpf = load(other, &kept);
		expect(bpf && !kept.found && !kept.added && kept.why && !exists(other),
		       "not a BPF filesystem: loaded, nothing made (%s)",
		       kept.why ? kept.why : "-");
		maps_bpf_free(bpf);
		rmdir(plain);
	}

	/* No directory asked: loaded, nothing said. */
	bpf = load(NULL, &kept);
	expect(bpf && !kept.found && !kept.added && !kept.why, "no directory: loaded");
	maps_bpf_free(bpf);

	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	buf_release(&first);
	buf_release(&again);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	printf("%s\n", failures ? "t-bpfkeep: FAILED" : "t-bpfkeep: all passed");
	return failures ? 1 : 0;
}
