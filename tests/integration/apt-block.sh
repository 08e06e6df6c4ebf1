#!/bin/bash
# Integration: pkguard's apt hook refusing, with the real apt and dpkg in a
# private root (apt-lib.sh). While demo-daemon runs from the root:
#  - block: `apt-get install demo-daemon=2.0` exits 100 with pkguard's
#    refusal, dpkg never runs (still 1.0, the same files);
#  - a removal is refused like an upgrade;
#  - `pkguard allow --once` lets the next transaction through, not the one
#    after it;
#  - a broken configuration fails open: the upgrade goes on, loudly;
#  - a Multi-Arch: same package, which apt names with its architecture, is
#    governed by its [package NAME] section.
#
# Usage: apt-block.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/apt-lib.sh"
apt_lib_init "$@"
apt_demos_at_1

policy '[package demo-daemon]
action = block'
start_daemon
daemon=$DAEMON_PID
publish demo-daemon_1.0 demo-daemon_2.0 demo-daemon_3.0 demo-job_1.0 demo-other_1.0
exe_inode=$(inode "$R$DAEMON")

# --- block
apt_get install demo-daemon=2.0
expect "block: apt exits 100" eq "$RC" 100
expect "block: pkguard's refusal on apt's output" \
  apt_said "^pkguard: refusing the change to demo-daemon 1\\.0 -> 2\\.0"
expect "block: the daemon named" apt_said "^pkguard: +exe +$daemon +root "
expect "block: the way out" apt_said "pkguard allow --once demo-daemon"
expect "block: apt says the hook failed" apt_said "^E: Sub-process .* returned an error code \\(1\\)"
expect "block: dpkg never ran: still 1.0" eq "$(pkg_state demo-daemon)" "install ok installed 1.0"
expect "block: dpkg logged nothing" eval "! grep -q 'demo-daemon:all 1.0 2.0' '$R/var/log/dpkg.log'"
expect "block: the same executable" eq "$(inode "$R$DAEMON")" "$exe_inode"
expect "block: the old files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 1.0"
expect "block: the daemon still runs" alive "$daemon"
expect "block: recorded" eq "$(last_action demo-daemon)" block
expect "block: the run's verdict" eq \
  "$(sq "SELECT entry || ' ' || verdict FROM runs ORDER BY id DESC LIMIT 1")" "hook apt block"
expect "block: the finding" eq "$(sq "SELECT count(*) FROM findings WHERE package = 'demo-daemon' AND pid = $daemon")" 1

# --- removal
apt_get remove demo-daemon
expect "remove: apt exits 100" eq "$RC" 100
expect "remove: pkguard's refusal" apt_said "^pkguard: refusing .*demo-daemon"
expect "remove: still installed" eq "$(pkg_state demo-daemon)" "install ok installed 1.0"
expect "remove: the executable is still there" eq "$(inode "$R$DAEMON")" "$exe_inode"
expect "remove: recorded" eq "$(last_action demo-daemon)" block

# --- allow --once: the next transaction passes, the one after is guarded.
pga allow --once demo-daemon
expect "allow --once: exit 0" eq "$RC" 0
apt_get install demo-daemon=2.0
expect "allow --once: apt exits 0" eq "$RC" 0
expect "allow --once: 2.0 installed" eq "$(pkg_state demo-daemon)" "install ok installed 2.0"
expect "allow --once: the new files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 2.0"
expect "allow --once: recorded as allow" eq "$(last_action demo-daemon)" allow
expect "allow --once: the override consumed" eq \
  "$(sq "SELECT count(*) FROM overrides WHERE package = 'demo-daemon' AND consumed IS NULL")" 0
# The daemon runs the replaced 1.0 executable now; restart it on 2.0 so
# that the next transaction finds it through the installed files.
stop "$daemon"
start_daemon
daemon=$DAEMON_PID
exe_inode=$(inode "$R$DAEMON")
apt_get install --reinstall demo-daemon=2.0
expect "after the override: the reinstall is refused" eq "$RC" 100
expect "after the override: pkguard's refusal" apt_said "^pkguard: refusing .*demo-daemon"
apt_get install demo-daemon=3.0
expect "after the override: the upgrade is refused" eq "$RC" 100
expect "after the override: still 2.0" eq "$(pkg_state demo-daemon)" "install ok installed 2.0"
expect "after the override: the same executable" eq "$(inode "$R$DAEMON")" "$exe_inode"

# --- fail-open: a typo'd key makes the configuration invalid.
printf '[pkguard]\ndenied = warn\n[package demo-daemon]\nactoin = block\n' >"$T/pkguard.conf"
apt_get install demo-daemon=3.0
expect "fail-open: apt exits 0" eq "$RC" 0
expect "fail-open: said loudly on apt's output" apt_said "^pkguard: error: .*ALLOWING the upgrade"
expect "fail-open: names the typo" apt_said "pkguard\\.conf:4"
expect "fail-open: 3.0 installed" eq "$(pkg_state demo-daemon)" "install ok installed 3.0"
expect "fail-open: the new files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 3.0"

stop "$daemon"

# --- a Multi-Arch: same package: apt names it with its architecture
# ("libdemo:amd64"); its [package libdemo] section applies all the same.
make_libdemo 1.0
make_libdemo 2.0
printf '[pkguard]\ndenied = ignore\n[package libdemo]\naction = block\n' >"$T/pkguard.conf"
publish libdemo_1.0 demo-daemon_3.0 demo-job_1.0 demo-other_1.0
apt_install_demos libdemo
hold "$HELPERS/t-map" "$R$LIBDEMO"
mapper=$READY
publish libdemo_1.0 libdemo_2.0 demo-daemon_3.0 demo-job_1.0 demo-other_1.0
apt_get install libdemo=2.0
expect "multi-arch: apt exits 100" eq "$RC" 100
expect "multi-arch: pkguard's refusal" apt_said "^pkguard: refusing the change to libdemo"
expect "multi-arch: still 1.0" eq "$(pkg_state libdemo)" "install ok installed 1.0"
expect "multi-arch: decided by [package libdemo]" eq "$(sq "SELECT origin FROM targets WHERE name LIKE 'libdemo%' ORDER BY id DESC LIMIT 1")" \
  "$T/pkguard.conf:4"
stop "$mapper"

apt_finish
