# shellcheck shell=bash disable=SC2034
# A stand-in for systemctl, for the restart tests (sourced after apt-lib.sh
# or rpm-lib.sh): systemd cannot run as PID 1 here, so, as in
# tests/live/restart.sh, a script records its calls and really stops and
# starts demo-daemon in the unit's cgroup (name=systemd:/system.slice/<unit>,
# what pkguard reads to find a process's unit).
#
# standin_init KIND sets UNIT, CG (its cgroup), CALLS (one line per call:
# "stop|start UNIT VERSION-FILE-CONTENT") and $T/fake-systemctl, and skips
# the test (77) without a name=systemd hierarchy. standin_done before the
# end; the EXIT trap kills what the stand-in started and drops the cgroup.

# Every process in the unit's cgroup, space-separated.
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

standin_init()
{
  local hier=/sys/fs/cgroup/systemd
  if ! grep -q ' /sys/fs/cgroup/systemd cgroup .*name=systemd' /proc/mounts; then
    echo "SKIP: no name=systemd cgroup hierarchy to give the daemon a unit"
    exit 77
  fi
  UNIT="pkguard-$1-test-$$.service"
  CG="$hier/system.slice/$UNIT"
  mkdir -p "$CG"
  CALLS="$T/calls"
  trap restart_cleanup EXIT

  # The daemon the stand-in starts reads its stdin from this FIFO, which we
  # keep open for writing: t-daemon stops at EOF on stdin.
  mkfifo "$T/daemon.in"
  exec {keep_open}<>"$T/daemon.in"

  # "stop UNIT" kills the unit's processes and waits for them; "start UNIT"
  # starts the daemon inside the unit (it joins the cgroup before it execs).
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
}

standin_done()
{
  exec {keep_open}>&-
}
