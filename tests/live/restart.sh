#!/bin/bash
# shellcheck disable=SC2016 # sqlite programs
# Live: `restart` stops the unit of a running instance before the
# transaction and starts it after, also after a crash (resume).
#
# systemd cannot run as PID 1 on these machines, so the service manager here
# is a stand-in: a script that records its calls and really stops and starts
# the test daemon, which runs in a cgroup named like a systemd service
# (name=systemd:/system.slice/<unit>), exactly what pkguard reads to find a
# process's unit. Without a name=systemd cgroup hierarchy the test skips.
#
# Usage: restart.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/lib.sh"
lib_init "$@"

HIER=/sys/fs/cgroup/systemd
if ! grep -q ' /sys/fs/cgroup/systemd cgroup .*name=systemd' /proc/mounts; then
  echo "SKIP: no name=systemd cgroup hierarchy to give the daemon a unit"
  exit 77
fi
UNIT="pkguard-test-$$.service"
CG="$HIER/system.slice/$UNIT"
mkdir -p "$CG"

R="$T/root"
make_live_demo "$R"
STATE="$T/state.db"
CALLS="$T/calls"

# The stand-in service manager: "stop UNIT" kills the unit's processes and
# waits for them; "start UNIT" starts the daemon again inside the unit.
cat >"$T/fake-systemctl" <<FAKE_END
#!/bin/bash
set -eu
echo "\$1 \$2" >>"$CALLS"
[ "\$2" = "$UNIT" ] || { echo "unknown unit \$2" >&2; exit 5; }
case \$1 in
stop)
  pids=\$(cat "$CG/cgroup.procs")
  [ -z "\$pids" ] || kill \$pids
  for i in \$(seq 500); do [ -z "\$(cat "$CG/cgroup.procs")" ] && exit 0; sleep 0.01; done
  exit 1 ;;
start)
  setsid "$R/usr/bin/live-demo" 300 </dev/null >/dev/null 2>&1 &
  echo \$! >"$CG/cgroup.procs" ;;
*) exit 2 ;;
esac
FAKE_END
chmod 0755 "$T/fake-systemctl"

printf '[pkguard]\ndenied = warn\nservice-manager = %s\n[package live-demo]\naction = restart\n' \
  "$T/fake-systemctl" >"$T/restart.conf"
PKGUARD_CONF=$T/restart.conf

unit_pids()
{
  tr '\n' ' ' <"$CG/cgroup.procs" | sed 's/ $//'
}

stopped_pending()
{
  sqlite3 "$STATE" 'SELECT count(*) FROM stopped_units WHERE started IS NULL'
}

# Also kill what the stand-in started (not our children), and drop the cgroup.
extra_cleanup()
{
  local pid
  for pid in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill "$pid" 2>/dev/null || :; done
  for _ in $(seq 200); do [ -z "$(cat "$CG/cgroup.procs" 2>/dev/null)" ] && break; sleep 0.01; done
  rmdir "$CG" 2>/dev/null || :
  cleanup
}
trap extra_cleanup EXIT

spawn "$R/usr/bin/live-demo" 300
daemon=$READY
wait_exe "$daemon" "$R/usr/bin/live-demo"
echo "$daemon" >"$CG/cgroup.procs"
expect "the daemon is in its unit" grep -q "system.slice/$UNIT" "/proc/$daemon/cgroup"

pg --root "$R" check live-demo
expect "check: would restart" grep -q "^live-demo 1.0 (all): restart:" "$OUT"
expect "check: nothing stopped by a dry run" eq "$(cat "$CALLS" 2>/dev/null || :)" ""

pg --root "$R" hook manual live-demo=2.0
expect "hook: allowed" eq "$RC" 0
expect "hook: the unit was stopped" eq "$(cat "$CALLS")" "stop $UNIT"
expect "hook: the daemon is gone" dead "$daemon"
expect "hook: says what it did" grep -q "live-demo: stopped 1 unit" "$OUT.err"
expect "hook: the stop is recorded" eq "$(stopped_pending)" 1
unset "STARTED[$daemon]"

pg --root "$R" post manual
expect "post: the unit was started" eq "$(tail -n 1 "$CALLS")" "start $UNIT"
expect "post: a daemon runs in the unit again" eval '[ -n "$(unit_pids)" ]'
expect "post: nothing left pending" eq "$(stopped_pending)" 0

# A crash between stop and post: resume starts the unit.
pg --root "$R" hook manual live-demo=2.0
expect "crash: stopped again" eq "$(tail -n 1 "$CALLS")" "stop $UNIT"
expect "crash: pending" eq "$(stopped_pending)" 1
pg --root "$R" resume
expect "resume: exit 0" eq "$RC" 0
expect "resume: the unit was started" eq "$(tail -n 1 "$CALLS")" "start $UNIT"
expect "resume: nothing left pending" eq "$(stopped_pending)" 0

# An instance outside any service unit cannot be restarted: `then` (block).
spawn "$R/usr/bin/live-demo" 300
loose=$READY
wait_exe "$loose" "$R/usr/bin/live-demo"
calls_before=$(wc -l <"$CALLS")
pg --root "$R" hook manual live-demo=2.0
expect "no unit: refused" eq "$RC" 1
expect "no unit: says why" grep -q "is in no service unit: then block" "$OUT.err"
expect "no unit: nothing stopped" eq "$(wc -l <"$CALLS")" "$calls_before"
stop "$loose"

finish
