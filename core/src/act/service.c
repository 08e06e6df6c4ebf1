/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkguard/act.h"

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

int pkguard_service_manager(struct pkguard_ctx *ctx, const char *configured, char *program,
			    size_t size, enum pkguard_service_kind *kind)
{
	static const char *const systemctl[] = {"/usr/bin/systemctl", "/bin/systemctl"};
	static const char *const rc_service[] = {"/sbin/rc-service", "/usr/sbin/rc-service"};
	struct stat st;
	size_t i;
	bool systemd = strcmp(configured, "systemd") == 0;
	bool openrc = strcmp(configured, "openrc") == 0;

	if (configured[0] == '/') {
		if (!executable(configured))
			return pkguard_fail(ctx, -PKGUARD_EUSAGE,
					    "service manager '%s' is not an executable file",
					    configured);
		snprintf(program, size, "%s", configured);
		*kind = PKGUARD_SERVICE_PROGRAM;
		return 0;
	}
	if (!systemd && !openrc && strcmp(configured, "auto") != 0)
		return pkguard_fail(ctx, -PKGUARD_EUSAGE, "unknown service manager '%s'",
				    configured);
	/* systemd's own test for "booted with systemd" (sd_booted()). */
	if (!openrc &&
	    (systemd || (lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode)))) {
		for (i = 0; i < 2; i++) {
			if (executable(systemctl[i])) {
				snprintf(program, size, "%s", systemctl[i]);
				*kind = PKGUARD_SERVICE_SYSTEMD;
				return 0;
			}
		}
	}
	if (!systemd) {
		for (i = 0; i < 2; i++) {
			if (executable(rc_service[i])) {
				snprintf(program, size, "%s", rc_service[i]);
				*kind = PKGUARD_SERVICE_OPENRC;
				return 0;
			}
		}
	}
	return 1;
}

bool pkguard_unit_name_valid(const char *unit)
{
	size_t n = strlen(unit);
	const char *p;

	/* systemd's unit name alphabet; no leading '-', which would read as an option. */
	if (n == 0 || n > 255 || unit[0] == '-' || unit[0] == '.')
		return false;
	for (p = unit; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(":_.\\@-", *p)))
			return false;
	}
	return true;
}

int pkguard_service_run(struct pkguard_ctx *ctx, const char *program,
			enum pkguard_service_kind kind, const char *unit, bool start,
			uint64_t timeout_ms)
{
	char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL};
	const char *verb = start ? "start" : "stop";
	char name[256];
	char *argv[4];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	struct pollfd pfd;
	pid_t pid;
	int status, pidfd, rc;

	if (!pkguard_unit_name_valid(unit))
		return pkguard_fail(ctx, -PKGUARD_EUNSAFE, "refusing unit name '%s'", unit);
	snprintf(name, sizeof(name), "%s", unit);
	argv[0] = (char *)program;
	if (kind == PKGUARD_SERVICE_OPENRC) {
		/* OpenRC names services without systemd's suffix. */
		char *dot = strrchr(name, '.');

		if (dot && strcmp(dot, ".service") == 0)
			*dot = '\0';
		argv[1] = name;
		argv[2] = (char *)verb;
	} else {
		argv[1] = (char *)verb;
		argv[2] = name;
	}
	argv[3] = NULL;

	/* stdin from /dev/null; stdout joins stderr so it never mixes with our results. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	posix_spawnattr_init(&attr);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&pid, program, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return pkguard_fail(ctx, -rc, "cannot run '%s %s %s'", program, argv[1], argv[2]);

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		pfd = (struct pollfd){.fd = pidfd, .events = POLLIN};
		rc = poll(&pfd, 1, timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms);
		if (rc == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pidfd);
			return pkguard_fail(ctx, -ETIMEDOUT, "'%s %s %s' did not finish in %llu ms",
					    program, argv[1], argv[2],
					    (unsigned long long)timeout_ms);
		}
		close(pidfd);
	}
	if (waitpid(pid, &status, 0) < 0)
		return pkguard_fail(ctx, -errno, "cannot wait for '%s'", program);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return pkguard_fail(ctx, -PKGUARD_EINTERNAL, "'%s %s %s' exited with status %d",
				    program, argv[1], argv[2], WEXITSTATUS(status));
	return pkguard_fail(ctx, -PKGUARD_EINTERNAL, "'%s %s %s' was killed by signal %d", program,
			    argv[1], argv[2], WTERMSIG(status));
}
