#!/bin/bash
# Integration: pkguard's apt hook waiting, with the real apt and dpkg in a
# private root (apt-lib.sh). demo-job holds its certbot-style lockfile
# (/var/lib/demo-job/.lock: root's, 0600, not a package file) while it works:
#  - wait: the job lets go after a few seconds; the same apt-get run goes on
#    by itself (exit 0, demo-job 2.0), no retry;
#  - wait with a timeout: a job that never lets go is refused after the
#    timeout (apt exits 100, still 1.0).
#
# Usage: apt-wait.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/apt-lib.sh"
apt_lib_init "$@"
apt_demos_at_1
install -m 0600 /dev/null "$R$JOB_LOCK"
publish demo-daemon_1.0 demo-job_1.0 demo-job_2.0 demo-other_1.0

# --- wait: the job works for 3 s, then exits and lets go of its lock.
policy '[package demo-job]
action = wait
wait-timeout = 60s'
hold "$R$JOB" posix-wr "$R$JOB_LOCK"
job=$READY
expect "the job holds its lock" grep -Eq "POSIX +ADVISORY +WRITE +$job " /proc/locks
(sleep 3 && kill "$job") &
releaser=$!
t0=$(date +%s.%N)
apt_get install demo-job=2.0
t1=$(date +%s.%N)
wait "$releaser" || :
elapsed=$(echo "$t1 - $t0" | bc)
expect "wait: apt exits 0" eq "$RC" 0
expect "wait: the job was gone first" dead "$job"
expect "wait: it did wait ($elapsed s)" eval "[ \"\$(echo '$elapsed >= 2.5' | bc)\" = 1 ]"
expect "wait: not for the whole timeout" eval "[ \"\$(echo '$elapsed < 30' | bc)\" = 1 ]"
expect "wait: says it waited" apt_said "^pkguard: demo-job: waited [0-9.]+ s: no longer in use"
expect "wait: demo-job 2.0" eq "$(pkg_state demo-job)" "install ok installed 2.0"
expect "wait: the new files" eq "$(cat "$R/usr/share/demo-job/version")" "demo-job 2.0"
expect "wait: one run of dpkg" eq "$(grep -c ' upgrade demo-job:all 1.0 2.0$' "$R/var/log/dpkg.log")" 1
expect "wait: recorded as allow" eq "$(last_action demo-job)" allow
expect "wait: recorded as waited" eq \
  "$(sq "SELECT detail LIKE '%waited%' FROM targets WHERE name = 'demo-job' ORDER BY id DESC LIMIT 1")" 1
stop "$job"

# --- wait with a timeout: the job never lets go.
apt_get install --allow-downgrades demo-job=1.0
[ "$RC" -eq 0 ] || { cat "$OUT" "$OUT.err" >&2; fail_setup "cannot go back to demo-job 1.0"; }
policy '[package demo-job]
action = wait
wait-timeout = 3s
then = block'
hold "$R$JOB" posix-wr "$R$JOB_LOCK"
job=$READY
exe_inode=$(inode "$R$JOB")
t0=$(date +%s.%N)
apt_get install demo-job=2.0
t1=$(date +%s.%N)
elapsed=$(echo "$t1 - $t0" | bc)
expect "timeout: apt exits 100" eq "$RC" 100
expect "timeout: after the timeout ($elapsed s)" eval "[ \"\$(echo '$elapsed >= 3' | bc)\" = 1 ]"
expect "timeout: pkguard's refusal" apt_said "^pkguard: refusing the change to demo-job 1\\.0 -> 2\\.0"
expect "timeout: says what is still there" apt_said "still in use after the wait"
expect "timeout: the lock holder named" apt_said "^pkguard: +lock +$job +root "
expect "timeout: still 1.0" eq "$(pkg_state demo-job)" "install ok installed 1.0"
expect "timeout: the same executable" eq "$(inode "$R$JOB")" "$exe_inode"
expect "timeout: the job still holds its lock" grep -Eq "POSIX +ADVISORY +WRITE +$job " /proc/locks
expect "timeout: recorded as block" eq "$(last_action demo-job)" block
stop "$job"

apt_finish
