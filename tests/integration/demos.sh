# shellcheck shell=bash disable=SC2034
# The demo packages' contents, the same for every package manager's tests
# (sourced by apt-lib.sh and rpm-lib.sh; $HELPERS is tests/helpers' build):
#   demo-daemon  /usr/bin/demo-daemon (t-daemon, an ELF daemon that execs
#                its helper from disk every few seconds),
#                /usr/libexec/demo-daemon/demo-helper (a copy of /bin/true),
#                /usr/share/demo-daemon/version
#   demo-job     /usr/bin/demo-job (t-lock: a job that holds
#                /var/lib/demo-job/.lock, certbot-style: root's, 0600, not a
#                package file, while it works), /usr/share/demo-job/version
#   demo-other   /usr/share/demo-other/version, used by no one
# Each fill_NAME TREE VERSION puts one version's files into TREE.

DAEMON=/usr/bin/demo-daemon
HELPER=/usr/libexec/demo-daemon/demo-helper
JOB=/usr/bin/demo-job
JOB_LOCK=/var/lib/demo-job/.lock

fill_daemon()
{
  mkdir -p "$1/usr/bin" "$1/usr/libexec/demo-daemon" "$1/usr/share/demo-daemon"
  install -m 0755 "$HELPERS/t-daemon" "$1$DAEMON"
  install -m 0755 /bin/true "$1$HELPER"
  echo "demo-daemon $2" >"$1/usr/share/demo-daemon/version"
}

fill_job()
{
  mkdir -p "$1/usr/bin" "$1/var/lib/demo-job" "$1/usr/share/demo-job"
  install -m 0755 "$HELPERS/t-lock" "$1$JOB"
  echo "demo-job $2" >"$1/usr/share/demo-job/version"
}

fill_other()
{
  mkdir -p "$1/usr/share/demo-other"
  echo "demo-other $2" >"$1/usr/share/demo-other/version"
}


# start_daemon: demo-daemon runs from the root (sets DAEMON_PID) and has
# exec'd its helper once: it is an instance, and the helper's user.
start_daemon()
{
  hold "$R$DAEMON" "$R$HELPER" 2
  DAEMON_PID=$READY
  wait_for "$HOLD_ERR" "^ran $R$HELPER: status 0\$"
}
