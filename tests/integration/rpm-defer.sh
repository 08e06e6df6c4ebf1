#!/bin/bash
# Integration: pkguard's rpm plugin deferring, with the real rpm in a
# private root (rpm-lib.sh) that has dnf's versionlock plugin configured
# and zypper's configuration directory, the two front-ends whose lock files
# are the rpm world's hold (backends/rpm/hold.c). While demo-daemon runs:
#  - a test transaction (dnf's first pass) already refuses, records the
#    deferral and places the hold: dnf's real pass never comes;
#  - `rpm -U` of 2.0 is refused (exit 1), deferred, held in both files;
#  - `pkguard resume` keeps it while the daemon runs, and once it stops
#    lifts pkguard's locks (the admin's stay) and ends the deferral; the
#    next upgrade goes through.
#
# Usage: rpm-defer.sh PKGUARD HELPERS_DIR PLUGIN (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/rpm-lib.sh"
rpm_lib_init "$@"
rpm_demos_at_1

VLCONF=$R/etc/dnf/plugins/versionlock.conf
VLLIST=$R/etc/dnf/plugins/versionlock.list
ZLOCKS=$R/etc/zypp/locks
mkdir -p "${VLCONF%/*}" "${ZLOCKS%/*}"
printf '[main]\nenabled = 1\nlocklist = /etc/dnf/plugins/versionlock.list\n' >"$VLCONF"
# The admin's own locks, which pkguard must keep as they are.
printf '# Added lock on Mon Jan  1 00:00:00 2026\nadmin-pkg-0:1.0-1.*\n' >"$VLLIST"
printf 'type: package\nmatch_type: glob\ncase_sensitive: on\nsolvable_name: admin-pkg\n\n' >"$ZLOCKS"
admin_vl=$(cat "$VLLIST")
admin_z=$(cat "$ZLOCKS")

policy '[package demo-daemon]
action = defer'
start_daemon
daemon=$DAEMON_PID
exe_inode=$(inode "$R$DAEMON")

# --- the test transaction refuses and defers
rpm_run -U --test "$(rpm_file demo-daemon 2.0)"
expect "--test: rpm exits 1" eq "$RC" 1
expect "--test: pkguard's message" rpm_said "^error: pkguard: deferring the change to demo-daemon 1\\.0-1 -> 2\\.0-1"
expect "--test: the deferral recorded" eq \
  "$(sq "SELECT count FROM deferrals WHERE package = 'demo-daemon' AND ended IS NULL")" 1
expect "--test: dnf's versionlock holds 1.0" grep -qx 'demo-daemon-0:1\.0-1\.\*' "$VLLIST"

# --- the real transaction
rpm_run -U "$(rpm_file demo-daemon 2.0)"
expect "defer: rpm exits 1" eq "$RC" 1
expect "defer: pkguard's message" rpm_said "^error: pkguard: deferring the change to demo-daemon 1\\.0-1 -> 2\\.0-1"
expect "defer: says it is held back" rpm_said "held back; pkguard resume lifts the hold"
expect "defer: still 1.0" eq "$(rpm_version demo-daemon)" 1.0
expect "defer: the same executable" eq "$(inode "$R$DAEMON")" "$exe_inode"
expect "defer: counted twice" eq \
  "$(sq "SELECT count FROM deferrals WHERE package = 'demo-daemon' AND ended IS NULL")" 2
expect "defer: one versionlock entry" eq "$(grep -c '^demo-daemon-' "$VLLIST")" 1
expect "defer: marked as pkguard's" grep -qx '# pkguard: deferred demo-daemon' "$VLLIST"
expect "defer: zypper's lock" grep -qx 'solvable_name: demo-daemon' "$ZLOCKS"
expect "defer: the hold recorded" eq "$(sq "SELECT backend FROM holds WHERE package = 'demo-daemon'")" rpm
pgr status
expect "status: lists the deferral" grep -q "demo-daemon" "$OUT"

# --- resume while it runs: nothing changes
pgr resume
expect "resume while running: exit 0" eq "$RC" 0
expect "resume while running: stays deferred" grep -q "demo-daemon: still in use, stays deferred" "$OUT"
expect "resume while running: still locked" grep -qx 'demo-daemon-0:1\.0-1\.\*' "$VLLIST"

# --- resume once it stopped
stop "$daemon"
pgr resume
expect "resume: exit 0" eq "$RC" 0
expect "resume: hold lifted" grep -q "^demo-daemon: hold lifted" "$OUT"
expect "resume: versionlock back to the admin's" eq "$(cat "$VLLIST")" "$admin_vl"
expect "resume: zypper's locks back to the admin's" eq "$(cat "$ZLOCKS")" "$admin_z"
expect "resume: the deferral ended" eq \
  "$(sq "SELECT count(*) FROM deferrals WHERE package = 'demo-daemon' AND ended IS NULL")" 0
rpm_run -U "$(rpm_file demo-daemon 2.0)"
expect "after resume: rpm exits 0" eq "$RC" 0
expect "after resume: 2.0 installed" eq "$(rpm_version demo-daemon)" 2.0

rpm_finish
