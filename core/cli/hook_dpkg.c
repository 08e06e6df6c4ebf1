/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard hook dpkg: dpkg's pre-invoke hook, for dpkg run directly
 * (`dpkg -i x.deb`, `dpkg -r x`). /etc/dpkg/dpkg.cfg.d/pkguard runs it.
 *
 * dpkg passes a hook no package list (package-managers.md §3.2): it runs
 * `sh -c CMD` through system(), in its own working directory, with
 * DPKG_HOOK_ACTION, DPKG_ROOT, DPKG_ADMINDIR and DPKG_FORCE set, before it
 * takes its lock. So the packages come from dpkg's own arguments: the hook's
 * parent is that shell (or dpkg itself, when the shell exec'd the command),
 * and its parent dpkg. Reading /proc/PID/cmdline of another process is
 * reading what the process says of itself, so it is done only for a process
 * that is positively dpkg: its /proc/PID/exe is the dpkg binary, by device
 * and inode, and it runs as root (threats.md #21). Then root's own package
 * manager's arguments are read, never executed or interpreted beyond the
 * option syntax dpkg itself applies.
 *
 * dpkg refuses the action when the hook exits non-zero ("error executing
 * hook", exit 2, nothing done), so this exits 1 only for a deliberate
 * refusal; whatever keeps it from knowing the packages fails open (run.c).
 * stdin is dpkg's, possibly a terminal: it is never read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"
#ifdef PKGUARD_WITH_DPKG
#include "debfile.h"
#endif

#define ENTRY	     "hook dpkg"
#define DPKG_PROGRAM "/usr/bin/dpkg"
/* Linux allows argv up to a quarter of the stack limit; far more than dpkg gets. */
#define CMDLINE_MAX ((size_t)64 << 20)
/* --recursive: how deep and how many, before giving up (dpkg's find has no bound). */
#define WALK_DEPTH_MAX 64
#define DEBS_MAX       100000
/* A package name given to --remove, with its ":arch". */
#define REMOVAL_NAME_MAX 256

/* dpkg's command line, its option syntax (lib/dpkg/options.c) and table (src/main/main.c). */
struct dpkg_option {
	const char *name; /* long name, NULL for a short-only option */
	char short_name;  /* 0 for none */
	int takes_value;  /* 0 no, 1 "--x=V", "--x V", "-xV", "-x V"; 2 "--x-V" */
	bool action;	  /* the option is an action (one per run) */
};

/*
 * In dpkg 1.21's order: a long option is the first entry that matches it,
 * by its whole name or as a prefix followed by '=' (or '-' when it takes a
 * value the second way). Options a later dpkg adds are unknown here: the
 * hook then fails open rather than mistake a value for an argument.
 */
static const struct dpkg_option dpkg_options[] = {
	{"install", 'i', 0, true},
	{"unpack", 0, 0, true},
	{"record-avail", 'A', 0, true},
	{"configure", 0, 0, true},
	{"remove", 'r', 0, true},
	{"purge", 'P', 0, true},
	{"triggers-only", 0, 0, true},
	{"verify", 'V', 0, true},
	{"listfiles", 'L', 0, true},
	{"status", 's', 0, true},
	{"get-selections", 0, 0, true},
	{"set-selections", 0, 0, true},
	{"clear-selections", 0, 0, true},
	{"print-avail", 'p', 0, true},
	{"update-avail", 0, 0, true},
	{"merge-avail", 0, 0, true},
	{"clear-avail", 0, 0, true},
	{"forget-old-unavail", 0, 0, true},
	{"audit", 'C', 0, true},
	{"yet-to-unpack", 0, 0, true},
	{"list", 'l', 0, true},
	{"search", 'S', 0, true},
	{"assert", 0, 2, true},
	{"add-architecture", 0, 0, true},
	{"remove-architecture", 0, 0, true},
	{"print-architecture", 0, 0, true},
	{"print-foreign-architectures", 0, 0, true},
	{"predep-package", 0, 0, true},
	{"validate-pkgname", 0, 0, true},
	{"validate-trigname", 0, 0, true},
	{"validate-archname", 0, 0, true},
	{"validate-version", 0, 0, true},
	{"compare-versions", 0, 0, true},
	{"help", '?', 0, true},
	{"version", 0, 0, true},
	{"pre-invoke", 0, 1, false},
	{"post-invoke", 0, 1, false},
	{"path-exclude", 0, 1, false},
	{"path-include", 0, 1, false},
	{"verify-format", 0, 1, false},
	{"status-logger", 0, 1, false},
	{"status-fd", 0, 1, false},
	{"log", 0, 1, false},
	{"pending", 'a', 0, false},
	{"recursive", 'R', 0, false},
	{"no-act", 0, 0, false},
	{"dry-run", 0, 0, false},
	{"simulate", 0, 0, false},
	{"no-pager", 0, 0, false},
	{"no-debsig", 0, 0, false},
	{NULL, 'G', 0, false},
	{"selected-only", 'O', 0, false},
	{"triggers", 0, 0, false},
	{"no-triggers", 0, 0, false},
	{"no-also-select", 'N', 0, false},
	{"skip-same-version", 'E', 0, false},
	{"auto-deconfigure", 'B', 0, false},
	{"robot", 0, 0, false},
	{"root", 0, 1, false},
	{"abort-after", 0, 1, false},
	{"admindir", 0, 1, false},
	{"instdir", 0, 1, false},
	{"ignore-depends", 0, 1, false},
	{"force", 0, 2, false},
	{"refuse", 0, 2, false},
	{"no-force", 0, 2, false},
	{"debug", 'D', 1, false},
	{"build", 'b', 0, true},
	{"contents", 'c', 0, true},
	{"control", 'e', 0, true},
	{"info", 'I', 0, true},
	{"field", 'f', 0, true},
	{"extract", 'x', 0, true},
	{"vextract", 'X', 0, true},
	{"ctrl-tarfile", 0, 0, true},
	{"fsys-tarfile", 0, 0, true},
};

#define N_DPKG_OPTIONS (sizeof(dpkg_options) / sizeof(dpkg_options[0]))

/* What dpkg was asked to do. */
struct dpkg_cmd {
	const char *action; /* its long name: "install", "remove", ... */
	bool recursive;	    /* -R: the arguments are directories to search */
	bool pending;	    /* -a: the packages come from the database */
	bool no_act;	    /* --no-act, --dry-run, --simulate */
	char **args;	    /* the arguments after the options (borrowed) */
	size_t n_args;
};

/* The dpkg process that runs this hook. */
struct dpkg_proc {
	pid_t pid;
	int dir_fd;    /* /proc/PID, pinned */
	int cwd_fd;    /* its working directory: relative paths in its argv */
	char *cmdline; /* NUL-separated argv */
	char **argv;   /* into cmdline */
	size_t argc;
};

/* --- Finding dpkg --- */

/* Read the whole of DIR_FD/NAME (a /proc file, st_size 0) into *BUF, NUL-terminated. */
static int read_proc_file(int dir_fd, const char *name, size_t max, char **buf, size_t *len)
{
	size_t size = 4096, n = 0;
	char *b = NULL, *nb;
	ssize_t r;
	int fd, rc;

	fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (!b || n + 1 >= size) {
			if (b)
				size *= 2;
			if (size > max + 1) {
				rc = -E2BIG;
				goto out;
			}
			nb = realloc(b, size);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			b = nb;
		}
		r = read(fd, b + n, size - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	free(b);
	close(fd);
	return rc;
}

/* The parent of the process at DIR_FD, from its stat (the fields after the last ')'). */
static int parent_of(int dir_fd, pid_t *ppid)
{
	char *text = NULL, *paren;
	size_t len;
	int pid, rc;

	rc = read_proc_file(dir_fd, "stat", 65536, &text, &len);
	if (rc < 0)
		return rc;
	paren = strrchr(text, ')');
	rc = paren && sscanf(paren + 1, " %*c %d", &pid) == 1 && pid > 0 ? 0 : -PKGUARD_EPARSE;
	if (rc == 0)
		*ppid = (pid_t)pid;
	free(text);
	return rc;
}

/*
 * Is the process at DIR_FD dpkg? Its executable must be the dpkg binary,
 * compared by device and inode (a name in /proc/PID/comm or argv[0] proves
 * nothing), and it must run as root, real and effective.
 * Returns 1 yes, 0 no (*WHY says why), <0 when it cannot be read.
 */
static int is_dpkg(int dir_fd, const struct stat *dpkg_st, const char **why)
{
	struct stat st;
	char *status = NULL;
	size_t len;
	uid_t uid, euid;
	int rc;

	if (fstatat(dir_fd, "exe", &st, 0) < 0)
		return -errno;
	if (st.st_dev != dpkg_st->st_dev || st.st_ino != dpkg_st->st_ino) {
		*why = "does not run " DPKG_PROGRAM;
		return 0;
	}
	rc = read_proc_file(dir_fd, "status", 65536, &status, &len);
	if (rc == 0)
		rc = pkguard_status_uids(status, len, &uid, &euid);
	free(status);
	if (rc < 0)
		return rc;
	if (uid != 0 || euid != 0) {
		*why = "runs " DPKG_PROGRAM " but not as root";
		return 0;
	}
	return 1;
}

static int open_pid(struct cli *cli, pid_t pid)
{
	char name[32];

	snprintf(name, sizeof(name), "%d", (int)pid);
	return openat(pkguard_ctx_proc_fd(cli->ctx), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/*
 * Find the dpkg that runs this hook: the parent when the shell exec'd us
 * (dash and bash do for a lone command), else the grandparent, behind the
 * `sh -c` of system(). It stays put while we run: it is waiting for us.
 */
static int find_dpkg(struct cli *cli, struct dpkg_proc *d)
{
	struct stat dpkg_st;
	const char *why = NULL;
	pid_t pid = getppid(), next;
	int hop, rc;

	if (stat(DPKG_PROGRAM, &dpkg_st) < 0)
		return pkguard_fail(cli->ctx, -errno, "cannot find dpkg: '%s'", DPKG_PROGRAM);
	for (hop = 0; hop < 2; hop++) {
		d->dir_fd = open_pid(cli, pid);
		if (d->dir_fd < 0)
			return pkguard_fail(cli->ctx, -errno, "cannot read process %d", (int)pid);
		rc = is_dpkg(d->dir_fd, &dpkg_st, &why);
		if (rc < 0)
			return pkguard_fail(cli->ctx, rc, "cannot read process %d", (int)pid);
		if (rc == 1) {
			d->pid = pid;
			return 0;
		}
		rc = hop == 0 ? parent_of(d->dir_fd, &next) : 0;
		close(d->dir_fd);
		d->dir_fd = -1;
		if (rc < 0)
			return pkguard_fail(cli->ctx, rc, "cannot read process %d", (int)pid);
		if (hop == 1 || next <= 1)
			break;
		pid = next;
	}
	return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
			    "not run by dpkg's pre-invoke: neither the parent nor the grandparent "
			    "of this hook is " DPKG_PROGRAM " run by root (process %d %s)",
			    (int)pid, why ? why : "is not");
}

/* dpkg's argv, from /proc/PID/cmdline, and its working directory. */
static int read_dpkg_argv(struct cli *cli, struct dpkg_proc *d)
{
	size_t len, i, n = 0;
	int rc;

	rc = read_proc_file(d->dir_fd, "cmdline", CMDLINE_MAX, &d->cmdline, &len);
	if (rc < 0)
		return pkguard_fail(cli->ctx, rc, "cannot read dpkg's command line (process %d)",
				    (int)d->pid);
	/* The arguments are NUL-terminated; the last NUL may be missing if dpkg rewrote them. */
	for (i = 0; i < len; i++) {
		if (d->cmdline[i] == '\0' || i + 1 == len)
			n++;
	}
	d->argv = calloc(n + 1, sizeof(*d->argv));
	if (!d->argv)
		return pkguard_fail(cli->ctx, -ENOMEM, "cannot read dpkg's command line");
	for (i = 0; i < len; i += strlen(d->cmdline + i) + 1)
		d->argv[d->argc++] = d->cmdline + i;
	if (d->argc == 0)
		return pkguard_fail(cli->ctx, -PKGUARD_EPARSE, "dpkg (process %d) has no arguments",
				    (int)d->pid);
	d->cwd_fd = openat(d->dir_fd, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->cwd_fd < 0)
		return pkguard_fail(cli->ctx, -errno,
				    "cannot find dpkg's working directory (process %d)",
				    (int)d->pid);
	return 0;
}

static void dpkg_proc_release(struct dpkg_proc *d)
{
	if (d->dir_fd >= 0)
		close(d->dir_fd);
	if (d->cwd_fd >= 0)
		close(d->cwd_fd);
	free(d->argv);
	free(d->cmdline);
}

/* --- dpkg's options --- */

static int set_action(struct cli *cli, struct dpkg_cmd *cmd, const char *name)
{
	if (cmd->action)
		return pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
				    "dpkg's arguments name two actions: --%s and --%s", cmd->action,
				    name);
	cmd->action = name;
	return 0;
}

/* What an option does to the parts of the command line that matter here. */
static int apply_option(struct cli *cli, struct dpkg_cmd *cmd, const struct dpkg_option *o)
{
	if (o->action)
		return set_action(cli, cmd, o->name);
	if (!o->name)
		return 0;
	if (strcmp(o->name, "recursive") == 0)
		cmd->recursive = true;
	else if (strcmp(o->name, "pending") == 0)
		cmd->pending = true;
	else if (strcmp(o->name, "no-act") == 0 || strcmp(o->name, "dry-run") == 0 ||
		 strcmp(o->name, "simulate") == 0)
		cmd->no_act = true;
	return 0;
}

static const struct dpkg_option *find_long(const char *p, const char **value)
{
	size_t i, l;

	*value = NULL;
	for (i = 0; i < N_DPKG_OPTIONS; i++) {
		const struct dpkg_option *o = &dpkg_options[i];

		if (!o->name)
			continue;
		if (strcmp(p, o->name) == 0)
			return o;
		l = strlen(o->name);
		if (strncmp(p, o->name, l) == 0 && p[l] == (o->takes_value == 2 ? '-' : '=')) {
			*value = p + l + 1;
			return o;
		}
	}
	return NULL;
}

static const struct dpkg_option *find_short(char c)
{
	size_t i;

	for (i = 0; i < N_DPKG_OPTIONS; i++) {
		if (dpkg_options[i].short_name == c)
			return &dpkg_options[i];
	}
	return NULL;
}

/*
 * dpkg_options_parse(), as far as finding the action and its arguments
 * goes: options come first, up to "--" or the first word that is not one
 * ("-" alone is an argument); a value is attached or the next word; short
 * options bundle ("-iR"). An error dpkg would also make fails here too.
 */
static int parse_dpkg_argv(struct cli *cli, char **argv, size_t argc, struct dpkg_cmd *cmd)
{
	size_t i = 1;
	int rc;

	memset(cmd, 0, sizeof(*cmd));
	while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
		const char *p = argv[i++];

		if (strcmp(p, "--") == 0)
			break;
		if (p[1] == '-') {
			const struct dpkg_option *o;
			const char *value;

			o = find_long(p + 2, &value);
			if (!o)
				return pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
						    "dpkg's arguments: unknown option '%s'",
						    esc(0, p));
			if (o->takes_value && !value && i++ >= argc)
				return pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
						    "dpkg's arguments: '%s' without its value",
						    esc(0, p));
			if (!o->takes_value && value)
				return pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
						    "dpkg's arguments: '%s' takes no value",
						    esc(0, p));
			rc = apply_option(cli, cmd, o);
			if (rc < 0)
				return rc;
			continue;
		}
		for (p++; *p; p++) {
			const struct dpkg_option *o = find_short(*p);

			if (!o)
				return pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
						    "dpkg's arguments: unknown option '-%s'",
						    esc(0, (char[]){*p, '\0'}));
			if (o->takes_value) {
				/* The rest of the word is the value, else the next word. */
				if (p[1] == '\0' && i++ >= argc)
					return pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
							    "dpkg's arguments: '-%c' without its "
							    "value",
							    *p);
				rc = apply_option(cli, cmd, o);
				if (rc < 0)
					return rc;
				break;
			}
			if (p[1] == '=')
				return pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
						    "dpkg's arguments: '-%c' takes no value", *p);
			rc = apply_option(cli, cmd, o);
			if (rc < 0)
				return rc;
		}
	}
	cmd->args = argv + i;
	cmd->n_args = argc - i;
	return 0;
}

/* --- dpkg's root --- */

/* PATH made absolute and canonical, a relative one against dpkg's working directory. */
static int resolve_in_cwd(struct cli *cli, const struct dpkg_proc *d, const char *path, char *out)
{
	int err = 0;

	if (path[0] != '/' && fchdir(d->cwd_fd) < 0)
		return pkguard_fail(cli->ctx, -errno, "cannot enter dpkg's working directory");
	if (!realpath(path, out))
		err = errno;
	/* main() works from "/"; go back there whatever happened. */
	if (path[0] != '/' && chdir("/") < 0 && !err)
		err = errno;
	if (err)
		return pkguard_fail(cli->ctx, -err, "cannot resolve '%s'", esc(0, path));
	return 0;
}

/*
 * The root dpkg works on: DPKG_ROOT (empty for "/") is the final word of
 * its --root, --instdir, configuration and environment, so it wins over
 * pkguard's own --root, which can only have been given by mistake here.
 * The dpkg backend reads ROOT/var/lib/dpkg: an admin directory elsewhere
 * (dpkg --admindir) is a database pkguard would not see, so it is an error.
 */
static int use_dpkg_root(struct cli *cli, const struct dpkg_proc *d)
{
	const char *env_root = getenv("DPKG_ROOT"), *env_admin = getenv("DPKG_ADMINDIR");
	char root[PATH_MAX], admin[PATH_MAX], expected[PATH_MAX + 16];
	const char *current = pkguard_ctx_root(cli->ctx);
	const struct pkguard_pkgdb_ops *dpkg;
	struct stat a, b;
	int rc;

	if (env_root && env_root[0]) {
		rc = resolve_in_cwd(cli, d, env_root, root);
		if (rc < 0)
			return rc;
	} else {
		strcpy(root, "/");
	}
	if (strcmp(root, current) != 0) {
		if (strcmp(current, "/") != 0)
			pkguard_log(cli->ctx, PKGUARD_LOG_WARN,
				    "--root '%s' is not dpkg's root '%s': checking dpkg's",
				    esc(0, current), esc(1, root));
		rc = pkguard_ctx_set_root(cli->ctx, root);
		if (rc < 0)
			return rc;
	}
	snprintf(expected, sizeof(expected), "%s/var/lib/dpkg", strcmp(root, "/") == 0 ? "" : root);
	if (env_admin && env_admin[0]) {
		rc = resolve_in_cwd(cli, d, env_admin, admin);
		if (rc < 0)
			return rc;
		if (stat(admin, &a) < 0 || stat(expected, &b) < 0 || a.st_dev != b.st_dev ||
		    a.st_ino != b.st_ino)
			return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
					    "dpkg's admin directory '%s' is not '%s', the only "
					    "database pkguard reads for that root",
					    esc(0, admin), esc(1, expected));
	}
	dpkg = pkguard_pkgdb_find("dpkg");
	if (!dpkg)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "this pkguard was built without the dpkg backend");
	cli->backend = dpkg;
	return 0;
}

/* --- The packages --- */

struct targets {
	struct pkguard_run_target *items;
	char **owned; /* the strings behind the items */
	size_t n, n_owned;
};

static int own(struct targets *t, const char *s, const char **out)
{
	char **owned = realloc(t->owned, (t->n_owned + 1) * sizeof(*owned));

	if (!owned)
		return -ENOMEM;
	t->owned = owned;
	t->owned[t->n_owned] = strdup(s);
	if (!t->owned[t->n_owned])
		return -ENOMEM;
	*out = t->owned[t->n_owned++];
	return 0;
}

/* Add NAME (and its new version); a name seen before keeps the later version, as dpkg would. */
static int add_target(struct cli *cli, struct targets *t, const char *name, const char *version)
{
	struct pkguard_run_target *items;
	const char *v = NULL;
	size_t i;

	if (version && own(t, version, &v) < 0)
		return pkguard_fail(cli->ctx, -ENOMEM, "hook dpkg");
	for (i = 0; i < t->n; i++) {
		if (strcmp(t->items[i].name, name) == 0) {
			t->items[i].new_version = v;
			return 0;
		}
	}
	items = realloc(t->items, (t->n + 1) * sizeof(*items));
	if (!items)
		return pkguard_fail(cli->ctx, -ENOMEM, "hook dpkg");
	t->items = items;
	t->items[t->n] = (struct pkguard_run_target){.new_version = v};
	if (own(t, name, &t->items[t->n].name) < 0)
		return pkguard_fail(cli->ctx, -ENOMEM, "hook dpkg");
	t->n++;
	return 0;
}

static void targets_release(struct targets *t)
{
	size_t i;

	for (i = 0; i < t->n_owned; i++)
		free(t->owned[i]);
	free(t->owned);
	free(t->items);
}

/*
 * A package named for removal, as dpkg takes it: NAME or NAME:ARCH, in any
 * case (dpkg's package names are lowercase and its lookup folds case). The
 * target is NAME alone, every installed instance of it: that is the name
 * policies are written for ([package NAME]), and for a Multi-Arch: same
 * package it errs on the side of checking one instance too many.
 */
static int add_removal(struct cli *cli, struct targets *t, const char *arg)
{
	char name[REMOVAL_NAME_MAX];
	size_t i, n = strlen(arg);
	bool arch = false;

	if (n == 0 || n >= sizeof(name))
		return pkguard_fail(cli->ctx, -PKGUARD_EPARSE, "'%s' is not a package name",
				    esc(0, arg));
	for (i = 0; i <= n; i++) {
		char c = arg[i] >= 'A' && arg[i] <= 'Z' ? (char)(arg[i] - 'A' + 'a') : arg[i];

		if (c == ':' && !arch && i > 0 && i + 1 < n) {
			arch = true;
			name[i] = '\0';
			continue;
		}
		if (c && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   (!arch && strchr("+-.", c)) || (arch && c == '-')))
			return pkguard_fail(cli->ctx, -PKGUARD_EPARSE, "'%s' is not a package name",
					    esc(0, arg));
		if (!arch)
			name[i] = c;
	}
	return add_target(cli, t, name, NULL);
}

#ifdef PKGUARD_WITH_DPKG
/* The .deb files to read: their paths relative to dpkg's working directory. */
struct debs {
	char **paths;
	size_t n;
};

static int add_deb(struct cli *cli, struct debs *debs, const char *dir, const char *name)
{
	char **paths, *path;

	if (debs->n >= DEBS_MAX)
		return pkguard_fail(cli->ctx, -E2BIG, "more than %d .deb files", DEBS_MAX);
	if (dir ? asprintf(&path, "%s/%s", dir, name) < 0 : !(path = strdup(name)))
		return pkguard_fail(cli->ctx, -ENOMEM, "hook dpkg");
	paths = realloc(debs->paths, (debs->n + 1) * sizeof(*paths));
	if (!paths) {
		free(path);
		return pkguard_fail(cli->ctx, -ENOMEM, "hook dpkg");
	}
	debs->paths = paths;
	debs->paths[debs->n++] = path;
	return 0;
}

static void debs_release(struct debs *debs)
{
	size_t i;

	for (i = 0; i < debs->n; i++)
		free(debs->paths[i]);
	free(debs->paths);
}

struct walk {
	struct cli *cli;
	int cwd_fd;
	struct debs *debs;
	struct stat ancestors[WALK_DEPTH_MAX];
};

/*
 * dpkg --recursive runs `find DIR... -follow -name '*.deb' -type f`: every
 * regular file named *.deb (dot files too) under DIR, through symlinks,
 * which is what apt's --recursive directory is made of. A directory loop is
 * not entered twice.
 */
static int walk_dir(struct walk *w, const char *path, const struct stat *st, unsigned depth)
{
	struct dirent *de;
	DIR *dir;
	unsigned i;
	int fd, rc = 0;

	if (depth >= WALK_DEPTH_MAX)
		return pkguard_fail(w->cli->ctx, -ELOOP, "'%s' is nested too deep", esc(0, path));
	for (i = 0; i < depth; i++) {
		if (w->ancestors[i].st_dev == st->st_dev && w->ancestors[i].st_ino == st->st_ino)
			return 0;
	}
	w->ancestors[depth] = *st;
	fd = openat(w->cwd_fd, path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return pkguard_fail(w->cli->ctx, -errno, "cannot read directory '%s'",
				    esc(0, path));
	dir = fdopendir(fd);
	if (!dir) {
		rc = pkguard_fail(w->cli->ctx, -errno, "cannot read directory '%s'", esc(0, path));
		close(fd);
		return rc;
	}
	while (rc == 0 && (errno = 0, de = readdir(dir))) {
		struct stat est;
		char *sub = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* -follow: what a symlink points to decides; a dangling one is skipped. */
		if (fstatat(dirfd(dir), de->d_name, &est, 0) < 0)
			continue;
		if (S_ISREG(est.st_mode) && fnmatch("*.deb", de->d_name, 0) == 0) {
			rc = add_deb(w->cli, w->debs, path, de->d_name);
		} else if (S_ISDIR(est.st_mode)) {
			if (asprintf(&sub, "%s/%s", path, de->d_name) < 0) {
				sub = NULL;
				rc = pkguard_fail(w->cli->ctx, -ENOMEM, "hook dpkg");
			} else {
				rc = walk_dir(w, sub, &est, depth + 1);
			}
			free(sub);
		}
	}
	if (rc == 0 && errno != 0)
		rc = pkguard_fail(w->cli->ctx, -errno, "cannot read directory '%s'", esc(0, path));
	closedir(dir);
	return rc;
}

/*
 * The .deb files of an install or unpack. Without --recursive an argument
 * is a .deb; a directory is searched all the same, as dpkg does when its
 * configuration says "recursive" (and otherwise it refuses the directory).
 */
static int collect_debs(struct cli *cli, const struct dpkg_proc *d, const struct dpkg_cmd *cmd,
			struct debs *debs)
{
	struct walk w = {cli, d->cwd_fd, debs, {{0}}};
	const char *base;
	struct stat st;
	size_t i;
	int rc;

	for (i = 0; i < cmd->n_args; i++) {
		const char *arg = cmd->args[i];

		if (fstatat(d->cwd_fd, arg, &st, 0) == 0 && S_ISDIR(st.st_mode)) {
			rc = walk_dir(&w, arg, &st, 0);
		} else if (cmd->recursive) {
			/* find's starting point is tested like the rest. */
			base = strrchr(arg, '/');
			base = base ? base + 1 : arg;
			rc = 0;
			if (fstatat(d->cwd_fd, arg, &st, 0) == 0 && S_ISREG(st.st_mode) &&
			    fnmatch("*.deb", base, 0) == 0)
				rc = add_deb(cli, debs, NULL, arg);
		} else {
			rc = add_deb(cli, debs, NULL, arg);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* --- The hook --- */

/* The .deb files that could not be read. */
struct bad_debs {
	size_t n, total;
	char first[512]; /* the first one's message */
};

/*
 * Read every .deb. dpkg installs the ones it can read and reports the
 * others, so one bad file does not hide the rest: the readable ones become
 * targets, the others are counted in BAD and fail open afterwards.
 */
static int read_debs(struct cli *cli, const struct dpkg_proc *d, const struct debs *debs,
		     struct targets *t, struct bad_debs *bad)
{
	struct pkguard_debinfo info;
	size_t i;
	int rc;

	for (i = 0; i < debs->n; i++) {
		rc = pkguard_debfile_read(cli->ctx, d->cwd_fd, debs->paths[i], &info);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			if (bad->n++ == 0)
				snprintf(bad->first, sizeof(bad->first), "%s",
					 pkguard_ctx_errmsg(cli->ctx));
			continue;
		}
		rc = add_target(cli, t, info.package, info.version);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The targets of an install or unpack: the packages in its .deb files. */
static int deb_targets(struct cli *cli, const struct dpkg_proc *d, const struct dpkg_cmd *cmd,
		       struct targets *t, struct bad_debs *bad)
{
	struct debs debs = {0};
	int rc;

	rc = collect_debs(cli, d, cmd, &debs);
	if (rc == 0)
		rc = read_debs(cli, d, &debs, t, bad);
	bad->total = debs.n;
	debs_release(&debs);
	return rc;
}
#else
struct bad_debs {
	size_t n, total;
	char first[512];
};

static int deb_targets(struct cli *cli, const struct dpkg_proc *d, const struct dpkg_cmd *cmd,
		       struct targets *t, struct bad_debs *bad)
{
	return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
			    "this pkguard was built without the dpkg backend: cannot read .deb "
			    "files");
}
#endif

/*
 * PKGUARD_DISABLE=1 dpkg ...: the admin's way to let one dpkg run through
 * unchecked (dpkg has no option that skips a configured hook), the same
 * variable and the same words as for apt and rpm (pkguard_run_disabled()).
 */
static bool disabled(struct cli *cli, const char *action)
{
	struct pkguard_run_opts opts = cli_run_opts(cli, PKGUARD_RUN_ACT, ENTRY);
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "disabled by PKGUARD_DISABLE=1 for this dpkg run: dpkg --%s not checked", action);
	return pkguard_run_disabled(cli->ctx, &opts, msg);
}

static bool modifies_files(const char *action)
{
	return strcmp(action, "install") == 0 || strcmp(action, "unpack") == 0 ||
	       strcmp(action, "remove") == 0 || strcmp(action, "purge") == 0;
}

int hook_dpkg(struct cli *cli, int argc, char **argv)
{
	const char *action = getenv("DPKG_HOOK_ACTION");
	struct dpkg_proc d = {.dir_fd = -1, .cwd_fd = -1};
	struct targets t = {0};
	struct bad_debs bad = {0};
	struct dpkg_cmd cmd;
	const char *stage = "finding dpkg's packages";
	size_t i;
	int rc;

	if (!action)
		return pkguard_fail(
			cli->ctx, -PKGUARD_EUSAGE,
			"hook dpkg: run by dpkg's pre-invoke only (no DPKG_HOOK_ACTION)");
	/* Configure, triggers-only, add-architecture...: no file is replaced. */
	if (!modifies_files(action))
		return 0;
	/*
	 * A frontend runs this dpkg. apt sets DPKG_FRONTEND_LOCKED on every
	 * dpkg it runs, after its own Pre-Install-Pkgs hook (pkguard hook apt)
	 * saw the whole transaction, with versions, before any dpkg call:
	 * checking each dpkg call again would only repeat that, with less
	 * information. The limit: any frontend that holds the lock may set it,
	 * and one that does not run apt's hooks (or an admin who sets it by
	 * hand) passes unchecked.
	 */
	if (getenv("DPKG_FRONTEND_LOCKED")) {
		pkguard_log(cli->ctx, PKGUARD_LOG_DEBUG,
			    "DPKG_FRONTEND_LOCKED: a frontend runs dpkg and checked it: skipped");
		return 0;
	}
	if (disabled(cli, action))
		return 0;

	if (argc != 0) {
		rc = pkguard_fail(cli->ctx, -PKGUARD_EUSAGE, "hook dpkg takes no arguments");
		goto fail_open;
	}
	rc = find_dpkg(cli, &d);
	if (rc == 0)
		rc = read_dpkg_argv(cli, &d);
	if (rc == 0)
		rc = parse_dpkg_argv(cli, d.argv, d.argc, &cmd);
	if (rc == 0 && (!cmd.action || strcmp(cmd.action, action) != 0))
		rc = pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
				  "dpkg's arguments name action '%s', DPKG_HOOK_ACTION '%s'",
				  cmd.action ? cmd.action : "(none)", esc(0, action));
	if (rc < 0)
		goto fail_open;
	/* dpkg --no-act changes nothing; without arguments it refuses by itself. */
	if (cmd.no_act || (cmd.n_args == 0 && !cmd.pending)) {
		rc = 0;
		goto out;
	}
	rc = use_dpkg_root(cli, &d);
	if (rc < 0)
		goto fail_open;

	if (strcmp(action, "remove") == 0 || strcmp(action, "purge") == 0) {
		if (cmd.pending) {
			rc = pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
					  "dpkg --%s --pending: pkguard cannot tell which packages "
					  "are selected for removal",
					  action);
			goto fail_open;
		}
		for (i = 0; i < cmd.n_args && rc == 0; i++)
			rc = add_removal(cli, &t, cmd.args[i]);
		if (rc < 0)
			goto fail_open;
	} else {
		stage = "reading the packages";
		rc = deb_targets(cli, &d, &cmd, &t, &bad);
		if (rc < 0)
			goto fail_open;
	}

	if (t.n > 0) {
		rc = cli_hook_run(cli, ENTRY, t.items, t.n);
		if (rc == CLI_IN_USE) {
			/* A refusal stands, whatever else failed; the rest is still said. */
			if (bad.n > 0)
				fprintf(stderr,
					"pkguard: warning: %zu .deb file%s could not be read; the "
					"first: %s\n",
					bad.n, bad.n == 1 ? "" : "s", bad.first);
			goto out;
		}
		if (rc < 0) {
			stage = "checking the packages";
			goto fail_open;
		}
	}
	if (bad.n > 0) {
		if (bad.n == 1)
			rc = pkguard_fail(cli->ctx, 1, "%s", bad.first);
		else
			rc = pkguard_fail(cli->ctx, 1,
					  "%zu of %zu .deb files cannot be read; the first: %s",
					  bad.n, bad.total, bad.first);
		stage = "reading the packages";
		goto fail_open;
	}
	goto out;

fail_open:
	rc = cli_hook_fail_open(cli, ENTRY, stage);
out:
	targets_release(&t);
	dpkg_proc_release(&d);
	return rc;
}
