#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Live: processes that run, map and lock the files of a package installed
# with the real dpkg into a private root are found by device and inode; files
# that are merely named like the package's are not.
#
# Usage: dpkg-root.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/lib.sh"
lib_init "$@"

R="$T/root"
make_live_demo "$R"
LIB=/usr/lib/live-demo/libdemo.so.1
DATA=/var/lib/live-demo/data

# check_one DESC PID REASON FILE: pkguard names exactly PID, for REASON on FILE.
check_one()
{
  local desc=$1 pid=$2 reason=$3 file=$4
  pg --root "$R" --json check live-demo
  expect "$desc: exit status 1" eq "$RC" 1
  expect "$desc: reported pids" eq "$(pids_of live-demo)" "$pid"
  expect "$desc: reason" eq "$(reasons_of live-demo "$pid")" "$reason"
  expect "$desc: file" eq "$(jqo -r --argjson pid "$pid" \
    '[.packages[0].processes[] | select(.pid == $pid) | .file] | unique | join(" ")')" "$file"
}

# A process running the package's copy of sleep is an instance; the host's
# own sleep, the same bytes under another inode, is nothing.
spawn "$R/usr/bin/live-demo" 60
demo=$READY
wait_exe "$demo" "$R/usr/bin/live-demo"
spawn /bin/sleep 60
host_sleep=$READY
wait_exe "$host_sleep" /bin/sleep
pg --root "$R" --json check live-demo
expect "exe: exit status 1" eq "$RC" 1
expect "exe: only the package's copy is reported" eq "$(pids_of live-demo)" "$demo"
expect "exe: reason exe" jq_true --argjson pid "$demo" \
  'any(.packages[0].processes[]; .pid == $pid and .reason == "exe" and .file == "/usr/bin/live-demo")'
expect "exe: one instance, no users" eq "$(jqo -r '.packages[0] | "\(.in_use) \(.instances) \(.users)"')" \
  "true 1 0"
expect "exe: package version" eq "$(jqo -r '.packages[0] | "\(.name) \(.version)"')" "live-demo 1.0"
pg --root "$R" check live-demo
expect "exe: human output names the instance" grep -Eq "^ +exe +$demo .*/usr/bin/live-demo\$" "$OUT"
stop "$demo"
stop "$host_sleep"

# Mapping the shared object makes a user; a copy of it at the same relative
# path under another directory does not.
mkdir -p "$T/decoy/usr/lib/live-demo"
cp "$R$LIB" "$T/decoy$LIB"
hold "$HELPERS/t-map" "$R$LIB"
mapper=$READY
hold "$HELPERS/t-map" "$T/decoy$LIB"
decoy=$READY
check_one "map" "$mapper" map "$LIB"
expect "map: one user" eq "$(jqo -r '.packages[0] | "\(.instances) \(.users)"')" "0 1"
stop "$mapper"
stop "$decoy"

# A package file whose own name ends in " (deleted)": identity, not the label.
hold "$HELPERS/t-map" "$R/usr/lib/live-demo/lib demo.so.1 (deleted)"
check_one "map of a file named '... (deleted)'" "$READY" map "/usr/lib/live-demo/lib demo.so.1 (deleted)"
stop "$READY"

# Each kind of lock on the data file, one at a time (POSIX and OFD locks conflict).
for kind in flock-ex flock-sh posix-wr posix-rd ofd-wr ofd-rd; do
  hold "$HELPERS/t-lock" "$kind" "$R$DATA"
  check_one "lock $kind" "$READY" lock "$DATA"
  expect "lock $kind: one lock holder" eq "$(jqo -r '.packages[0].lock_holders')" 1
  stop "$READY"
done

# A lock taken through a hard link is a lock on the package's file.
ln "$R$DATA" "$T/data-alias"
hold "$HELPERS/t-lock" posix-wr "$T/data-alias"
check_one "lock through a hard link" "$READY" lock "$DATA"
stop "$READY"

# flock and OFD locks held by an orphaned child: /proc/locks names the dead
# parent (flock) or -1 (OFD); the child is the holder.
for kind in flock-ex ofd-wr; do
  hold "$HELPERS/t-lock" "$kind" "$R$DATA" --fork
  expect "lock $kind --fork: the parent is gone" dead "$HOLD_PARENT"
  check_one "lock $kind --fork: the child, not the dead parent" "$READY" lock "$DATA"
  stop "$READY"
done

# Everything stopped: nothing in use.
pg --root "$R" --json check live-demo
expect_idle "after all holders exit" live-demo
pg --root "$R" check live-demo
expect "after all holders exit: human output says not in use" grep -Eq "^live-demo 1\.0 \(all\): [a-z]+: not in use" "$OUT"

finish
