/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pkguard hook apt: apt's DPkg::Pre-Install-Pkgs hook (hooks/apt/50pkguard).
 *
 * apt runs it through /bin/sh after downloading and before the first dpkg
 * call, holding its lock, and writes the whole transaction to the fd named
 * by APT_HOOK_INFO_FD (protocol version 3, see apthook.h), then closes it and
 * waits. A non-zero exit makes apt stop with exit status 100 before dpkg
 * runs, so this exits non-zero only for a deliberate refusal: anything else
 * that goes wrong, a stream it cannot read included, fails open (run.c).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

#define ENTRY "hook apt"

#ifdef PKGUARD_WITH_DPKG

#include "apthook.h"

/* apt's stream is its config dump (some 15 KiB) and a line per action. */
#define STREAM_MAX_BYTES (16u << 20)
/* apt writes it all at once before waiting for the hook: only a hung writer takes long. */
#define STREAM_TIMEOUT_MS 30000

/*
 * The fd apt writes to: APT_HOOK_INFO_FD (apt always sets it), else stdin.
 * A terminal there means an admin typed the command: apt never gives one.
 */
static int info_fd(struct cli *cli, int *fd)
{
	const char *s = secure_getenv("APT_HOOK_INFO_FD");
	size_t i;

	*fd = 0;
	if (s) {
		for (i = 0; i < 6 && s[i] >= '0' && s[i] <= '9'; i++)
			*fd = *fd * 10 + (s[i] - '0');
		if (i == 0 || s[i] != '\0')
			return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
					    "hook apt: APT_HOOK_INFO_FD='%s' is not a file "
					    "descriptor number",
					    esc(0, s));
	}
	if (isatty(*fd))
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "hook apt: this is apt's DPkg::Pre-Install-Pkgs hook: it reads "
				    "the transaction apt writes to it (on %s), not a terminal; to "
				    "check packages by hand use 'pkguard check PKG...'",
				    s ? "APT_HOOK_INFO_FD" : "stdin");
	return 0;
}

/* Read FD to its end, within STREAM_MAX_BYTES and STREAM_TIMEOUT_MS. */
static int read_stream(struct cli *cli, int fd, char **out, size_t *out_len)
{
	uint64_t deadline_ns = pkguard_now_ns() + (uint64_t)STREAM_TIMEOUT_MS * 1000000;
	size_t cap = 0, len = 0;
	char *buf = NULL, *grown;
	int rc;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now_ns = pkguard_now_ns();
		ssize_t n;

		if (now_ns >= deadline_ns) {
			rc = pkguard_fail(
				cli->ctx, -PKGUARD_EDEADLINE,
				"apt's stream on fd %d did not end within %d s (%zu bytes "
				"read)",
				fd, STREAM_TIMEOUT_MS / 1000, len);
			goto out;
		}
		rc = poll(&pfd, 1, (int)((deadline_ns - now_ns + 999999) / 1000000));
		if (rc < 0 && errno != EINTR) {
			rc = pkguard_fail(cli->ctx, -errno, "cannot wait for apt's stream on fd %d",
					  fd);
			goto out;
		}
		if (rc <= 0)
			continue;
		/* One byte over the cap tells a stream that is too large. */
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			if (cap > STREAM_MAX_BYTES + 1)
				cap = STREAM_MAX_BYTES + 1;
			grown = realloc(buf, cap);
			if (!grown) {
				rc = pkguard_fail(cli->ctx, -ENOMEM, "cannot read apt's stream");
				goto out;
			}
			buf = grown;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			rc = pkguard_fail(cli->ctx, -errno, "cannot read apt's stream on fd %d",
					  fd);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > STREAM_MAX_BYTES) {
			rc = pkguard_fail(cli->ctx, -PKGUARD_EPARSE,
					  "apt's stream on fd %d is larger than %u MiB", fd,
					  STREAM_MAX_BYTES >> 20);
			goto out;
		}
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return rc;
}

/*
 * PKGUARD_DISABLE=1 in apt's environment turns pkguard off for that run:
 * the escape hatch when pkguard is in the way and must not be, recorded so
 * that a skipped check stays visible (threats.md #19, #20).
 */
static bool disabled(struct cli *cli, const struct pkguard_apt_hook *hook, bool parsed)
{
	struct pkguard_run_opts opts = cli_run_opts(cli, PKGUARD_RUN_ACT, ENTRY);
	char msg[256];

	if (parsed)
		snprintf(msg, sizeof(msg),
			 "disabled by PKGUARD_DISABLE=1 for this apt run: %zu installed "
			 "package%s replaced without a check",
			 hook->n_targets, hook->n_targets == 1 ? "" : "s");
	else
		snprintf(msg, sizeof(msg),
			 "disabled by PKGUARD_DISABLE=1 for this apt run: nothing checked");
	return pkguard_run_disabled(cli->ctx, &opts, msg);
}

int hook_apt(struct cli *cli, int argc, char **argv)
{
	struct pkguard_apt_hook hook = {0};
	struct pkguard_run_target *targets = NULL;
	char *buf = NULL;
	size_t len = 0, i;
	int fd, rc;

	if (argc > 0)
		return pkguard_fail(cli->ctx, -PKGUARD_EUSAGE,
				    "hook apt: takes no arguments, found '%s' (apt runs it as "
				    "/etc/apt/apt.conf.d/50pkguard says)",
				    esc(0, argv[0]));
	rc = info_fd(cli, &fd);
	if (rc < 0)
		return rc;
	rc = read_stream(cli, fd, &buf, &len);
	if (rc == 0) {
		rc = pkguard_apt_hook_parse(buf, len, &hook);
		if (rc < 0)
			pkguard_fail(cli->ctx, rc, "%s", hook.error);
	}
	if (disabled(cli, &hook, rc == 0)) {
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		rc = cli_hook_fail_open(cli, ENTRY, "reading apt's hook stream");
		goto out;
	}
	pkguard_log(cli->ctx, PKGUARD_LOG_DEBUG,
		    "apt's stream: protocol %u, native arch %s, package lines %zu: installed "
		    "packages replaced %zu, fresh installs %zu, configure lines %zu",
		    hook.version, hook.native_arch ? esc(0, hook.native_arch) : "unknown",
		    hook.n_lines, hook.n_targets, hook.n_fresh, hook.n_configure);
	/* Fresh installs only: nothing installed is replaced, nothing to scan for. */
	if (hook.n_targets == 0)
		goto out;

	targets = calloc(hook.n_targets, sizeof(*targets));
	if (!targets) {
		pkguard_fail(cli->ctx, -ENOMEM, "cannot list apt's packages");
		rc = cli_hook_fail_open(cli, ENTRY, "reading apt's hook stream");
		goto out;
	}
	for (i = 0; i < hook.n_targets; i++)
		targets[i] = (struct pkguard_run_target){
			.name = hook.targets[i].name, .new_version = hook.targets[i].new_version};
	rc = cli_hook_run(cli, ENTRY, targets, hook.n_targets);
out:
	free(targets);
	free(buf);
	pkguard_apt_hook_release(&hook);
	return rc;
}

#else

/*
 * No dpkg backend, nothing to look packages up in: the upgrade goes on,
 * loudly. apt ignores SIGPIPE and write errors on the hook's pipe.
 */
int hook_apt(struct cli *cli, int argc, char **argv)
{
	pkguard_fail(cli->ctx, -ENOTSUP, "this pkguard was built without the dpkg backend");
	return cli_hook_fail_open(cli, ENTRY, "starting the apt hook");
}

#endif
