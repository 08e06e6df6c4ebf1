/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard: the sysadmin's interface and the program the package-manager hooks
 * run. main() sanitises the process, parses the global options, builds the
 * context, dispatches to one command, and maps its result to an exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const struct pkguard_command *const commands[] = {
	&cmd_check, &cmd_scan,	 &cmd_status, &cmd_needs_restart,
	&cmd_allow, &cmd_resume, &cmd_hook,   &cmd_post,
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char *const log_prefix[] = {
	[PKGUARD_LOG_ERR] = "error",
	[PKGUARD_LOG_WARN] = "warning",
	[PKGUARD_LOG_INFO] = "info",
	[PKGUARD_LOG_DEBUG] = "debug",
};

static void stderr_logger(void *userdata, enum pkguard_log_level level, const char *msg)
{
	/* What was done ("started x again") is said plainly; the rest says what it is. */
	if (level == PKGUARD_LOG_INFO)
		fprintf(stderr, "pkguard: %s\n", msg);
	else
		fprintf(stderr, "pkguard: %s: %s\n", log_prefix[level], msg);
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: pkguard [--root DIR] [--backend NAME] [--config FILE] [--state FILE]\n"
		     "               [--json] COMMAND [ARGS]\n"
		     "\n"
		     "Finds the running processes that use the files of installed packages.\n"
		     "\n"
		     "Commands:\n");
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-13s %-11s %s\n", commands[i]->name, commands[i]->args,
			commands[i]->summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  --root DIR      the installed system to look at (default /); its files are\n"
		"                  matched to processes by device and inode\n"
		"  --backend NAME  package database to read (default: the one managing DIR):");
	for (i = 0; pkguard_pkgdb_backends[i]; i++)
		fprintf(out, " %s", pkguard_pkgdb_backends[i]->name);
	fprintf(out,
		"\n"
		"  --config FILE   read FILE and FILE's directory's policy.d/*.conf instead\n"
		"                  of /etc/pkguard/pkguard.conf and the policy.d directories\n"
		"  --state FILE    the state database (default " PKGUARD_STATE_DEFAULT_PATH ")\n"
		"  --json          machine-readable output\n"
		"  --format NAME   status only: text, json or openmetrics\n"
		"  -v, --verbose   more messages on stderr\n"
		"  -h, --help      this help\n"
		"  -V, --version   the version\n"
		"\n"
		"Exit status: 0 allowed (check: nothing in use, or allow/warn/restart), 1 refused\n"
		"(check: wait, defer or block), 2 usage or configuration error, or unknown\n"
		"package, 3 internal error.\n");
}

/*
 * pkguard runs as root under package managers that pass on whatever they got:
 * closed stdio, odd signal dispositions, a user's PATH and TMPDIR. Start from
 * a known state (threats.md #18).
 */
static void sanitise_process(void)
{
	static const char *const keep[] = {"TERM", "NO_COLOR", "DPKG_", "APT_HOOK_INFO_FD",
					   "PKGUARD_"};
	extern char **environ;
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;
	char **env, **out;
	int fd, sig;
	size_t i;

	/* fds 0-2 open, so no file of ours lands on them and takes stray writes. */
	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
			int nfd = open("/dev/null", O_RDWR);

			if (nfd >= 0 && nfd != fd)
				close(nfd);
		}
	}
	umask(077);
	/*
	 * One malloc arena: the scan's worker thread would otherwise get one of
	 * its own, about a megabyte of peak RSS for tables it hands over and
	 * frees (the library leaves the host process's malloc alone: rpm's).
	 */
	mallopt(M_ARENA_MAX, 1);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* An allow-list of the environment, in place. */
	for (env = out = environ; env && *env; env++) {
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			size_t n = strlen(keep[i]);
			bool prefix = keep[i][n - 1] == '_';

			if (strncmp(*env, keep[i], n) == 0 && (prefix || (*env)[n] == '=')) {
				*out++ = *env;
				break;
			}
		}
	}
	if (out)
		*out = NULL;
	setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("LC_ALL", "C", 1);
}

/* PATH made absolute against the current directory (it need not exist yet). */
static const char *absolute(const char *path, char *buf, size_t size)
{
	char cwd[PATH_MAX];

	if (!path || path[0] == '/')
		return path;
	if (!getcwd(cwd, sizeof(cwd)) || (size_t)snprintf(buf, size, "%s/%s", cwd, path) >= size)
		return NULL;
	return buf;
}

static int exit_status(struct cli *cli, int rc)
{
	if (rc >= 0)
		return rc == CLI_IN_USE ? PKGUARD_EXIT_IN_USE : PKGUARD_EXIT_OK;
	fprintf(stderr, "pkguard: %s\n", pkguard_ctx_errmsg(cli->ctx));
	if (rc == -PKGUARD_EUSAGE || rc == -PKGUARD_ENOPKG)
		return PKGUARD_EXIT_USAGE;
	return PKGUARD_EXIT_INTERNAL;
}

/*
 * Make our zero-filled static memory (.bss) present and writable before the
 * package database loads, for the commands that load it while other threads
 * of ours run (struct pkguard_command's prefault). Most of it is libdpkg's hash bins (2.5 MiB): it
 * reads a bin before it writes it, so a bin's page first maps the kernel's
 * zero page, and the first write replaces it, which means a TLB flush on
 * every CPU running another of our threads. Once the early threads run
 * (pkguard_scan_early_start()) that was an IPI per page, and on this 2-CPU
 * VM it cost the package database load about 6 ms of a check (perf: faults
 * under pkg_hash_find_set and fsys_hash_find_node). Populating the range
 * keeps the contents and costs about 1 ms, so a thread of its own does it
 * while the configuration is read: a page not mapped yet needs no flush.
 * Not for the others: scan leaves the 2 MiB of file bins untouched (it reads
 * the files lists itself), and prefaulting them cost it 2 MiB of peak RSS.
 * Kernels before 5.14 refuse the advice; then nothing changes.
 */
static void *prefault_static(void *arg)
{
	extern char __bss_start[], _end[];
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)__bss_start & ~(page - 1);
	uintptr_t end = ((uintptr_t)_end + page - 1) & ~(page - 1);

	(void)arg;
	madvise((void *)start, end - start, MADV_POPULATE_WRITE);
	return NULL;
}

/* prefault_static() in a thread of its own, or here if there can be none. */
static void start_prefault(void)
{
	pthread_attr_t attr;
	pthread_t thread;
	bool started = false;

	if (pthread_attr_init(&attr) == 0) {
		started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
			  pthread_create(&thread, &attr, prefault_static, NULL) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!started)
		prefault_static(NULL);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"root", required_argument, NULL, 'r'},	 {"backend", required_argument, NULL, 'b'},
		{"json", no_argument, NULL, 'j'},	 {"config", required_argument, NULL, 'c'},
		{"state", required_argument, NULL, 's'}, {"format", required_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},	 {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	 {NULL, 0, NULL, 0},
	};
	const char *root = "/", *backend = NULL;
	char root_abs[PATH_MAX], config_abs[PATH_MAX], state_abs[PATH_MAX];
	struct cli cli = {0};
	bool verbose = false;
	int opt, rc;
	size_t i;

	sanitise_process();
	while ((opt = getopt_long(argc, argv, "+vhV", options, NULL)) != -1) {
		switch (opt) {
		case 'r':
			root = optarg;
			break;
		case 'b':
			backend = optarg;
			break;
		case 'j':
			cli.json = true;
			break;
		case 'c':
			cli.config_path = optarg;
			break;
		case 's':
			cli.state_path = optarg;
			break;
		case 'f':
			cli.format = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return PKGUARD_EXIT_OK;
		case 'V':
			printf("pkguard %s\n", PKGUARD_VERSION);
			return PKGUARD_EXIT_OK;
		default:
			usage(stderr);
			return PKGUARD_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return PKGUARD_EXIT_USAGE;
	}
	/* The root is kept as an absolute path: we chdir("/") below. */
	if (!realpath(root, root_abs)) {
		fprintf(stderr, "pkguard: cannot use root '%s': %s\n", root, strerror(errno));
		return PKGUARD_EXIT_USAGE;
	}
	cli.config_path = absolute(cli.config_path, config_abs, sizeof(config_abs));
	cli.state_path = absolute(cli.state_path, state_abs, sizeof(state_abs));
	if (chdir("/") < 0) {
		fprintf(stderr, "pkguard: cannot chdir to '/': %s\n", strerror(errno));
		return PKGUARD_EXIT_INTERNAL;
	}

	rc = pkguard_ctx_new(&cli.ctx);
	if (rc < 0) {
		fprintf(stderr, "pkguard: cannot start: %s\n", pkguard_strerror(rc));
		return PKGUARD_EXIT_INTERNAL;
	}
	pkguard_ctx_set_logger(cli.ctx, stderr_logger, NULL);
	pkguard_ctx_set_log_level(cli.ctx, verbose ? PKGUARD_LOG_DEBUG : PKGUARD_LOG_INFO);
	rc = pkguard_ctx_set_root(cli.ctx, root_abs);
	if (rc < 0)
		goto out;
	if (backend) {
		cli.backend = pkguard_pkgdb_find(backend);
		if (!cli.backend) {
			rc = pkguard_fail(
				cli.ctx, -PKGUARD_EUSAGE,
				"unknown backend '%s' (this build has:%s%s)", backend,
				pkguard_pkgdb_backends[0] ? " " : " none",
				pkguard_pkgdb_backends[0] ? pkguard_pkgdb_backends[0]->name : "");
			goto out;
		}
	} else {
		cli.backend = pkguard_pkgdb_detect(root_abs);
	}

	for (i = 0; i < N_COMMANDS; i++) {
		if (strcmp(argv[optind], commands[i]->name) == 0)
			break;
	}
	if (i == N_COMMANDS) {
		rc = pkguard_fail(cli.ctx, -PKGUARD_EUSAGE,
				  "unknown command '%s' (see pkguard --help)", argv[optind]);
		goto out;
	}
	if (commands[i]->prefault) {
		/* The first thread: one started while another of ours runs is slow here. */
		pkguard_scan_early_begin(cli.ctx);
		start_prefault();
	}
	rc = commands[i]->run(&cli, argc - optind, argv + optind);
out:
	rc = exit_status(&cli, rc);
	pkguard_scan_early_cancel();
	pkguard_ctx_free(cli.ctx);
	if (fflush(stdout) == EOF && rc == PKGUARD_EXIT_OK)
		rc = PKGUARD_EXIT_INTERNAL;
	return rc;
}
