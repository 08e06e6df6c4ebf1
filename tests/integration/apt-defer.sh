#!/bin/bash
# Integration: pkguard's apt hook deferring, with the real apt and dpkg in a
# private root (apt-lib.sh). While demo-daemon runs, `apt-get upgrade`
# (demo-daemon and demo-other) is refused, the deferral recorded and the
# package held with dpkg's own selection (the dpkg backend's hold, run
# inside apt's hook); the next `apt-get upgrade` upgrades demo-other and
# keeps demo-daemon back. Once the daemon stops, `pkguard resume` lifts the
# hold it placed and the next upgrade installs demo-daemon 2.0. A hold the
# admin placed is never lifted.
#
# Usage: apt-defer.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/apt-lib.sh"
apt_lib_init "$@"
apt_demos_at_1

policy '[package demo-daemon]
action = defer'
start_daemon
daemon=$DAEMON_PID
publish demo-daemon_1.0 demo-daemon_2.0 demo-job_1.0 demo-other_1.0 demo-other_2.0
exe_inode=$(inode "$R$DAEMON")

apt_get upgrade
expect "defer: apt exits 100" eq "$RC" 100
expect "defer: pkguard's message" apt_said "^pkguard: deferring the change to demo-daemon 1\\.0 -> 2\\.0"
expect "defer: says it held it back" apt_said "held back; pkguard resume lifts the hold"
expect "defer: dpkg never ran: demo-daemon" eq "$(inode "$R$DAEMON")" "$exe_inode"
expect "defer: dpkg never ran: demo-other" eq "$(cat "$R/usr/share/demo-other/version")" "demo-other 1.0"
expect "defer: the selection is hold" eq "$(selection demo-daemon)" hold
expect "defer: dpkg status" eq "$(pkg_state demo-daemon)" "hold ok installed 1.0"
expect "defer: demo-other untouched" eq "$(pkg_state demo-other)" "install ok installed 1.0"
expect "defer: recorded" eq "$(last_action demo-daemon)" defer
expect "defer: the deferral" eq \
  "$(sq "SELECT package || ' ' || version || ' ' || count FROM deferrals WHERE ended IS NULL")" \
  "demo-daemon 2.0 1"
expect "defer: the hold is pkguard's" eq "$(sq "SELECT package || ' ' || backend FROM holds")" "demo-daemon dpkg"

apt_get upgrade
expect "next upgrade: apt exits 0" eq "$RC" 0
expect "next upgrade: demo-daemon kept back" kept_back demo-daemon
expect "next upgrade: demo-other upgraded" eq "$(pkg_state demo-other)" "install ok installed 2.0"
expect "next upgrade: demo-other's new file" eq "$(cat "$R/usr/share/demo-other/version")" "demo-other 2.0"
expect "next upgrade: demo-daemon held at 1.0" eq "$(pkg_state demo-daemon)" "hold ok installed 1.0"
expect "next upgrade: the same executable" eq "$(inode "$R$DAEMON")" "$exe_inode"

pga resume
expect "resume while running: exit 0" eq "$RC" 0
expect "resume while running: stays deferred" grep -q "demo-daemon: still in use, stays deferred" "$OUT"
expect "resume while running: still held" eq "$(selection demo-daemon)" hold

stop "$daemon"
pga resume
expect "resume: exit 0" eq "$RC" 0
expect "resume: hold lifted" grep -q "^demo-daemon: hold lifted" "$OUT"
expect "resume: selection back to install" eq "$(selection demo-daemon)" install
expect "resume: no hold recorded" eq "$(sq "SELECT count(*) FROM holds")" 0
expect "resume: no active deferral" eq "$(sq "SELECT count(*) FROM deferrals WHERE ended IS NULL")" 0

apt_get upgrade
expect "upgrade after resume: apt exits 0" eq "$RC" 0
expect "upgrade after resume: demo-daemon 2.0" eq "$(pkg_state demo-daemon)" "install ok installed 2.0"
expect "upgrade after resume: the new files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 2.0"
expect "upgrade after resume: recorded as allow" eq "$(last_action demo-daemon)" allow

# The admin's own hold: pkguard resume leaves it.
echo "demo-other hold" | dpkg --root="$R" --set-selections
pga resume
expect "admin's hold: untouched by resume" eq "$(selection demo-other)" hold

apt_finish
