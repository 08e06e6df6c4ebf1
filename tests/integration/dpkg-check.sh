#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Integration: the real dpkg installs "demo-daemon" 1.0 into a private root:
#   /usr/bin/demo-daemon                     an ELF daemon (t-daemon) that execs
#   /usr/libexec/demo-daemon/demo-helper     this helper every few seconds
#   /usr/lib/demo-daemon/libdemo.so.1        a shared object built here
# With the daemon running from the root and another process mapping the
# library, pkguard check reports the instance, its helpers and the user;
# once they stop, nothing. The host's dpkg database is never touched.
#
# Usage: dpkg-check.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/../live/lib.sh"
lib_init "$@"
command -v cc >/dev/null || fail_setup "'cc' is not installed"

STATUS=/var/lib/dpkg/status
host_status=$(md5sum <"$STATUS")

# The package.
P="$T/demo-daemon"
mkdir -p "$P/usr/bin" "$P/usr/libexec/demo-daemon" "$P/usr/lib/demo-daemon"
install -m 0755 "$HELPERS/t-daemon" "$P/usr/bin/demo-daemon"
install -m 0755 /bin/true "$P/usr/libexec/demo-daemon/demo-helper"
echo 'int demo_answer(void) { return 42; }' >"$T/libdemo.c"
cc -shared -fPIC -Wl,-soname,libdemo.so.1 -o "$P/usr/lib/demo-daemon/libdemo.so.1" "$T/libdemo.c" ||
  fail_setup "cannot build libdemo.so.1"
chmod 0644 "$P/usr/lib/demo-daemon/libdemo.so.1"
make_deb "$P" demo-daemon 1.0
R="$T/root"
make_root "$R"
install_deb "$R" "$T/demo-daemon_1.0_all.deb"
expect "dpkg installed demo-daemon 1.0 into the root" eq \
  "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${Status} ${Version}' demo-daemon)" \
  "install ok installed 1.0"

DAEMON=/usr/bin/demo-daemon
HELPER=/usr/libexec/demo-daemon/demo-helper
LIB=/usr/lib/demo-daemon/libdemo.so.1

# The daemon, run from the root, execs its helper from disk: wait for one run.
hold "$R$DAEMON" "$R$HELPER" 2
daemon=$READY
wait_for "$HOLD_ERR" "^ran $R$HELPER: status 0\$"
hold "$HELPERS/t-map" "$R$LIB"
mapper=$READY

pg --root "$R" --json check demo-daemon
expect "check: exit status 1" eq "$RC" 1
expect "check: the package" eq "$(jqo -r '.packages[0] | "\(.name) \(.version) \(.in_use)"')" \
  "demo-daemon 1.0 true"
expect "check: the daemon is an instance" jq_true --argjson pid "$daemon" --arg f "$DAEMON" \
  'any(.packages[0].processes[]; .pid == $pid and .reason == "exe" and .file == $f)'
expect "check: the mapper is a user" eq "$(reasons_of demo-daemon "$mapper")" map
expect "check: the mapper maps the library" jq_true --argjson pid "$mapper" --arg f "$LIB" \
  'all(.packages[0].processes[] | select(.pid == $pid); .file == $f)'
# A helper caught running is an instance of its own; nobody else is reported.
expect "check: no other process" jq_true --argjson d "$daemon" --argjson m "$mapper" --arg h "$HELPER" \
  'all(.packages[0].processes[]; .pid == $d or .pid == $m or (.reason == "exe" and .file == $h))'
expect "check: one user" eq "$(jqo -r '.packages[0].users')" 1
expect "check: the helpers" eq "$(jqo -c '.packages[0].helpers')" "[\"$HELPER\"]"

pg --root "$R" check demo-daemon
expect "check, human: exit status 1" eq "$RC" 1
expect "check, human: in use, ships a helper" grep -Eq \
  '^demo-daemon 1\.0 \(all\): block: in use: [0-9]+ instances?, 1 user, 0 lock holders.*; ships 1 helper$' "$OUT"
expect "check, human: the daemon row" grep -Eq "^ +exe +$daemon +root +.* $DAEMON\$" "$OUT"
expect "check, human: the mapper row" grep -Eq "^ +map +$mapper +root +.* $LIB\$" "$OUT"
expect "check, human: the helpers section" grep -Eq '^  helpers \(' "$OUT"
expect "check, human: the helper listed" grep -Eq "^    $HELPER\$" "$OUT"

pg --root "$R" --json scan
expect "scan: exit status 0" eq "$RC" 0
expect "scan: lists demo-daemon with its instance" jq_true --argjson pid "$daemon" \
  'any(.packages[] | select(.name == "demo-daemon") | .processes[]; .pid == $pid and .reason == "exe")'
pg --root "$R" scan
expect "scan, human: lists demo-daemon" grep -Eq "^demo-daemon +1\\.0 .*\\[$daemon\\]" "$OUT"

stop "$daemon"
stop "$mapper"
pg --root "$R" --json check demo-daemon
expect_idle "check after stop" demo-daemon
pg --root "$R" check demo-daemon
expect "check after stop, human: not in use, ships a helper" grep -q \
  '^demo-daemon 1\.0 (all): [a-z]*: not in use.*; ships 1 helper$' "$OUT"

pg --root "$R" check no-such-pkg
expect "unknown package: exit status 2" eq "$RC" 2
expect "unknown package: a message that names it" grep -q "no-such-pkg" "$OUT.err"
expect "unknown package: nothing on stdout" eq "$(cat "$OUT")" ""

expect "the host's dpkg status is unchanged" eq "$(md5sum <"$STATUS")" "$host_status"
expect "the host's dpkg knows no demo-daemon" eval '! dpkg-query -W demo-daemon >/dev/null 2>&1'

finish
