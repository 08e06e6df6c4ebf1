#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Live: process names and package file names with terminal escapes and
# newlines are reported, and never reach the output raw (threats.md #24).
#
# Usage: hostile-names.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/lib.sh"
lib_init "$@"

R="$T/root"
make_live_demo "$R"
LIB=/usr/lib/live-demo/libdemo.so.1
# A newline, then ESC [2J: clears the screen when printed raw.
EVIL="evil
$ESC_NAME"

# FILE holds no ESC byte, nor any other control byte but the line ends.
printable()
{
  ! LC_ALL=C grep -q '[^[:print:]]' "$1"
}

# no_raw DESC FILE
no_raw()
{
  expect "$1: no raw control bytes" printable "$2"
}

# t-map started through a symlink whose name becomes its comm.
ln -s "$HELPERS/t-map" "$T/$EVIL"
hold "$T/$EVIL" "$R$LIB"
evil=$READY
expect "the helper's comm holds ESC and a newline" eq "$(cat "/proc/$evil/comm")" "$EVIL"

pg --root "$R" check live-demo
expect "human check: exit status 1" eq "$RC" 1
no_raw "human check" "$OUT"
no_raw "human check stderr" "$OUT.err"
# The whole row on one line: the newline in comm did not split it.
expect "human check: one row for the process" grep -Eq "^ +map +$evil +root +[^ ]+ +evil.*\\[2Jx +$LIB\$" "$OUT"

pg --root "$R" --json check live-demo
expect "json check: exit status 1" eq "$RC" 1
no_raw "json check" "$OUT"
expect "json check: the process is a user" eq "$(reasons_of live-demo "$evil")" map
expect "json check: comm is escaped text" jq_true --argjson pid "$evil" \
  'any(.packages[0].processes[]; .pid == $pid and (.comm | test("^evil.*2Jx$"))
     and (.comm | explode | all(. >= 32 and . != 127)))'
stop "$evil"

# A package file named with ESC, mapped by an ordinary process.
hold "$HELPERS/t-map" "$R/usr/lib/live-demo/$ESC_NAME.so"
pg --root "$R" check live-demo
expect "escaped file name: exit status 1" eq "$RC" 1
no_raw "escaped file name" "$OUT"
expect "escaped file name: the process is reported" grep -Eq "^ +map +$READY .*/usr/lib/live-demo/.*\\[2Jx\\.so\$" "$OUT"
pg --root "$R" --json check live-demo
no_raw "escaped file name, json" "$OUT"
expect "escaped file name, json: reason map" eq "$(reasons_of live-demo "$READY")" map
stop "$READY"

# The host's sleep under a hostile name: an instance of coreutils in scan's
# RUNNING column, which prints comm.
ln -s /bin/sleep "$T/$EVIL.sleep"
spawn "$T/$EVIL.sleep" 60
sleeper=$READY
wait_exe "$sleeper" /bin/sleep
pg scan
expect "human scan: exit status 0" eq "$RC" 0
no_raw "human scan" "$OUT"
# (RUNNING is a sample: on a busy host it may end in "..." before ours.)
expect "human scan: the instance is listed" grep -Eq "^coreutils .*(evil[^ ]*2Jx[^ ]*\\[$sleeper\\]|\\.\\.\\.$)" "$OUT"
pg --json scan
no_raw "json scan" "$OUT"
expect "json scan: the instance is listed" jq_true --argjson pid "$sleeper" \
  'any(.packages[] | select(.name == "coreutils") | .processes[]; .pid == $pid and .reason == "exe")'
stop "$sleeper"

finish
