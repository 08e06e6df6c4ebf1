#!/bin/bash
# Integration: pkguard's rpm plugin inside dnf (Debian's dnf 4 on librpm),
# installing local package files into a private --installroot (rpm-lib.sh
# builds the packages and the plugin directory). dnf runs every
# transaction twice: a test transaction first (RPMTRANS_FLAG_TEST), then the
# real one, each through the plugin's tsm_pre. While demo-daemon runs:
#  - block: dnf exits 1 with pkguard's refusal from the test transaction;
#    the database still says 1.0;
#  - allow --once: the test transaction must not use the override up, or
#    the real one would refuse: the upgrade goes through, and the override
#    is consumed once;
#  - PKGUARD_DISABLE=1 in dnf's environment lets one dnf run through.
# dnf reads rpm's macros from ~/.rpmmacros: HOME points at a directory of
# the test's own, which names the database path and the plugin; nothing of
# the host's rpm or dnf configuration is read for plugins or changed
# (--releasever is given: "/" would make dnf read the host's database).
#
# Usage: rpm-dnf.sh PKGUARD HELPERS_DIR PLUGIN (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/rpm-lib.sh"
rpm_lib_init "$@"
rpm_needs_program dnf
command -v dnf >/dev/null || {
  echo "SKIP: dnf is not installed"
  exit 77
}
make_rpm demo-daemon 1.0 fill_daemon
make_rpm demo-daemon 2.0 fill_daemon
make_rpm demo-daemon 3.0 fill_daemon
mkdir -p "$T/home"
cat >"$T/home/.rpmmacros" <<MACROS_END
%_dbpath /var/lib/rpm
%__plugindir $PDIR
%__transaction_pkguard $PDIR/pkguard.so --config $T/pkguard.conf --state $STATE
MACROS_END

# dnf_run ARGS...: dnf on the private root, no repositories. RC, OUT, OUT.err.
dnf_run()
{
  OUT="$T/dnf.$((++N_RUNS))"
  RC=0
  LAST_WHAT="dnf $*"
  (
    close_held
    export HOME=$T/home
    exec timeout 120 dnf --installroot="$R" --releasever=1 --setopt=reposdir=/dev/null \
      --setopt=cachedir="$T/cache" --nogpgcheck -y "$@"
  ) </dev/null >"$OUT" 2>"$OUT.err" || RC=$?
}

dnf_run install "$(rpm_file demo-daemon 1.0)"
[ "$RC" -eq 0 ] || fail_setup "dnf could not install demo-daemon 1.0: $(cat "$OUT.err")"
expect "install: 1.0 in the root's database" eq "$(rpm_version demo-daemon)" 1.0

policy '[package demo-daemon]
action = block'
start_daemon
daemon=$DAEMON_PID
exe_inode=$(inode "$R$DAEMON")

# --- block
dnf_run install "$(rpm_file demo-daemon 2.0)"
expect "block: dnf exits 1" eq "$RC" 1
expect "block: pkguard's refusal, as dnf shows rpm's log" \
  rpm_said "^RPM: error: pkguard: refusing the change to demo-daemon 1\\.0-1 -> 2\\.0-1"
expect "block: the daemon named" rpm_said "^RPM: error: pkguard: +exe +$daemon +root "
expect "block: refused in the test transaction" rpm_said "Errors occurred during test transaction"
expect "block: still 1.0" eq "$(rpm_version demo-daemon)" 1.0
expect "block: the same executable" eq "$(inode "$R$DAEMON")" "$exe_inode"
expect "block: recorded" eq "$(last_action demo-daemon)" block

# --- allow --once across dnf's two passes
pgr allow --once demo-daemon
expect "allow --once: exit 0" eq "$RC" 0
dnf_run install "$(rpm_file demo-daemon 2.0)"
expect "allow --once: dnf exits 0" eq "$RC" 0
expect "allow --once: 2.0 installed" eq "$(rpm_version demo-daemon)" 2.0
expect "allow --once: the new files" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 2.0"
expect "allow --once: decided twice (test and real transaction)" eq \
  "$(sq "SELECT count(*) FROM runs WHERE entry = 'rpm plugin' AND verdict = 'allow'")" 2
expect "allow --once: the override consumed once" eq \
  "$(sq "SELECT count(*) FROM overrides WHERE package = 'demo-daemon' AND consumed IS NOT NULL")" 1
expect "allow --once: the post step ran" eq \
  "$(sq "SELECT entry || ' ' || verdict FROM runs ORDER BY id DESC LIMIT 1")" "post rpm done"

# --- PKGUARD_DISABLE=1 in dnf's environment: librpm runs in dnf's process.
stop "$daemon"
start_daemon
daemon=$DAEMON_PID
PKGUARD_DISABLE=1 dnf_run install "$(rpm_file demo-daemon 3.0)"
expect "PKGUARD_DISABLE=1: dnf exits 0" eq "$RC" 0
expect "PKGUARD_DISABLE=1: 3.0 installed" eq "$(rpm_version demo-daemon)" 3.0
expect "PKGUARD_DISABLE=1: said" rpm_said "pkguard: disabled by PKGUARD_DISABLE=1 for this rpm transaction"
expect "PKGUARD_DISABLE=1: recorded for both passes" eq \
  "$(sq "SELECT count(*) FROM events WHERE message LIKE 'disabled by PKGUARD_DISABLE=1%'")" 2

stop "$daemon"
rpm_finish
