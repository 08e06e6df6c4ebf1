#!/bin/bash
# shellcheck disable=SC2016 # sqlite programs
# Integration: pkguard's apt hook restarting, with the real apt and dpkg in a
# private root (apt-lib.sh). demo-daemon runs in a cgroup named like a
# systemd service; with action = restart, apt's Pre-Install-Pkgs hook has the
# service manager stop the unit before dpkg runs and apt's Post-Invoke (post
# apt) has it start the unit again after, on the new version.
#
# systemd cannot run as PID 1 here, so the service manager is a stand-in
# (standin-units.sh). Without a name=systemd hierarchy the test skips.
#
# Usage: apt-restart.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/apt-lib.sh"
. "$(dirname "$0")/standin-units.sh"
apt_lib_init "$@"

standin_init apt

apt_demos_at_1
policy "service-manager = $T/fake-systemctl
[package demo-daemon]
action = restart"
start_daemon
daemon=$DAEMON_PID
echo "$daemon" >"$CG/cgroup.procs"
expect "the daemon is in its unit" grep -q "system.slice/$UNIT" "/proc/$daemon/cgroup"
publish demo-daemon_1.0 demo-daemon_2.0 demo-job_1.0 demo-other_1.0

apt_get install demo-daemon=2.0
expect "restart: apt exits 0" eq "$RC" 0
expect "restart: stopped before dpkg, started after" eq "$(tr '\n' ';' <"$CALLS")" \
  "stop $UNIT demo-daemon 1.0;start $UNIT demo-daemon 2.0;"
expect "restart: says it stopped the unit" apt_said "^pkguard: demo-daemon: stopped 1 unit"
expect "restart: the old daemon is gone" dead "$daemon"
unset "STARTED[$daemon]"
expect "restart: demo-daemon 2.0" eq "$(pkg_state demo-daemon)" "install ok installed 2.0"
expect "restart: the stop recorded, and the start" eq \
  "$(sq "SELECT count(*) FROM stopped_units WHERE unit = '$UNIT' AND started IS NOT NULL")" 1
restarted=
for pid in $(unit_pids); do
  if [ "/proc/$pid/exe" -ef "$R$DAEMON" ]; then restarted=$pid; fi
done
expect "restart: the unit runs the new executable again" nonempty "$restarted"
expect "restart: recorded as allowed once stopped" eq \
  "$(sq "SELECT action || ': ' || (detail LIKE '%stopped 1 unit%') FROM targets WHERE name = 'demo-daemon' ORDER BY id DESC LIMIT 1")" \
  "allow: 1"
pga needs-restart
expect "restart: nothing needs a restart" eq "$RC" 0

standin_done
apt_finish
