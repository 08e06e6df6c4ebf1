# shellcheck shell=bash disable=SC2016,SC2034
# Shared by the live and integration tests (sourced, not run): a temporary
# directory, processes started and stopped by pid, "ready PID" handshakes with
# the helpers of tests/helpers, a private dpkg root, pkguard runs and
# TAP-like assertions.
#
# Usage: . lib.sh; lib_init "$@"  (arguments: PKGUARD HELPERS_DIR)

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
unset CDPATH

PKGUARD=
HELPERS=
T=
PASSED=0
FAILED=0
READY=        # pid from the last "ready PID" line (hold)
HOLD_PARENT=  # the process hold started (differs from READY with --fork)
HOLD_ERR=     # its stderr file
RC=           # exit status of the last pg run
OUT=          # stdout file of the last pg run
LAST_WHAT=    # what produced $OUT, for not_ok
declare -A STARTED=() # pid -> start time: the only processes cleanup kills
declare -A HOLD_FDS=() # pid -> "stdin-fd stdout-fd" held open by us
N_RUNS=0
PKGUARD_CONF= # the configuration every pg run reads (lib_init writes it)
ESC=$(printf '\033')
ESC_NAME="${ESC}[2Jx" # clears the screen when printed raw

lib_init()
{
  if [ "$#" -ne 2 ]; then
    echo "usage: $0 PKGUARD HELPERS_DIR" >&2
    exit 2
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root"
    exit 77
  fi
  PKGUARD=$1
  HELPERS=$2
  local tool
  for tool in dpkg dpkg-deb jq timeout mkfifo; do
    command -v "$tool" >/dev/null || fail_setup "'$tool' is not installed"
  done
  [ -x "$PKGUARD" ] || fail_setup "no pkguard at '$PKGUARD'"
  T=$(mktemp -d /tmp/pkguard-test.XXXXXX)
  trap cleanup EXIT
  # check exits by the verdict: with "block", exit 1 means "in use". An
  # unreadable process (this sandbox's pid 1) only warns, so that it does
  # not make every package look in use.
  # The live-demo package's data file is its lockfile: locks count only on one.
  printf '[pkguard]\naction = block\ndenied = warn\n[package live-demo]\nlockfile = %s\n' \
    /var/lib/live-demo/data >"$T/pkguard.conf"
  PKGUARD_CONF=$T/pkguard.conf
  trap 'exit 130' INT TERM HUP
}

fail_setup()
{
  echo "setup failed: $*" >&2
  echo "$PASSED passed, $((FAILED + 1)) failed"
  exit 99
}

# The start time (clock ticks since boot) of PID, empty if it is gone.
start_time()
{
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  s=${s##*) } # comm may hold ") "; the fields after the last one are fixed
  # shellcheck disable=SC2086
  set -- $s
  echo "${20}"
}

# true while PID exists and is not a zombie
alive()
{
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}

# Kill only what we started, and only if the pid still names that process.
cleanup()
{
  local rc=$? pid
  trap - EXIT INT TERM HUP
  for pid in "${!STARTED[@]}"; do
    if [ "$(start_time "$pid")" = "${STARTED[$pid]}" ]; then
      kill "$pid" 2>/dev/null || :
    fi
  done
  for pid in "${!STARTED[@]}"; do
    wait "$pid" 2>/dev/null || :
  done
  [ -n "$T" ] && rm -rf "$T"
  exit "$rc"
}

dead()
{
  ! alive "$1"
}

remember()
{
  local st
  st=$(start_time "$1")
  [ -n "$st" ] && STARTED[$1]=$st
  return 0
}

# In a child about to exec: close the FIFO ends we hold for other helpers, or
# they would never see EOF on stdin while this child lives.
close_held()
{
  local fds fd
  for fds in "${HOLD_FDS[@]}"; do
    for fd in $fds; do
      exec {fd}>&-
    done
  done
}

# wait_for FILE REGEX: until a line of FILE matches (a helper's log).
wait_for()
{
  local i
  for ((i = 0; i < 1000; i++)); do
    grep -Eq "$2" "$1" && return 0
    sleep 0.01
  done
  fail_setup "no line matching '$2' in '$1'"
}

# spawn CMD...: run CMD in the background with stdin from /dev/null; sets READY.
spawn()
{
  local log="$T/spawn.$((++N_RUNS))"
  (
    close_held
    exec "$@"
  ) </dev/null >"$log" 2>&1 &
  READY=$!
  remember "$READY"
}

# wait_exe PID FILE: until PID has exec'd FILE (same device and inode).
wait_exe()
{
  local i
  for ((i = 0; i < 500; i++)); do
    [ "/proc/$1/exe" -ef "$2" ] && return 0
    alive "$1" || break
    sleep 0.01
  done
  fail_setup "process $1 did not start '$2'"
}

# hold CMD...: run a helper with its stdin and stdout on FIFOs and wait for
# its "ready PID" line. Sets READY to that pid (a forked child's with --fork)
# and HOLD_PARENT to the process started; a parent that exits after its
# child is ready is reaped here, so its pid is really gone. The helper runs
# until stop READY closes its stdin.
hold()
{
  local d="$T/hold.$((++N_RUNS))" in out line
  mkfifo "$d.in" "$d.out"
  (
    close_held
    exec "$@"
  ) <"$d.in" >"$d.out" 2>"$d.err" &
  HOLD_PARENT=$!
  remember "$HOLD_PARENT"
  # Both ends of each FIFO rendezvous: the child opens stdin, then stdout.
  exec {in}>"$d.in"
  exec {out}<"$d.out"
  if ! IFS= read -r -t 20 -u "$out" line || [[ ! $line =~ ^ready\ ([0-9]+)$ ]]; then
    echo "--- $* said:" >&2
    cat "$d.err" >&2
    fail_setup "no 'ready PID' line from: $*"
  fi
  READY=${BASH_REMATCH[1]}
  HOLD_ERR="$d.err"
  remember "$READY"
  HOLD_FDS[$READY]="$in $out"
  if [ "$READY" != "$HOLD_PARENT" ]; then
    wait "$HOLD_PARENT" || fail_setup "parent of $READY failed: $*"
    unset "STARTED[$HOLD_PARENT]"
  fi
}

# stop PID: end a process started by hold (EOF on its stdin) or spawn (SIGTERM)
# and wait until it is gone.
stop()
{
  local pid=$1 fd i
  if [ -n "${HOLD_FDS[$pid]:-}" ]; then
    for fd in ${HOLD_FDS[$pid]}; do
      exec {fd}>&-
    done
    unset "HOLD_FDS[$pid]"
  else
    kill "$pid" 2>/dev/null || :
  fi
  # Our own child is reaped by wait; an orphan by init.
  wait "$pid" 2>/dev/null || :
  for ((i = 0; i < 500; i++)); do
    alive "$pid" || break
    sleep 0.01
  done
  alive "$pid" && fail_setup "process $pid did not stop"
  unset "STARTED[$pid]"
}

# pg ARGS...: run pkguard; RC its status, OUT its stdout file, OUT.err stderr.
pg()
{
  LAST_WHAT="pkguard $*"
  OUT="$T/pg.$((++N_RUNS))"
  RC=0
  (
    close_held
    exec timeout 30 "$PKGUARD" --config "$PKGUARD_CONF" --state "$T/state.db" "$@"
  ) >"$OUT" 2>"$OUT.err" || RC=$?
}

# jq over the last pg output
jqo()
{
  jq "$@" "$OUT"
}

# jq_true ARGS... PROGRAM: the program's last output is true (quiet)
jq_true()
{
  jqo -e "$@" >/dev/null
}

# "PID PID ..." : sorted distinct pids that package PKG's findings name
pids_of()
{
  jqo -r --arg p "$1" '[.packages[] | select(.name == $p) | .processes[].pid] | unique | map(tostring) | join(" ")'
}

# "exe map ..." : sorted distinct reasons package PKG's findings give for PID
reasons_of()
{
  jqo -r --arg p "$1" --argjson pid "$2" \
    '[.packages[] | select(.name == $p) | .processes[] | select(.pid == $pid) | .reason] | unique | join(" ")'
}

# expect_idle DESC PKG: the last "pg --json check" found nothing for PKG and
# exited 0. (Processes that could not be read at all are listed in "denied"
# but do not count: some sandboxes deny even root /proc/1.)
expect_idle()
{
  expect "$1: not in use" eq "$(jqo -r --arg p "$2" \
    '.packages[] | select(.name == $p) | "\(.in_use) \(.instances) \(.users) \(.lock_holders) \(.processes | length)"')" \
    "false 0 0 0 0"
  expect "$1: exit status 0" eq "$RC" 0
}

ok()
{
  PASSED=$((PASSED + 1))
  echo "ok - $1"
}

not_ok()
{
  FAILED=$((FAILED + 1))
  echo "not ok - $1"
  if [ -n "$OUT" ] && [ -e "$OUT" ]; then
    echo "  # last command: ${LAST_WHAT:-pkguard}: exit $RC; stdout:"
    sed -n '1,60s/^/  #   /p' "$OUT" | cat -v
    sed -n '1,40s/^/  #   stderr: /p' "$OUT.err" | cat -v
  fi
}

# expect DESCRIPTION COMMAND...: one assertion
expect()
{
  local desc=$1
  shift
  if "$@"; then
    ok "$desc"
  else
    not_ok "$desc"
  fi
}

# eq A B: string equality, reporting both on mismatch
eq()
{
  [ "$1" = "$2" ] && return 0
  echo "  # expected '$2', got '$1'"
  return 1
}

# The final line; the exit status of the test.
nonempty()
{
  [ -n "$1" ]
}

finish()
{
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}

# make_deb DIR NAME VERSION: build $T/NAME_VERSION_all.deb from the tree in DIR.
make_deb()
{
  mkdir -p "$1/DEBIAN"
  printf '%s\n' "Package: $2" "Version: $3" "Architecture: all" \
    "Maintainer: pkguard tests <tests@example.invalid>" \
    "Description: pkguard test package" >"$1/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$1" "$T/$2_$3_all.deb" >/dev/null ||
    fail_setup "dpkg-deb could not build $2"
}

# make_root DIR: an empty dpkg root (the admin directory dpkg --root expects).
make_root()
{
  mkdir -p "$1/var/lib/dpkg/info" "$1/var/lib/dpkg/updates" "$1/var/lib/dpkg/triggers" \
    "$1/var/log"
  touch "$1/var/lib/dpkg/status" "$1/var/lib/dpkg/available"
}

# install_deb ROOT DEB: the real dpkg, into ROOT only (its log too: by default
# dpkg --root appends to the host's /var/log/dpkg.log).
install_deb()
{
  dpkg --root="$1" --log="$1/var/log/dpkg.log" --force-script-chrootless -i "$2" \
    >"$T/dpkg.log" 2>&1 || {
    cat "$T/dpkg.log" >&2
    fail_setup "dpkg could not install '$2' into '$1'"
  }
}

# A real shared object to copy: the C library this shell's tools map.
real_so()
{
  awk '$6 ~ /\/libc\.so/ { print $6; exit }' /proc/self/maps
}

# make_live_demo ROOT: install the package "live-demo" 1.0 into a new dpkg root:
#   /usr/bin/live-demo                          a copy of /bin/sleep
#   /usr/lib/live-demo/libdemo.so.1             a copy of a real shared object
#   /usr/lib/live-demo/lib demo.so.1 (deleted)  the same, named like a deleted mapping
#   /usr/lib/live-demo/<ESC>[2Jx.so             the same, named with a terminal escape
#   /var/lib/live-demo/data                     a plain 0644 file, to lock
make_live_demo()
{
  local d="$T/live-demo" so
  so=$(real_so)
  [ -f "$so" ] || fail_setup "no shared object to copy"
  mkdir -p "$d/usr/bin" "$d/usr/lib/live-demo" "$d/var/lib/live-demo"
  cp /bin/sleep "$d/usr/bin/live-demo"
  cp "$so" "$d/usr/lib/live-demo/libdemo.so.1"
  cp "$so" "$d/usr/lib/live-demo/lib demo.so.1 (deleted)"
  cp "$so" "$d/usr/lib/live-demo/$ESC_NAME.so"
  echo "live-demo data" >"$d/var/lib/live-demo/data"
  chmod 0644 "$d/var/lib/live-demo/data" "$d"/usr/lib/live-demo/*
  make_deb "$d" live-demo 1.0
  make_root "$1"
  install_deb "$1" "$T/live-demo_1.0_all.deb"
}
