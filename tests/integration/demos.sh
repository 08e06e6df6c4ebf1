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
# Each fill_NAME TREE VERSION puts one version's files into TREE. Also the
# helpers both package managers' tests use on $T and $STATE.

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

# policy TEXT: pkguard's configuration from now on ([pkguard] defaults
# first). Processes pkguard cannot read are ignored: some sandboxes deny even
# root their pid 1, which would otherwise turn every allow into a warning
# (denied = warn) or make every package look in use (the default). All the
# processes these tests start are readable. The path stays $PKGUARD_CONF:
# the hook snippet or the plugin's macro names it.
policy()
{
  printf '[pkguard]\ndenied = ignore\n%s\n[package demo-job]\nlockfile = %s\n' \
    "$1" "$JOB_LOCK" >"$T/pkguard.conf"
  PKGUARD_CONF=$T/pkguard.conf
}

# One value from the state database.
sq()
{
  sqlite3 "$STATE" "$1"
}

# The action of the last decision recorded for package NAME.
last_action()
{
  sq "SELECT action FROM targets WHERE name = '$1' ORDER BY id DESC LIMIT 1"
}

inode()
{
  stat -c %i "$1"
}
