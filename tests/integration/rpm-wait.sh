#!/bin/bash
# Integration: pkguard's rpm plugin waiting inside rpm's transaction, with
# the real rpm in a private root (rpm-lib.sh). demo-job holds its
# certbot-style lockfile (/var/lib/demo-job/.lock: root's, 0600, not a
# package file) while it works:
#  - a test transaction (rpm -U --test) reports the wait but does not wait;
#  - wait: the job lets go after a few seconds; the same rpm run goes on by
#    itself (exit 0, demo-job 2.0), and pkguard said that rpm's database
#    stays locked meanwhile;
#  - wait with a timeout: a job that never lets go is refused after the
#    timeout (rpm exits 1, still 1.0).
#
# Usage: rpm-wait.sh PKGUARD HELPERS_DIR PLUGIN (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/rpm-lib.sh"
rpm_lib_init "$@"
rpm_demos_at_1
install -m 0600 /dev/null "$R$JOB_LOCK"

policy '[package demo-job]
action = wait
wait-timeout = 60s'
hold "$R$JOB" posix-wr "$R$JOB_LOCK"
job=$READY
expect "the job holds its lock" grep -Eq "POSIX +ADVISORY +WRITE +$job " /proc/locks

# --- a test transaction does not wait
t0=$(date +%s.%N)
rpm_run -U --test "$(rpm_file demo-job 2.0)"
t1=$(date +%s.%N)
elapsed=$(echo "$t1 - $t0" | bc)
expect "--test: rpm exits 0" eq "$RC" 0
expect "--test: did not wait ($elapsed s)" eval "[ \"\$(echo '$elapsed < 20' | bc)\" = 1 ]"
expect "--test: says the real one will wait" rpm_said "^pkguard: demo-job: a test transaction: the real one will wait"
expect "--test: still 1.0" eq "$(rpm_version demo-job)" 1.0
expect "--test: the job still runs" alive "$job"
expect "--test: recorded as a test run" eq \
  "$(sq "SELECT detail LIKE '%test transaction%' FROM targets WHERE name = 'demo-job' ORDER BY id DESC LIMIT 1")" 1

# --- wait: the job works for 3 s, then exits and lets go of its lock.
(sleep 3 && kill "$job") &
releaser=$!
t0=$(date +%s.%N)
rpm_run -U "$(rpm_file demo-job 2.0)"
t1=$(date +%s.%N)
wait "$releaser" || :
elapsed=$(echo "$t1 - $t0" | bc)
expect "wait: rpm exits 0" eq "$RC" 0
expect "wait: the job was gone first" dead "$job"
expect "wait: it did wait ($elapsed s)" eval "[ \"\$(echo '$elapsed >= 2.5' | bc)\" = 1 ]"
expect "wait: not for the whole timeout" eval "[ \"\$(echo '$elapsed < 30' | bc)\" = 1 ]"
expect "wait: says rpm's database stays locked" \
  rpm_said "^warning: pkguard: waiting up to [0-9]+ s for .*rpm's database stays locked meanwhile"
expect "wait: says it waited" rpm_said "^pkguard: demo-job: waited [0-9.]+ s: no longer in use"
expect "wait: demo-job 2.0" eq "$(rpm_version demo-job)" 2.0
expect "wait: the new files" eq "$(cat "$R/usr/share/demo-job/version")" "demo-job 2.0"
expect "wait: recorded as allow" eq "$(last_action demo-job)" allow
stop "$job"

# --- wait with a timeout: the job never lets go.
rpm_run -U --oldpackage "$(rpm_file demo-job 1.0)"
[ "$RC" -eq 0 ] || fail_setup "cannot go back to demo-job 1.0: $(cat "$OUT.err")"
policy '[package demo-job]
action = wait
wait-timeout = 3s
then = block'
hold "$R$JOB" posix-wr "$R$JOB_LOCK"
job=$READY
exe_inode=$(inode "$R$JOB")
t0=$(date +%s.%N)
rpm_run -U "$(rpm_file demo-job 2.0)"
t1=$(date +%s.%N)
elapsed=$(echo "$t1 - $t0" | bc)
expect "timeout: rpm exits 1" eq "$RC" 1
expect "timeout: after the timeout ($elapsed s)" eval "[ \"\$(echo '$elapsed >= 3' | bc)\" = 1 ]"
expect "timeout: pkguard's refusal" rpm_said "^error: pkguard: refusing the change to demo-job 1\\.0-1 -> 2\\.0-1"
expect "timeout: says what is still there" rpm_said "still in use after the wait"
expect "timeout: the lock holder named" rpm_said "^error: pkguard: +lock +$job +root "
expect "timeout: still 1.0" eq "$(rpm_version demo-job)" 1.0
expect "timeout: the same executable" eq "$(inode "$R$JOB")" "$exe_inode"
expect "timeout: the job still holds its lock" grep -Eq "POSIX +ADVISORY +WRITE +$job " /proc/locks
expect "timeout: recorded as block" eq "$(last_action demo-job)" block
stop "$job"

rpm_finish
