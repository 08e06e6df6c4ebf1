#!/bin/bash
# Integration: pkguard's rpm transaction plugin refusing, with the real rpm
# in a private root and database (rpm-lib.sh). While demo-daemon runs from
# the root:
#  - block: `rpm -U` of 2.0 exits 1 with pkguard's refusal through rpmlog;
#    the database still says 1.0 and the files are 1.0's;
#  - a test transaction (rpm -U --test) decides the same and changes nothing;
#  - a plugin that cannot start drops out with a warning, rpm goes on;
#  - PKGUARD_DISABLE=1 lets one transaction through, said and recorded;
#  - an erase is refused like an upgrade;
#  - `pkguard allow --once` lets the next transaction through, not the one
#    after it;
#  - a broken configuration fails open: the upgrade goes on, loudly; with
#    on-error = block an internal error refuses instead;
#  - a fresh install is let through without a run.
#
# Usage: rpm-block.sh PKGUARD HELPERS_DIR PLUGIN (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/rpm-lib.sh"
rpm_lib_init "$@"
rpm_demos_at_1
expect "install: nothing to decide, no state written" eval "[ ! -e '$STATE' ]"

policy '[package demo-daemon]
action = block'
start_daemon
daemon=$DAEMON_PID
exe_inode=$(inode "$R$DAEMON")

# --- block
rpm_run -U "$(rpm_file demo-daemon 2.0)"
expect "block: rpm exits 1" eq "$RC" 1
expect "block: pkguard's refusal" \
  rpm_said "^error: pkguard: refusing the change to demo-daemon 1\\.0-1 -> 2\\.0-1 \\(x86_64|[a-z0-9_]+\\)"
expect "block: the daemon named" rpm_said "^error: pkguard: +exe +$daemon +root "
expect "block: the way out" rpm_said "pkguard allow --once demo-daemon"
expect "block: rpm says the plugin refused" rpm_said "^error: Plugin pkguard: hook tsm_pre failed"
expect "block: the database still says 1.0" eq "$(rpm_version demo-daemon)" 1.0
expect "block: the same executable" eq "$(inode "$R$DAEMON")" "$exe_inode"
expect "block: the old files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 1.0"
expect "block: the daemon still runs" alive "$daemon"
expect "block: recorded" eq "$(last_action demo-daemon)" block
expect "block: the run's entry and verdict" eq \
  "$(sq "SELECT entry || ' ' || backend || ' ' || verdict FROM runs ORDER BY id DESC LIMIT 1")" \
  "rpm plugin rpm block"
expect "block: the finding" eq \
  "$(sq "SELECT count(*) FROM findings WHERE package = 'demo-daemon' AND pid = $daemon")" 1
expect "block: no post step after a refusal" eq \
  "$(sq "SELECT count(*) FROM runs WHERE entry = 'post rpm'")" 0

# --- a test transaction: the same answer, nothing changed.
rpm_run -U --test "$(rpm_file demo-daemon 2.0)"
expect "--test: rpm exits 1" eq "$RC" 1
expect "--test: pkguard's refusal" rpm_said "^error: pkguard: refusing the change to demo-daemon"
expect "--test: still 1.0" eq "$(rpm_version demo-daemon)" 1.0

# --- a plugin that cannot start (an unknown option) drops out: rpm goes on.
PLUGIN_OPTS=--bogus
rpm_run -U --test "$(rpm_file demo-daemon 2.0)"
PLUGIN_OPTS=
expect "bad option: rpm exits 0" eq "$RC" 0
expect "bad option: names it" rpm_said "^warning: pkguard: plugin option '--bogus' is unknown"
expect "bad option: says it does not guard" rpm_said "^warning: pkguard: the plugin cannot start: transactions are NOT guarded"
expect "bad option: still 1.0" eq "$(rpm_version demo-daemon)" 1.0

# --- PKGUARD_DISABLE=1: one transaction unchecked, said and recorded.
PKGUARD_DISABLE=1 rpm_run -U --test "$(rpm_file demo-daemon 2.0)"
expect "PKGUARD_DISABLE=1: rpm exits 0" eq "$RC" 0
expect "PKGUARD_DISABLE=1: said" \
  rpm_said "^warning: pkguard: disabled by PKGUARD_DISABLE=1 for this rpm transaction: 1 installed package"
expect "PKGUARD_DISABLE=1: recorded" eq \
  "$(sq "SELECT count(*) FROM events WHERE message LIKE 'disabled by PKGUARD_DISABLE=1%'")" 1
PKGUARD_DISABLE=yes rpm_run -U --test "$(rpm_file demo-daemon 2.0)"
expect "PKGUARD_DISABLE=yes: ignored, refused" eq "$RC" 1
expect "PKGUARD_DISABLE=yes: says it is ignored" rpm_said "PKGUARD_DISABLE='yes' is ignored"

# --- erase
rpm_run -e demo-daemon
expect "erase: rpm exits 1" eq "$RC" 1
expect "erase: pkguard's refusal" rpm_said "^error: pkguard: refusing the change to demo-daemon 1\\.0-1 "
expect "erase: still installed" eq "$(rpm_version demo-daemon)" 1.0
expect "erase: the executable is still there" eq "$(inode "$R$DAEMON")" "$exe_inode"

# --- other packages are not held up by it
rpm_run -U "$(rpm_file demo-other 2.0)"
expect "others: rpm exits 0" eq "$RC" 0
expect "others: demo-other 2.0" eq "$(rpm_version demo-other)" 2.0
expect "others: the post step ran" eq \
  "$(sq "SELECT entry || ' ' || verdict FROM runs ORDER BY id DESC LIMIT 1")" "post rpm done"

# --- allow --once: the next transaction passes, the one after is guarded.
pgr allow --once demo-daemon
expect "allow --once: exit 0" eq "$RC" 0
rpm_run -U "$(rpm_file demo-daemon 2.0)"
expect "allow --once: rpm exits 0" eq "$RC" 0
expect "allow --once: 2.0 installed" eq "$(rpm_version demo-daemon)" 2.0
expect "allow --once: the new files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 2.0"
expect "allow --once: recorded as allow" eq "$(last_action demo-daemon)" allow
expect "allow --once: the override consumed" eq \
  "$(sq "SELECT count(*) FROM overrides WHERE package = 'demo-daemon' AND consumed IS NULL")" 0
# The daemon runs the replaced 1.0 executable now; restart it on 2.0.
stop "$daemon"
start_daemon
daemon=$DAEMON_PID
exe_inode=$(inode "$R$DAEMON")
rpm_run -U "$(rpm_file demo-daemon 3.0)"
expect "after the override: the upgrade is refused" eq "$RC" 1
expect "after the override: pkguard's refusal" rpm_said "^error: pkguard: refusing .*demo-daemon 2\\.0-1 -> 3\\.0-1"
expect "after the override: still 2.0" eq "$(rpm_version demo-daemon)" 2.0
expect "after the override: the same executable" eq "$(inode "$R$DAEMON")" "$exe_inode"

# --- fail-open: a typo'd key makes the configuration invalid.
printf '[pkguard]\ndenied = warn\n[package demo-daemon]\nactoin = block\n' >"$T/pkguard.conf"
rpm_run -U "$(rpm_file demo-daemon 3.0)"
expect "fail-open: rpm exits 0" eq "$RC" 0
expect "fail-open: said loudly" rpm_said "^error: pkguard: .*ALLOWING the upgrade"
expect "fail-open: names the typo" rpm_said "pkguard\\.conf:4"
expect "fail-open: 3.0 installed" eq "$(rpm_version demo-daemon)" 3.0
expect "fail-open: the new files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 3.0"
expect "fail-open: recorded as an error" eq \
  "$(sq "SELECT verdict FROM runs WHERE entry = 'rpm plugin' ORDER BY id DESC LIMIT 1")" error

# --- on-error = block: an internal error (the state cannot be opened) refuses.
printf '[pkguard]\ndenied = ignore\non-error = block\n' >"$T/pkguard.conf"
PLUGIN_OPTS="--config $T/pkguard.conf --state $T/no/such/dir/state.db"
rpm_run -e --test demo-other
PLUGIN_OPTS=
expect "on-error = block: rpm exits 1" eq "$RC" 1
expect "on-error = block: says why" rpm_said "^error: pkguard: opening the state database failed: .*refusing the upgrade \(on-error = block\)"

stop "$daemon"
rpm_finish
