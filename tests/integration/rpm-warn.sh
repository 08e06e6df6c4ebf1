#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Integration: pkguard's rpm plugin warning, with the real rpm in a private
# root (rpm-lib.sh). With action = warn the upgrade of a running
# demo-daemon goes on with a warning; afterwards the daemon runs the
# replaced executable (the old inode, which rpm renamed over), which the
# plugin's post step (tsm_post) records and `pkguard needs-restart` lists.
#
# Usage: rpm-warn.sh PKGUARD HELPERS_DIR PLUGIN (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/rpm-lib.sh"
rpm_lib_init "$@"
rpm_demos_at_1

policy '[package demo-daemon]
action = warn'
start_daemon
daemon=$DAEMON_PID
old_inode=$(inode "$R$DAEMON")

pgr needs-restart
expect "before: nothing needs a restart" eq "$RC" 0

rpm_run -U "$(rpm_file demo-daemon 2.0)"
expect "warn: rpm exits 0" eq "$RC" 0
expect "warn: pkguard's warning through rpmlog" \
  rpm_said "^warning: pkguard: replacing the files of demo-daemon while it is in use"
expect "warn: demo-daemon 2.0" eq "$(rpm_version demo-daemon)" 2.0
expect "warn: the new files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 2.0"
expect "warn: a new executable" eval "[ \"\$(inode '$R$DAEMON')\" != '$old_inode' ]"
expect "warn: the daemon still runs" alive "$daemon"
expect "warn: it runs the old inode" eq "$(stat -L -c %i "/proc/$daemon/exe")" "$old_inode"
expect "warn: recorded" eq "$(last_action demo-daemon)" warn
expect "post: the post step ran" eq \
  "$(sq "SELECT entry || ' ' || coalesce(verdict, '-') FROM runs ORDER BY id DESC LIMIT 1")" "post rpm done"
expect "post: says a process runs replaced files" rpm_said "^pkguard: [0-9]+ process(es)? now runs? replaced files"
expect "post: recorded the daemon" eq \
  "$(sq "SELECT count(*) FROM needs_restart WHERE package = 'demo-daemon' AND pid = $daemon")" 1

pgr needs-restart
expect "needs-restart: exit 1" eq "$RC" 1
expect "needs-restart: the daemon's row" grep -Eq \
  "^ +$daemon +root +demo-daemon +exe +demo-daemon +/usr/bin/demo-daemon\$" "$OUT"
pgr --json status
expect "status: the daemon needs a restart" jq_true --argjson pid "$daemon" \
  'any(.needs_restart[].processes[]; .pid == $pid and .files[0].package == "demo-daemon")'

# Restarted on 2.0, it no longer needs one.
stop "$daemon"
start_daemon
pgr needs-restart
expect "restarted: nothing needs a restart" eq "$RC" 0
stop "$DAEMON_PID"

rpm_finish
