/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * t-mapsquery: the three ways the scan reads mappings must give one answer
 * (and so must a scan in two threads and one in one thread). The BPF
 * iterator and the binary PROCMAP_QUERY ioctl (Linux 6.11+), which the scan
 * prefers in that order, are each compared with the text of /proc/PID/maps,
 * which it falls back to, on the live system: every process, every use,
 * every label, and each process's name, uids and unit; and on children of
 * this test that map files with hostile names (a newline, a fake
 * " (deleted)", trailing spaces) and a file deleted since, whose labels are
 * known. The children sit in cgroups named like services, where systemd
 * keeps them: cgroup2 (mounted for the test where it is not) and v1's
 * name=systemd, one deeper than the iterator reads cgroups, so that /proc
 * must answer for it. Fixture trees cannot test any of this: their maps are
 * plain files.
 *
 * Root only (exit 77 otherwise), and 77 on a kernel without the ioctl. Where
 * the BPF iterator cannot load (built without it, no BTF, lockdown, overlayfs
 * mounted), that half says so and is skipped.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkguard/context.h"
#include "pkguard/fileset.h"
#include "pkguard/proc.h"

/* As in core/src/proc/scan.c: only to learn whether this kernel has the ioctl. */
struct procmap_query_probe {
	uint64_t size, query_flags, query_addr, vma_start, vma_end, vma_flags, vma_page_size,
		vma_offset, inode;
	uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
	uint64_t vma_name_addr, build_id_addr;
};
#define PROBE_PROCMAP_QUERY _IOWR('f', 17, struct procmap_query_probe)

#define N_FILES 5
static const char *const names[N_FILES] = {"plain", "new\nline", "fake (deleted)", "trail  ",
					   "gone"};
/* How each shows in maps: a newline as \012; a deleted file gets " (deleted)". */
static const char *const shown[N_FILES] = {"plain", "new\\012line", "fake (deleted)", "trail  ",
					   "gone (deleted)"};

#define N_KIDS 3
/*
 * Files a further child maps, each three times in a row: 1200 records after
 * the iterator merges each run overflow its 32 KiB buffer, so runs meet read
 * boundaries and retried objects (see struct walk in maps.bpf.c).
 */
#define N_MANY 1200
/* Levels below kid 2's service: more than the iterator reads (PKGUARD_BPF_CGROUP_DEPTH). */
#define DEEP 40

static int failures;
/* The unit each child was put in ("pkguard-t-PID.service"), "" if none. */
static char units[N_KIDS][64];

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failures++;
}

static bool have_query(void)
{
	struct procmap_query_probe q = {.size = sizeof(q), .query_flags = 0x30};
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = ioctl(fd, PROBE_PROCMAP_QUERY, &q) == 0 || errno == ENOENT;
	close(fd);
	return ok;
}

/* Where a cgroup hierarchy is mounted: FSTYPE "cgroup2", or "cgroup" with super option OPT. */
static bool cgroup_mount(const char *fstype, const char *opt, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mnt[1024], type[64], super[1024];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", type, super) != 2)
			continue;
		if (strcmp(type, fstype) == 0 && (!opt || strstr(super, opt))) {
			snprintf(out, size, "%s", mnt);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/*
 * Move PID into ROOT/pkguard-t.slice/pkguard-t-PID.service, DEPTH levels
 * below it; PATH gets the directory (for remove_cgroup()).
 */
static bool put_in_cgroup(const char *root, pid_t pid, int depth, char *path, size_t size)
{
	size_t len;
	FILE *f;
	int i;

	snprintf(path, size, "%s/pkguard-t.slice", root);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return false;
	len = strlen(path);
	snprintf(path + len, size - len, "/pkguard-t-%d.service", (int)pid);
	for (i = 0; i <= depth; i++) {
		if (i > 0) {
			len = strlen(path);
			snprintf(path + len, size - len, "/d");
		}
		if (mkdir(path, 0755) < 0)
			return false;
	}
	len = strlen(path);
	snprintf(path + len, size - len, "/cgroup.procs");
	f = fopen(path, "w");
	path[len] = '\0';
	if (!f)
		return false;
	fprintf(f, "%d\n", (int)pid);
	return fclose(f) == 0;
}

/* Remove PATH and its parents up to ROOT (the slice too once empty). */
static void remove_cgroup(const char *root, char *path)
{
	size_t stop = strlen(root);
	int tries;

	while (strlen(path) > stop && strncmp(path, root, stop) == 0) {
		/* A process killed a moment ago may still be leaving it. */
		for (tries = 0; tries < 100 && rmdir(path) < 0 && errno == EBUSY; tries++)
			usleep(10000);
		*strrchr(path, '/') = '\0';
	}
}

/* A child that maps every file of DIR, then waits to be killed (or dies with us). */
static pid_t map_child(const char *dir)
{
	pid_t pid, parent = getpid();

	pid = fork();
	if (pid == 0) {
		char path[512];
		int i;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		for (i = 0; i < N_FILES; i++) {
			int fd;

			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
			fd = open(path, O_RDONLY);
			/* Two pages, two mappings of one file: its segments count once. */
			if (fd < 0 ||
			    mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED ||
			    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 4096) ==
				    MAP_FAILED)
				_exit(1);
			close(fd);
		}
		for (;;)
			pause();
	}
	return pid;
}

/*
 * The child of N_MANY: in a mount namespace of its own, maps DIR/many/NNNN,
 * each three times, then waits to be killed.
 */
static pid_t many_child(const char *dir)
{
	pid_t pid, parent = getpid();

	pid = fork();
	if (pid == 0) {
		char path[512];
		int i, j;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || unshare(CLONE_NEWNS) != 0)
			_exit(1);
		for (i = 0; i < N_MANY; i++) {
			int fd;

			snprintf(path, sizeof(path), "%s/many/%04d", dir, i);
			fd = open(path, O_RDONLY);
			for (j = 0; fd >= 0 && j < 3; j++) {
				if (mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED)
					_exit(1);
			}
			if (fd < 0)
				_exit(1);
			close(fd);
		}
		for (;;)
			pause();
	}
	return pid;
}

/* Is process PID of TAB in another mount namespace than ours? */
static int other_mntns(const struct pkguard_proctab *tab, pid_t pid)
{
	const struct pkguard_proc *p = pkguard_proctab_find(tab, pid);

	return p && p->other_mntns;
}

/* How many of process PID's uses in TAB are files under DIR/many/. */
static int many_uses(const struct pkguard_proctab *tab, pid_t pid, const char *dir)
{
	const struct pkguard_proc *p = pkguard_proctab_find(tab, pid);
	char prefix[512];
	size_t u;
	int n = 0;

	snprintf(prefix, sizeof(prefix), "%s/many/", dir);
	for (u = 0; p && u < p->n_uses; u++)
		n += strncmp(tab->seen[tab->uses[p->first_use + u].seen].label, prefix,
			     strlen(prefix)) == 0;
	return n;
}

static const struct pkguard_proc *find_proc(const struct pkguard_proctab *t, pid_t pid,
					    uint64_t start)
{
	const struct pkguard_proc *p = pkguard_proctab_find(t, pid);

	return p && p->start_time == start ? p : NULL;
}

/* Is use U of A (in table TA) also a use of B (in TB): same kind, identity and label? */
static bool has_use(const struct pkguard_proctab *ta, const struct pkguard_use *u,
		    const struct pkguard_proctab *tb, const struct pkguard_proc *b)
{
	const struct pkguard_seen *sa = &ta->seen[u->seen];
	size_t i;

	for (i = b->first_use; i < b->first_use + b->n_uses; i++) {
		const struct pkguard_use *v = &tb->uses[i];
		const struct pkguard_seen *sb = &tb->seen[v->seen];

		if (v->kind == u->kind && sb->id.dev == sa->id.dev && sb->id.ino == sa->id.ino &&
		    strcmp(sb->label, sa->label) == 0)
			return true;
	}
	return false;
}

/*
 * The processes that both scans saw as the same process (pid and start time)
 * with the same uses. Returns the number of differing processes; those that
 * are this test's children (KIDS) are reported as failures at once.
 */
static const char *mode_name(enum pkguard_maps_source m)
{
	return m == PKGUARD_MAPS_BPF ? "BPF" : m == PKGUARD_MAPS_QUERY ? "PROCMAP_QUERY" : "text";
}

/*
 * Each process once, in pid order: two threads that took the same process,
 * or merged their tables wrongly, would show here.
 */
static void check_order(const struct pkguard_proctab *tab, const char *way)
{
	size_t i;

	for (i = 1; i < tab->n_procs; i++) {
		if (tab->procs[i].pid <= tab->procs[i - 1].pid) {
			fail("%s: process %d comes after %d", way, (int)tab->procs[i].pid,
			     (int)tab->procs[i - 1].pid);
			return;
		}
	}
}

static int compare(const struct pkguard_proctab *q, const struct pkguard_proctab *t,
		   const pid_t *kids, int n_kids, bool report)
{
	size_t i, j;
	int diff = 0, k;

	for (i = 0; i < q->n_procs; i++) {
		const struct pkguard_proc *a = &q->procs[i];
		const struct pkguard_proc *b = find_proc(t, a->pid, a->start_time);
		bool kid = false, same;

		for (k = 0; k < n_kids; k++)
			kid |= kids[k] == a->pid;
		if (!b) {
			if (kid)
				fail("child %d is missing from the %s scan", (int)a->pid,
				     mode_name(t->maps_used));
			continue;
		}
		same = a->n_uses == b->n_uses && a->state == b->state &&
		       strcmp(a->comm, b->comm) == 0 && strcmp(a->unit, b->unit) == 0 &&
		       a->uid == b->uid && a->euid == b->euid && a->other_mntns == b->other_mntns;
		for (j = a->first_use; same && j < a->first_use + a->n_uses; j++)
			same = has_use(q, &q->uses[j], t, b);
		if (same)
			continue;
		diff++;
		if (kid || report)
			fail("process %d: %s and %s differ: name '%s'/'%s', unit '%s'/'%s', uids "
			     "%u.%u/%u.%u, other mount ns %d/%d, %zu/%zu uses, state %d/%d",
			     (int)a->pid, mode_name(q->maps_used), mode_name(t->maps_used), a->comm,
			     b->comm, a->unit, b->unit, (unsigned)a->uid, (unsigned)a->euid,
			     (unsigned)b->uid, (unsigned)b->euid, a->other_mntns, b->other_mntns,
			     a->n_uses, b->n_uses, (int)a->state, (int)b->state);
	}
	return diff;
}

/*
 * A way to read the mappings, each compared with the text read in one
 * thread: any going wrong shows as a difference. With two threads, the BPF
 * scan reads a stream of every process upwards in one and processes one by
 * one downwards in the other until they meet; in one thread, the stream
 * alone; per process, as outside the first pid namespace.
 */
struct way {
	const char *name;
	enum pkguard_maps_source maps;
	unsigned threads;
	bool per_process;
};

static const struct way text = {"text", PKGUARD_MAPS_TEXT, 1, false};

static int scan(struct pkguard_ctx *ctx, const struct pkguard_fileset *want, const struct way *way,
		struct pkguard_proctab **tab)
{
	struct pkguard_scan_opts opts = {.want = want,
					 .maps = way->maps,
					 .threads = way->threads,
					 .bpf_per_process = way->per_process};
	int rc = pkguard_proc_scan(ctx, &opts, tab);

	if (rc < 0) {
		fprintf(stderr, "scan: %s\n", pkguard_ctx_errmsg(ctx));
	} else if ((*tab)->maps_used != way->maps) {
		fail("asked for %s, the scan read %s", way->name, mode_name((*tab)->maps_used));
		pkguard_proctab_free(*tab);
		*tab = NULL;
		rc = -1;
	}
	return rc;
}

/* Is the BPF iterator available here? If not, say why. */
static bool have_bpf(struct pkguard_ctx *ctx)
{
	struct pkguard_scan_opts opts = {.maps = PKGUARD_MAPS_BPF, .threads = 1};
	struct pkguard_proctab *tab = NULL;

	if (pkguard_proc_scan(ctx, &opts, &tab) < 0) {
		printf("BPF: skipped, %s\n", pkguard_ctx_errmsg(ctx));
		return false;
	}
	pkguard_proctab_free(tab);
	return true;
}

static void check_labels(const struct pkguard_proctab *tab, pid_t kid, const char *dir,
			 const char *mode)
{
	const struct pkguard_proc *p = pkguard_proctab_find(tab, kid);
	char want[512];
	int i, found;
	size_t u;

	if (!p) {
		fail("%s: child %d not found", mode, (int)kid);
		return;
	}
	for (i = 0; i < N_FILES; i++) {
		snprintf(want, sizeof(want), "%s/%s", dir, shown[i]);
		found = 0;
		for (u = p->first_use; u < p->first_use + p->n_uses; u++)
			found += strcmp(tab->seen[tab->uses[u].seen].label, want) == 0;
		if (found != 1)
			fail("%s: the label '%s' is not one use of child %d", mode, want, (int)kid);
	}
}

static void compare_modes(struct pkguard_ctx *ctx, const struct pkguard_fileset *fs,
			  const struct way *way, const pid_t *kids, const char *dir);

int main(void)
{
	static const struct way ways[] = {
		{"PROCMAP_QUERY", PKGUARD_MAPS_QUERY, 2, false},
		{"BPF, stream and per process", PKGUARD_MAPS_BPF, 2, false},
		{"BPF, stream alone", PKGUARD_MAPS_BPF, 1, false},
		{"BPF, per process", PKGUARD_MAPS_BPF, 2, true},
	};
	int bpf = -1; /* not known yet */
	char dir[] = "/tmp/t-mapsquery.XXXXXX", path[512];
	struct pkguard_fileset *fs = NULL;
	struct pkguard_ctx *ctx = NULL;
	char v1[1024] = "", v2[1024] = "", cgroups[N_KIDS][4096],
	     v2_dir[] = "/tmp/t-mapsquery-cg2.XXXXXX";
	pid_t kids[N_KIDS + 1]; /* and the child of N_MANY */
	pid_t zombie;
	int i, m, tested = 0;
	size_t target, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		fprintf(stderr, "t-mapsquery: needs root\n");
		return 77;
	}
	if (!have_query()) {
		fprintf(stderr, "t-mapsquery: this kernel has no PROCMAP_QUERY\n");
		return 77;
	}
	if (!mkdtemp(dir))
		return 1;
	for (i = 0; i < N_FILES; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || ftruncate(fd, 8192) < 0)
			return 1;
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/many", dir);
	if (mkdir(path, 0755) < 0)
		return 1;
	for (i = 0; i < N_MANY; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/many/%04d", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || ftruncate(fd, 4096) < 0)
			return 1;
		close(fd);
	}
	for (i = 0; i < N_KIDS; i++) {
		kids[i] = map_child(dir);
		if (kids[i] < 0)
			return 1;
	}
	kids[N_KIDS] = many_child(dir);
	if (kids[N_KIDS] < 0)
		return 1;
	/* A zombie: the BPF stream has no mappings of it, the scans count it all the same. */
	zombie = fork();
	if (zombie == 0)
		_exit(0);
	if (zombie < 0)
		return 1;
	/* Until the children have mapped: they print nothing, so poll their maps. */
	for (i = 0; i <= N_KIDS; i++) {
		char maps[64], buf[1 << 16];
		int tries;

		snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)kids[i]);
		for (tries = 0; tries < 500; tries++) {
			FILE *f = fopen(maps, "r");
			size_t len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

			if (f)
				fclose(f);
			buf[len] = '\0';
			/* The last mapping made is the lowest: near the start. */
			if (strstr(buf, i < N_KIDS ? "/gone" : "/many/1199"))
				break;
			usleep(10000);
		}
	}
	snprintf(path, sizeof(path), "%s/gone", dir);
	unlink(path);

	/*
	 * Units: kid 0 in cgroup2, kid 1 in name=systemd, kid 2 deep in either,
	 * in what this host has. cgroup2 is mounted for the test where it is
	 * not, in a mount namespace of its own (its cgroups are the host's).
	 */
	cgroup_mount("cgroup", "name=systemd", v1, sizeof(v1));
	if (!cgroup_mount("cgroup2", NULL, v2, sizeof(v2)) && unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 && mkdtemp(v2_dir) &&
	    mount("cgroup2", v2_dir, "cgroup2", 0, NULL) == 0)
		snprintf(v2, sizeof(v2), "%s", v2_dir);
	for (i = 0; i < N_KIDS; i++) {
		const char *root = i == 0   ? (*v2 ? v2 : v1)
				   : i == 1 ? (*v1 ? v1 : v2)
					    : (*v1 ? v1 : v2);

		cgroups[i][0] = '\0';
		if (!*root)
			continue;
		if (!put_in_cgroup(root, kids[i], i == 2 ? DEEP : 0, cgroups[i],
				   sizeof(cgroups[i]))) {
			fail("cannot put child %d in a cgroup under %s: %s", (int)kids[i], root,
			     strerror(errno));
			continue;
		}
		snprintf(units[i], sizeof(units[i]), "pkguard-t-%d.service", (int)kids[i]);
		printf("child %d: %s in %s%s\n", (int)kids[i], units[i],
		       root == v2 ? "cgroup2" : "name=systemd", i == 2 ? ", 40 levels below" : "");
	}

	if (pkguard_ctx_new(&ctx) < 0 || pkguard_fileset_new(ctx, &fs) < 0 ||
	    pkguard_fileset_add_target(fs, "t", NULL, NULL, NULL, &target) < 0)
		return 1;
	for (i = 0; i < N_FILES - 1; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		pkguard_fileset_add_path(fs, target, path);
	}
	n = pkguard_fileset_n_files(fs);
	if (n != N_FILES - 1) {
		fail("fileset: %zu files, not %d", n, N_FILES - 1);
		return 1;
	}

	for (m = 0; m < (int)(sizeof(ways) / sizeof(ways[0])); m++) {
		if (ways[m].maps == PKGUARD_MAPS_BPF && bpf < 0)
			bpf = have_bpf(ctx);
		if (ways[m].maps == PKGUARD_MAPS_BPF && !bpf)
			continue;
		printf("%s:\n", ways[m].name);
		compare_modes(ctx, fs, &ways[m], kids, dir);
		tested++;
	}
	for (i = 0; i <= N_KIDS; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	waitpid(zombie, NULL, 0);
	for (i = 0; i < N_KIDS; i++) {
		if (cgroups[i][0])
			remove_cgroup(strncmp(cgroups[i], v2, strlen(v2)) == 0 && *v2 ? v2 : v1,
				      cgroups[i]);
	}
	if (strcmp(v2, v2_dir) == 0) {
		umount(v2_dir);
		rmdir(v2_dir);
	}
	for (i = 0; i < N_FILES - 1; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	for (i = 0; i < N_MANY; i++) {
		snprintf(path, sizeof(path), "%s/many/%04d", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/many", dir);
	rmdir(path);
	rmdir(dir);
	pkguard_fileset_free(fs);
	pkguard_ctx_free(ctx);
	if (failures)
		return 1;
	printf("%s and text agree\n",
	       tested > 1 ? "the BPF iterator (3 ways) and PROCMAP_QUERY" : "PROCMAP_QUERY");
	return 0;
}

/* MODE against the text: the whole system, then the fileset's files only. */
static void compare_modes(struct pkguard_ctx *ctx, const struct pkguard_fileset *fs,
			  const struct way *way, const pid_t *kids, const char *dir)
{
	struct pkguard_proctab *q = NULL, *t = NULL, *before = NULL;
	int i, attempt, diff = 0;
	bool quiet = false, counted = false;

	/* Everything on the system: processes come and go, so retry a mismatch a few times. */
	for (attempt = 0; attempt < 5; attempt++) {
		if (scan(ctx, NULL, &text, &before) < 0 || scan(ctx, NULL, way, &q) < 0 ||
		    scan(ctx, NULL, &text, &t) < 0) {
			fail("%s: the scan failed", way->name);
			pkguard_proctab_free(before);
			pkguard_proctab_free(q);
			return;
		}
		check_order(q, way->name);
		check_order(t, text.name);
		diff = compare(q, t, kids, N_KIDS + 1, false) +
		       compare(t, q, kids, N_KIDS + 1, false);
		/*
		 * Processes counted, whatever they use (a zombie too): compared
		 * only where the text counts alike before and after, as other
		 * tests start and end processes meanwhile.
		 */
		quiet = before->n_scanned == t->n_scanned;
		pkguard_proctab_free(before);
		if (quiet) {
			counted = true;
			diff += q->n_scanned != t->n_scanned;
		}
		if (attempt == 0) {
			check_labels(q, kids[0], dir, way->name);
			check_labels(t, kids[0], dir, "text");
			if (many_uses(q, kids[N_KIDS], dir) != N_MANY ||
			    many_uses(t, kids[N_KIDS], dir) != N_MANY)
				fail("the child of %d files: %d uses of them (%s), %d (text)",
				     N_MANY, many_uses(q, kids[N_KIDS], dir), way->name,
				     many_uses(t, kids[N_KIDS], dir));
			/* Its mount namespace is another than ours, either way. */
			if (!other_mntns(q, kids[N_KIDS]) || !other_mntns(t, kids[N_KIDS]))
				fail("the child of %d files: not in another mount namespace (%s: "
				     "%d, text: %d)",
				     N_MANY, way->name, other_mntns(q, kids[N_KIDS]),
				     other_mntns(t, kids[N_KIDS]));
			printf("all processes, %s and text: %zu and %zu scanned, %zu and %zu "
			       "file-backed mappings, %zu and %zu files\n",
			       way->name, q->n_scanned, t->n_scanned, q->n_maps, t->n_maps,
			       q->n_seen, t->n_seen);
			/* The stream must carry the scan where it is used: never fall back unseen.
			 */
			if (way->maps == PKGUARD_MAPS_BPF &&
			    (way->per_process	 ? q->n_streamed != 0
			     : way->threads == 1 ? q->n_streamed <= q->n_scanned / 2
						 : q->n_streamed == 0))
				fail("%s: %zu of %zu processes from the BPF stream", way->name,
				     q->n_streamed, q->n_scanned);
		}
		if (diff == 0 || failures) {
			pkguard_proctab_free(q);
			pkguard_proctab_free(t);
			break;
		}
		if (attempt == 4) {
			compare(q, t, kids, N_KIDS + 1, true);
			compare(t, q, kids, N_KIDS + 1, true);
			if (quiet && q->n_scanned != t->n_scanned)
				fail("%s scanned %zu processes, the text %zu", way->name,
				     q->n_scanned, t->n_scanned);
		}
		pkguard_proctab_free(q);
		pkguard_proctab_free(t);
	}
	if (diff)
		fail("%s and text still differ in %d processes after 5 attempts", way->name, diff);
	if (!counted)
		printf("(%s: processes came and went around every attempt, counts not compared)\n",
		       way->name);

	/* Only the fileset's files (a package check): both ways find both children alike. */
	if (scan(ctx, fs, way, &q) < 0 || scan(ctx, fs, &text, &t) < 0) {
		fail("%s: the scan failed", way->name);
		pkguard_proctab_free(q);
		return;
	}
	check_order(q, way->name);
	for (i = 0; i < N_KIDS; i++) {
		const struct pkguard_proc *a = pkguard_proctab_find(q, kids[i]);
		const struct pkguard_proc *b = pkguard_proctab_find(t, kids[i]);

		/* The four files still linked; "gone" is in no fileset. */
		if (!a || !b || a->n_uses != N_FILES - 1 || b->n_uses != N_FILES - 1) {
			fail("check, %s: child %d is not found using its 4 files both ways",
			     way->name, (int)kids[i]);
			continue;
		}
		if (strcmp(a->unit, units[i]) != 0 || strcmp(b->unit, units[i]) != 0)
			fail("check: child %d is in unit '%s' (%s) and '%s' (text), not '%s'",
			     (int)kids[i], a->unit, way->name, b->unit, units[i]);
	}
	if (compare(q, t, kids, N_KIDS, true) + compare(t, q, kids, N_KIDS, true))
		fail("check: %s and text differ", way->name);
	pkguard_proctab_free(q);
	pkguard_proctab_free(t);
}
