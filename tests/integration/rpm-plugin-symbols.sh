#!/bin/bash
# The rpm plugin as an object: it exports pkguard_hooks and nothing else
# (rpm looks up <name>_hooks; anything more could clash with rpm's or another
# plugin's symbols), and it calls nothing that would change the rpm process
# it runs in: no exit or abort, no signal disposition or mask, no
# environment, umask, working directory, root, credentials, limits or
# locale. (A call made only through a library it links, sqlite or inih,
# is not seen here; neither calls any of these.)
#
# Usage: rpm-plugin-symbols.sh PLUGIN
set -eu
PLUGIN=$1
command -v nm >/dev/null || {
  echo "SKIP: nm is not installed"
  exit 77
}
failed=0
exports=$(nm -D --defined-only "$PLUGIN" | awk '{ print $3 }' | sort | tr '\n' ' ')
if [ "$exports" = "pkguard_hooks " ]; then
  echo "ok - exports only pkguard_hooks"
else
  echo "not ok - exports only pkguard_hooks: it exports $exports"
  failed=1
fi
forbidden='exit|_exit|_Exit|abort|signal|sigaction|sigprocmask|pthread_sigmask|sigsuspend|alarm|setitimer|setenv|putenv|unsetenv|clearenv|umask|chdir|fchdir|chroot|setlocale|uselocale|setuid|seteuid|setreuid|setresuid|setgid|setegid|setresgid|setrlimit|prlimit|daemon|setsid'
calls=$(nm -D --undefined-only "$PLUGIN" | awk '{ print $2 }' | sed 's/@.*//' | grep -xE "$forbidden" | tr '\n' ' ' || :)
if [ -z "$calls" ]; then
  echo "ok - calls nothing that changes rpm's process"
else
  echo "not ok - calls nothing that changes rpm's process: it calls $calls"
  failed=1
fi
exit "$failed"
