#!/bin/bash
# Integration: pkguard's rpm plugin inside the real rpm under valgrind's
# memcheck (rpm-lib.sh): a refused transaction (tsm_pre's report), an
# allowed one with a warning and the post step (tsm_post reading rpm's
# database through rpm's own transaction set), a test transaction and one
# that fails open on a broken configuration. Each rpm process must end
# with no memcheck error and no block lost, definitely or indirectly, and
# no "possibly lost" block allocated by the plugin.
#
# Usage: rpm-valgrind.sh PKGUARD HELPERS_DIR PLUGIN (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/rpm-lib.sh"
rpm_lib_init "$@"
rpm_needs_program valgrind
command -v valgrind >/dev/null || {
  echo "SKIP: valgrind is not installed"
  exit 77
}
rpm_demos_at_1

# vg_run WHAT ARGS...: rpm_run under memcheck; the log is $T/vg.WHAT.
vg_run()
{
  local what=$1
  shift
  RPM_WRAP=(valgrind --log-file="$T/vg.$what" --leak-check=full --show-leak-kinds=all
    --errors-for-leak-kinds=definite,indirect --keep-debuginfo=yes --num-callers=40)
  rpm_run "$@"
  RPM_WRAP=()
}

# clean WHAT: no error, nothing lost, nothing of the plugin's possibly lost;
# otherwise the log's summary is shown.
clean()
{
  local log="$T/vg.$1"
  if grep -q 'ERROR SUMMARY: 0 errors' "$log" &&
    ! grep -Eq 'definitely lost: [1-9]|indirectly lost: [1-9]' "$log" &&
    # A possibly-lost record whose stack passes through pkguard.so.
    awk '/are possibly lost in loss record/ { rec = 1; next }
         rec && /^==[0-9]+== *$/ { rec = 0 }
         rec && /pkguard\.so/ { bad = 1 }
         END { exit bad }' "$log"; then
    return 0
  fi
  sed -n '/HEAP SUMMARY/,$p' "$log" | head -40 | sed 's/^/  # /'
  return 1
}

start_daemon
daemon=$DAEMON_PID

policy '[package demo-daemon]
action = block'
vg_run block -U "$(rpm_file demo-daemon 2.0)"
expect "block: rpm exits 1" eq "$RC" 1
expect "block: the plugin refused" rpm_said "^error: pkguard: refusing the change to demo-daemon"
expect "block: memcheck clean" clean block

vg_run test -U --test "$(rpm_file demo-daemon 2.0)"
expect "--test: rpm exits 1" eq "$RC" 1
expect "--test: memcheck clean" clean test

policy '[package demo-daemon]
action = warn'
vg_run warn -U "$(rpm_file demo-daemon 2.0)"
expect "warn: rpm exits 0" eq "$RC" 0
expect "warn: 2.0 installed" eq "$(rpm_version demo-daemon)" 2.0
expect "warn: the post step ran" rpm_said "^pkguard: 1 process now runs replaced files"
expect "warn: memcheck clean" clean warn

printf '[pkguard]\nactoin = block\n' >"$T/pkguard.conf"
vg_run broken -U "$(rpm_file demo-daemon 3.0)"
expect "fail-open: rpm exits 0" eq "$RC" 0
expect "fail-open: said loudly" rpm_said "^error: pkguard: .*ALLOWING the upgrade"
expect "fail-open: memcheck clean" clean broken

stop "$daemon"
rpm_finish
