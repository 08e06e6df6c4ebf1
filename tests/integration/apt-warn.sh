#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Integration: pkguard's apt hook warning, with the real apt and dpkg in a
# private root (apt-lib.sh). With action = warn the upgrade of a running
# demo-daemon goes on with a warning; afterwards the daemon runs the
# replaced executable (the old inode), which the post step records and
# `pkguard needs-restart` lists.
#
# Usage: apt-warn.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/apt-lib.sh"
apt_lib_init "$@"
apt_demos_at_1

policy '[package demo-daemon]
action = warn'
start_daemon
daemon=$DAEMON_PID
publish demo-daemon_1.0 demo-daemon_2.0 demo-job_1.0 demo-other_1.0
old_inode=$(inode "$R$DAEMON")

pga needs-restart
expect "before: nothing needs a restart" eq "$RC" 0

apt_get install demo-daemon=2.0
expect "warn: apt exits 0" eq "$RC" 0
expect "warn: pkguard's warning" apt_said "^pkguard: warning: replacing the files of demo-daemon while it is in use"
expect "warn: demo-daemon 2.0" eq "$(pkg_state demo-daemon)" "install ok installed 2.0"
expect "warn: the new files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 2.0"
expect "warn: a new executable" eval "[ \"\$(inode '$R$DAEMON')\" != '$old_inode' ]"
expect "warn: the daemon still runs" alive "$daemon"
expect "warn: it runs the old inode" eq "$(stat -L -c %i "/proc/$daemon/exe")" "$old_inode"
expect "warn: recorded" eq "$(last_action demo-daemon)" warn
expect "post: the post step ran" eq \
  "$(sq "SELECT entry || ' ' || coalesce(verdict, '-') FROM runs ORDER BY id DESC LIMIT 1")" "post apt done"
expect "post: says a process runs replaced files" apt_said "^pkguard: [0-9]+ process(es)? now runs? replaced files"
expect "post: recorded the daemon" eq \
  "$(sq "SELECT count(*) FROM needs_restart WHERE package = 'demo-daemon' AND pid = $daemon")" 1

pga needs-restart
expect "needs-restart: exit 1" eq "$RC" 1
expect "needs-restart: the daemon's row" grep -Eq \
  "^ +$daemon +root +demo-daemon +exe +demo-daemon +/usr/bin/demo-daemon\$" "$OUT"
pga --json needs-restart
expect "needs-restart --json: the daemon runs the replaced executable" jq_true --argjson pid "$daemon" \
  'any(.units[].processes[] | select(.pid == $pid) | .files[];
       .use == "exe" and .file == "/usr/bin/demo-daemon" and .packages == ["demo-daemon"])'
expect "needs-restart --json: nobody else" jq_true --argjson pid "$daemon" \
  '[.units[].processes[].pid] | unique == [$pid]'

# Restarted on 2.0, it no longer needs one.
stop "$daemon"
start_daemon
pga needs-restart
expect "restarted: nothing needs a restart" eq "$RC" 0
stop "$DAEMON_PID"

apt_finish
