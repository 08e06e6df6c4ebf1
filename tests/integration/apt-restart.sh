#!/bin/bash
# shellcheck disable=SC2016 # sqlite programs
# Integration: pkguard's apt hook restarting, with the real apt and dpkg in a
# private root (apt-lib.sh). demo-daemon runs in a cgroup named like a
# systemd service; with action = restart, apt's Pre-Install-Pkgs hook has the
# service manager stop the unit before dpkg runs and apt's Post-Invoke (post
# apt) has it start the unit again after, on the new version.
#
# systemd cannot run as PID 1 here, so the service manager is a stand-in (as
# in tests/live/restart.sh): a script that records its calls and really stops
# and starts the daemon in the unit's cgroup (name=systemd:/system.slice/
# <unit>, what pkguard reads). Without a name=systemd hierarchy the test skips.
#
# Usage: apt-restart.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/apt-lib.sh"
apt_lib_init "$@"

HIER=/sys/fs/cgroup/systemd
if ! grep -q ' /sys/fs/cgroup/systemd cgroup .*name=systemd' /proc/mounts; then
  echo "SKIP: no name=systemd cgroup hierarchy to give the daemon a unit"
  exit 77
fi
UNIT="pkguard-apt-test-$$.service"
CG="$HIER/system.slice/$UNIT"
mkdir -p "$CG"
CALLS="$T/calls"

# The daemon the stand-in starts reads its stdin from this FIFO, which we
# keep open for writing: t-daemon stops at EOF on stdin.
mkfifo "$T/daemon.in"
exec {keep_open}<>"$T/daemon.in"

# The stand-in service manager: "stop UNIT" kills the unit's processes and
# waits for them; "start UNIT" starts the daemon inside the unit (it joins
# the cgroup before it execs).
cat >"$T/fake-systemctl" <<FAKE_END
#!/bin/bash
set -eu
# What the unit was asked to do, and the version installed at that moment.
echo "\$1 \$2 \$(cat "$R/usr/share/demo-daemon/version")" >>"$CALLS"
[ "\$2" = "$UNIT" ] || { echo "unknown unit \$2" >&2; exit 5; }
case \$1 in
stop)
  pids=\$(cat "$CG/cgroup.procs")
  [ -z "\$pids" ] || kill \$pids
  for i in \$(seq 500); do [ -z "\$(cat "$CG/cgroup.procs")" ] && exit 0; sleep 0.01; done
  exit 1 ;;
start)
  setsid sh -c 'echo \$\$ >"$CG/cgroup.procs" && exec "$R$DAEMON" "$R$HELPER" 2' \
    <"$T/daemon.in" >/dev/null 2>&1 &
  for i in \$(seq 500); do [ -n "\$(cat "$CG/cgroup.procs")" ] && exit 0; sleep 0.01; done
  exit 1 ;;
*) exit 2 ;;
esac
FAKE_END
chmod 0755 "$T/fake-systemctl"

unit_pids()
{
  tr '\n' ' ' <"$CG/cgroup.procs" | sed 's/ $//'
}

# Also kill what the stand-in started (not our children), and drop the cgroup.
restart_cleanup()
{
  local pid
  while read -r pid; do kill "$pid" 2>/dev/null || :; done <"$CG/cgroup.procs" 2>/dev/null || :
  for _ in $(seq 200); do [ -z "$(cat "$CG/cgroup.procs" 2>/dev/null)" ] && break; sleep 0.01; done
  rmdir "$CG" 2>/dev/null || :
  cleanup
}
trap restart_cleanup EXIT

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

exec {keep_open}>&-
apt_finish
