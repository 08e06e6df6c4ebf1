#!/bin/bash
# shellcheck disable=SC2016 # sqlite programs
# Integration: pkguard's rpm plugin restarting, with the real rpm in a
# private root (rpm-lib.sh). demo-daemon runs in a cgroup named like a
# systemd service; with action = restart, the plugin's tsm_pre has the
# service manager stop the unit before rpm touches a file, and its tsm_post
# has it start the unit again after, on the new version. A test
# transaction stops nothing.
#
# systemd cannot run as PID 1 here, so the service manager is a stand-in
# (standin-units.sh). Without a name=systemd hierarchy the test skips.
#
# Usage: rpm-restart.sh PKGUARD HELPERS_DIR PLUGIN (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/rpm-lib.sh"
. "$(dirname "$0")/standin-units.sh"
rpm_lib_init "$@"
standin_init rpm

rpm_demos_at_1
policy "service-manager = $T/fake-systemctl
[package demo-daemon]
action = restart"
start_daemon
daemon=$DAEMON_PID
echo "$daemon" >"$CG/cgroup.procs"
expect "the daemon is in its unit" grep -q "system.slice/$UNIT" "/proc/$daemon/cgroup"

rpm_run -U --test "$(rpm_file demo-daemon 2.0)"
expect "--test: rpm exits 0" eq "$RC" 0
expect "--test: stopped nothing" eval "[ ! -s '$CALLS' ]"
expect "--test: the daemon still runs" alive "$daemon"

rpm_run -U "$(rpm_file demo-daemon 2.0)"
expect "restart: rpm exits 0" eq "$RC" 0
expect "restart: stopped before rpm, started after" eq "$(tr '\n' ';' <"$CALLS")" \
  "stop $UNIT demo-daemon 1.0;start $UNIT demo-daemon 2.0;"
expect "restart: says it stopped the unit" rpm_said "^pkguard: demo-daemon: stopped 1 unit"
expect "restart: says it started it again" rpm_said "^pkguard: started $UNIT again"
expect "restart: the old daemon is gone" dead "$daemon"
unset "STARTED[$daemon]"
expect "restart: demo-daemon 2.0" eq "$(rpm_version demo-daemon)" 2.0
expect "restart: the stop recorded, and the start" eq \
  "$(sq "SELECT count(*) FROM stopped_units WHERE unit = '$UNIT' AND started IS NOT NULL")" 1
restarted=
for pid in $(unit_pids); do
  if [ "/proc/$pid/exe" -ef "$R$DAEMON" ]; then restarted=$pid; fi
done
expect "restart: the unit runs the new executable again" nonempty "$restarted"
pgr needs-restart
expect "restart: nothing needs a restart" eq "$RC" 0

standin_done
rpm_finish
