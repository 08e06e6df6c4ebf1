#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Live, on the host's own dpkg database: a running sleep is an instance of
# coreutils, and scan finds libc6 in use (merged /usr: the maps say
# /usr/lib/..., the database /lib/...).
#
# Usage: host.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/lib.sh"
lib_init "$@"

[ -f /var/lib/dpkg/status ] || {
  echo "SKIP: the host has no dpkg database"
  exit 77
}

spawn /bin/sleep 60
sleeper=$READY
wait_exe "$sleeper" /bin/sleep

pg --json check coreutils
expect "check coreutils: exit status 1" eq "$RC" 1
expect "check coreutils: the sleep is an instance" jq_true --argjson pid "$sleeper" \
  'any(.packages[0].processes[]; .pid == $pid and .reason == "exe" and (.file | test("bin/sleep$")))'
expect "check coreutils: name and version" jq_true \
  --arg v "$(dpkg-query -W -f '${Version}' coreutils)" \
  '.packages[0] | .name == "coreutils" and .version == $v and .in_use and .instances >= 1'
pg -v check coreutils
expect "check coreutils, human: exit status 1" eq "$RC" 1
# With the BPF iterator (where it loads), the stream is read ahead while the
# package database loads. Read to its end, as on a system this small, it
# carries the scan alone: a second thread reading processes one at a time
# could take them all first here. The read may not have begun when the scan
# does (then both threads run): up to 5 tries.
if grep -q '^pkguard: debug: process scan: mappings through BPF (loaded early)$' "$OUT.err"; then
  expect "check coreutils: the stream was read ahead" \
    grep -Eq '^pkguard: debug: process scan: [0-9]+ bytes of the stream read ahead' "$OUT.err"
  expect "check coreutils: the stream did not fail" eq "$(grep -c 'BPF stream failed' "$OUT.err")" 0
  for try in 1 2 3 4 5; do
    grep -Eq '^pkguard: debug: process scan: [0-9]+ bytes of the stream read ahead, all of it$' \
      "$OUT.err" && break
    pg -v check coreutils
  done
  if grep -Eq 'bytes of the stream read ahead, all of it$' "$OUT.err"; then
    expect "check coreutils: read ahead to its end (try $try), the stream carries the scan" \
      grep -Eq '^pkguard: debug: process scan: [1-9][0-9]* processes from the BPF stream' \
      "$OUT.err"
  else
    echo "# the stream was never read ahead to its end in 5 tries: $(grep 'read ahead' "$OUT.err")"
  fi
else
  echo "# no BPF iterator here: $(grep 'process scan:' "$OUT.err" | head -1)"
fi
expect "check coreutils, human: the instance row" grep -Eq "^ +exe +$sleeper +root +.* sleep +/(usr/)?bin/sleep\$" "$OUT"

pg --json scan
expect "scan: exit status 0" eq "$RC" 0
expect "scan: libc6 is in use" jq_true 'any(.packages[]; .name == "libc6" and .users + .instances > 0)'
expect "scan: the sleep is an instance of coreutils" jq_true --argjson pid "$sleeper" \
  'any(.packages[] | select(.name == "coreutils") | .processes[]; .pid == $pid and .reason == "exe")'
pg scan
expect "scan, human: libc6 listed" grep -Eq '^libc6 ' "$OUT"
# (RUNNING is a sample: on a busy host it may end in "..." before ours.)
expect "scan, human: the sleep listed under coreutils" grep -Eq "^coreutils .*(sleep\\[$sleeper\\]|\\.\\.\\.$)" "$OUT"
stop "$sleeper"

# The sleep gone: check no longer names it (other sleeps may run).
pg --json check coreutils
expect "check coreutils after stop: the sleep is not reported" jq_true --argjson pid "$sleeper" \
  'all(.packages[0].processes[]; .pid != $pid)'

# The rpm backend (where built) is a module loaded on rpm roots only: librpm
# and its libraries are not the dpkg host's to load on every run.
expect "the program does not link librpm" eq "$(ldd "$PKGUARD" | grep -c librpm)" 0

pg check no-such-package-pkguard-test
expect "check of an unknown package: exit status 2" eq "$RC" 2
expect "check of an unknown package: the message names it" grep -q "no-such-package-pkguard-test" "$OUT.err"

finish
