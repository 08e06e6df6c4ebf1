#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Integration: dpkg run directly, with "pkguard hook dpkg" as its pre-invoke
# hook (what /etc/dpkg/dpkg.cfg.d/pkguard sets up), on a private root:
#   /usr/bin/demo-daemon                     an ELF daemon (t-daemon) that execs
#   /usr/libexec/demo-daemon/demo-helper     this helper every few seconds
#   /usr/share/demo-daemon/VERSION           the package's version
# With demo-daemon 1.0 running from the root and the policy "block" for it,
# dpkg -i of 2.0 is refused before dpkg changes anything (exit status 2 and
# pkguard's message), so is dpkg -R DIR (apt's directory of symlinks) and
# dpkg -r; a frontend's dpkg (DPKG_FRONTEND_LOCKED) and PKGUARD_DISABLE=1 go
# through unchecked; once the daemon stops, the upgrade goes through. The
# host's dpkg database is never touched.
#
# Usage: dpkg-direct.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/../live/lib.sh"
lib_init "$@"
# The hook runs in the directory dpkg runs in, not ours.
PKGUARD=$(readlink -f "$PKGUARD")

STATUS=/var/lib/dpkg/status
host_status=$(md5sum <"$STATUS")

# Only demo-daemon blocks; this sandbox's unreadable pid 1 only warns.
printf '[pkguard]\ndenied = warn\n[package demo-daemon]\naction = block\n' >"$T/direct.conf"
PKGUARD_CONF=$T/direct.conf

DAEMON=/usr/bin/demo-daemon
HELPER=/usr/libexec/demo-daemon/demo-helper

# The package, in two versions.
for v in 1.0 2.0; do
  P="$T/demo-daemon-$v"
  mkdir -p "$P/usr/bin" "$P/usr/libexec/demo-daemon" "$P/usr/share/demo-daemon"
  install -m 0755 "$HELPERS/t-daemon" "$P$DAEMON"
  install -m 0755 /bin/true "$P$HELPER"
  echo "$v" >"$P/usr/share/demo-daemon/VERSION"
  make_deb "$P" demo-daemon "$v"
done
DEB1=$T/demo-daemon_1.0_all.deb
DEB2=$T/demo-daemon_2.0_all.deb
R="$T/root"
make_root "$R"
install_deb "$R" "$DEB1"

# As in dpkg.cfg.d/pkguard: dpkg runs it through "sh -c"; pkguard's own
# options come before "hook dpkg".
HOOK="$PKGUARD --config $PKGUARD_CONF --state $T/state.db hook dpkg"

# dpkg_hooked ARGS...: the real dpkg on $R with the hook, in directory
# $RUN_CWD if set; DRC its exit status, DOUT its stdout and stderr.
dpkg_hooked()
{
  DOUT="$T/dpkg.$((++N_RUNS))"
  DRC=0
  (
    close_held
    cd "${RUN_CWD:-.}"
    exec timeout 60 dpkg --root="$R" --log="$R/var/log/dpkg.log" --force-script-chrootless \
      --pre-invoke="$HOOK" "$@"
  ) </dev/null >"$DOUT" 2>&1 || DRC=$?
}

installed()
{
  dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${db:Status-Abbrev}${Version}' demo-daemon 2>/dev/null || :
}

on_disk()
{
  cat "$R/usr/share/demo-daemon/VERSION" 2>/dev/null || echo none
}

# The latest "hook dpkg" run in pkguard's state, as "verdict root target:new".
last_run()
{
  pg --json status
  jqo -r '[.runs[] | select(.entry == "hook dpkg")][0]
    | "\(.verdict) \(.root) \([.targets[] | "\(.package):\(.new_version)"] | join(","))"'
}

# start_daemon: run the installed daemon from the root; wait for a helper run.
start_daemon()
{
  hold "$R$DAEMON" "$R$HELPER" 1
  daemon=$READY
  wait_for "$HOLD_ERR" "^ran $R$HELPER: status 0\$"
}

# back_to_1: after an upgrade that went through, 1.0 running again.
back_to_1()
{
  stop "$daemon"
  install_deb "$R" "$DEB1"
  start_daemon
}

refused()
{
  local desc=$1 pkg_re=$2
  expect "$desc: dpkg exits 2" eq "$DRC" 2
  expect "$desc: pkguard says why" grep -Eq "^pkguard: refusing .*demo-daemon 1\\.0$pkg_re" "$DOUT"
  expect "$desc: dpkg names the hook" grep -q "error executing hook" "$DOUT"
  expect "$desc: the daemon is named" grep -Eq "^pkguard: +exe +$daemon +root " "$DOUT"
  expect "$desc: dpkg's status still says 1.0" eq "$(installed)" "ii 1.0"
  expect "$desc: the files on disk are 1.0" eq "$(on_disk)" "1.0"
  expect "$desc: the daemon's binary was not replaced" eq \
    "$(stat -c %d:%i "$R$DAEMON")" "$daemon_file"
}

start_daemon
daemon_file=$(stat -c %d:%i "$R$DAEMON")
expect "the daemon runs the root's binary" eval "[ /proc/$daemon/exe -ef $R$DAEMON ]"

dpkg_hooked -i "$DEB2"
refused "dpkg -i" " -> 2\\.0"
expect "dpkg -i: recorded as blocked, on dpkg's root" eq "$(last_run)" \
  "block $R demo-daemon:2.0"

# apt's way past 5 debs: a directory of symlinks, here one level down too.
mkdir -p "$T/apt-dpkg-install/sub"
ln -s "$DEB2" "$T/apt-dpkg-install/sub/000-demo-daemon_2.0_all.deb"
echo 'not a package' >"$T/apt-dpkg-install/README"
dpkg_hooked -i --recursive "$T/apt-dpkg-install"
refused "dpkg -R DIR" " -> 2\\.0"
# A relative path is dpkg's, from its working directory; options with
# values, bundled short options, "--".
RUN_CWD=$T dpkg_hooked --status-fd 1 --force-confold -D 0 -iR -- apt-dpkg-install
refused "dpkg -iR relative DIR" " -> 2\\.0"

# One .deb dpkg cannot read does not hide another that is refused.
echo 'not an ar archive' >"$T/broken.deb"
dpkg_hooked -i "$T/broken.deb" "$DEB2"
refused "dpkg -i broken.deb good.deb" " -> 2\\.0"
expect "broken.deb: pkguard names it" grep -q "broken.deb" "$DOUT"

dpkg_hooked -r demo-daemon
refused "dpkg -r" ""
dpkg_hooked --purge demo-daemon:all
refused "dpkg --purge NAME:ARCH" ""

dpkg_hooked --unpack "$DEB2"
refused "dpkg --unpack" " -> 2\\.0"

# PKGUARD_DISABLE takes only "1".
PKGUARD_DISABLE=yes dpkg_hooked -i "$DEB2"
refused "PKGUARD_DISABLE=yes" " -> 2\\.0"
expect "PKGUARD_DISABLE=yes: said to be ignored" grep -q "PKGUARD_DISABLE='yes' is ignored" "$DOUT"

# Actions that replace nothing are not checked.
dpkg_hooked --configure --pending
expect "dpkg --configure --pending: not checked" eq "$DRC:$(grep -c pkguard "$DOUT")" "0:0"
dpkg_hooked --no-act -i "$DEB2"
expect "dpkg --no-act -i: not checked" eq "$DRC:$(grep -c pkguard "$DOUT")" "0:0"

# A frontend (apt) ran its own check: its dpkg is not checked again.
DPKG_FRONTEND_LOCKED=true dpkg_hooked -i "$DEB2"
expect "DPKG_FRONTEND_LOCKED: dpkg exits 0" eq "$DRC" 0
expect "DPKG_FRONTEND_LOCKED: pkguard is silent" eq "$(grep -c pkguard "$DOUT")" 0
expect "DPKG_FRONTEND_LOCKED: 2.0 installed" eq "$(installed):$(on_disk)" "ii 2.0:2.0"
back_to_1

PKGUARD_DISABLE=1 dpkg_hooked -i "$DEB2"
expect "PKGUARD_DISABLE=1: dpkg exits 0" eq "$DRC" 0
expect "PKGUARD_DISABLE=1: said" grep -q "disabled by PKGUARD_DISABLE=1 for this dpkg run" "$DOUT"
expect "PKGUARD_DISABLE=1: 2.0 installed" eq "$(installed):$(on_disk)" "ii 2.0:2.0"
back_to_1

# Once the daemon is gone, the same upgrade goes through, and so does removal.
stop "$daemon"
dpkg_hooked -i "$DEB2"
expect "after stop: dpkg -i exits 0" eq "$DRC" 0
expect "after stop: 2.0 installed" eq "$(installed):$(on_disk)" "ii 2.0:2.0"
# (warn where some process cannot be read at all, as this sandbox's pid 1)
expect "after stop: recorded as let through" grep -Eq '^(allow|warn) ' <(last_run)
dpkg_hooked -r demo-daemon
expect "after stop: dpkg -r exits 0" eq "$DRC" 0
expect "after stop: removed" eq "$(installed)" ""

expect "the host's dpkg status is unchanged" eq "$(md5sum <"$STATUS")" "$host_status"
expect "the host's dpkg knows no demo-daemon" eval '! dpkg-query -W demo-daemon >/dev/null 2>&1'

finish
