#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# Integration: the real rpm installs "demo-daemon" 1.0-1, built here with
# rpmbuild, into a private rpm root:
#   /usr/bin/demo-daemon                     an ELF daemon (t-daemon) that execs
#   /usr/libexec/demo-daemon/demo-helper     this helper every few seconds
#   /usr/lib/demo-daemon/libdemo.so.1        a shared object built here
# With the daemon running from the root and another process mapping the
# library, pkguard check (--backend rpm, and found by itself) reports the
# instance, its helpers and the user; once they stop, nothing. The root has
# no dpkg database, and the host's databases are never touched.
#
# Usage: rpm-check.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/../live/lib.sh"
lib_init "$@"
command -v cc >/dev/null || fail_setup "'cc' is not installed"
if ! command -v rpmbuild >/dev/null || ! command -v rpm >/dev/null; then
  echo "SKIP: rpm and rpmbuild are not installed"
  exit 77
fi

STATUS=/var/lib/dpkg/status
host_status=$(md5sum <"$STATUS")
host_rpm=$(find /var/lib/rpm "$HOME/.rpmdb" -type f -exec md5sum {} + 2>/dev/null | sort || :)

# The package: the files are made here, the spec only copies them.
P="$T/demo-daemon"
mkdir -p "$P/usr/bin" "$P/usr/libexec/demo-daemon" "$P/usr/lib/demo-daemon"
install -m 0755 "$HELPERS/t-daemon" "$P/usr/bin/demo-daemon"
install -m 0755 /bin/true "$P/usr/libexec/demo-daemon/demo-helper"
echo 'int demo_answer(void) { return 42; }' >"$T/libdemo.c"
cc -shared -fPIC -Wl,-soname,libdemo.so.1 -o "$P/usr/lib/demo-daemon/libdemo.so.1" "$T/libdemo.c" ||
  fail_setup "cannot build libdemo.so.1"
chmod 0644 "$P/usr/lib/demo-daemon/libdemo.so.1"
# Built for this machine's architecture (rpmbuild refuses ELF files in a
# noarch package); no debuginfo, no stripping, no generated dependencies.
cat >"$T/demo-daemon.spec" <<EOS
Name: demo-daemon
Version: 1.0
Release: 1
Summary: pkguard test package
License: MIT
AutoReqProv: no
%define debug_package %{nil}
%define __os_install_post %{nil}
%description
pkguard test package
%install
cp -a $P/. %{buildroot}/
%files
/usr/bin/demo-daemon
/usr/libexec/demo-daemon
/usr/lib/demo-daemon
EOS
rpmbuild --define "_topdir $T/top" -bb "$T/demo-daemon.spec" >"$T/rpmbuild.log" 2>&1 || {
  cat "$T/rpmbuild.log" >&2
  fail_setup "rpmbuild could not build demo-daemon"
}
RPMFILE=$(echo "$T"/top/RPMS/*/demo-daemon-1.0-1.*.rpm)
[ -f "$RPMFILE" ] || fail_setup "no demo-daemon rpm in '$T/top/RPMS'"
ARCH=$(rpm -qp --qf '%{ARCH}' "$RPMFILE" 2>/dev/null)

# The root: merged /usr, an rpm database only (--dbpath, always: Debian's
# default is ~/.rpmdb). --nodeps: the private database is otherwise empty.
R="$T/root"
mkdir -p "$R/usr/bin"
ln -s usr/bin "$R/bin"
rpm --root="$R" --dbpath=/var/lib/rpm --initdb || fail_setup "rpm --initdb failed"
rpm --root="$R" --dbpath=/var/lib/rpm --nodeps -i "$RPMFILE" >"$T/rpm.log" 2>&1 || {
  cat "$T/rpm.log" >&2
  fail_setup "rpm could not install '$RPMFILE' into '$R'"
}
expect "rpm installed demo-daemon 1.0-1 into the root" eq \
  "$(rpm --root="$R" --dbpath=/var/lib/rpm -q --qf '%{NAME} %{VERSION}-%{RELEASE}' demo-daemon)" \
  "demo-daemon 1.0-1"

DAEMON=/usr/bin/demo-daemon
HELPER=/usr/libexec/demo-daemon/demo-helper
LIB=/usr/lib/demo-daemon/libdemo.so.1

# The daemon, run from the root, execs its helper from disk: wait for one run.
hold "$R$DAEMON" "$R$HELPER" 2
daemon=$READY
wait_for "$HOLD_ERR" "^ran $R$HELPER: status 0\$"
hold "$HELPERS/t-map" "$R$LIB"
mapper=$READY

pg --root "$R" --backend rpm --json check demo-daemon
expect "check: exit status 1" eq "$RC" 1
expect "check: the rpm backend" eq "$(jqo -r '.backend')" rpm
expect "check: the package" eq \
  "$(jqo -r '.packages[0] | "\(.name) \(.version) \(.arch) \(.in_use)"')" \
  "demo-daemon 1.0-1 $ARCH true"
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

# Without --backend: the root has no dpkg database, rpm manages it.
pg --root "$R" --json check demo-daemon
expect "check, detected: exit status 1" eq "$RC" 1
expect "check, detected: the rpm backend" eq "$(jqo -r '.backend')" rpm
expect "check, detected: the daemon is an instance" jq_true --argjson pid "$daemon" \
  'any(.packages[0].processes[]; .pid == $pid and .reason == "exe")'

pg --root "$R" --backend rpm --json scan
expect "scan: exit status 0" eq "$RC" 0
expect "scan: lists demo-daemon with its instance" jq_true --argjson pid "$daemon" \
  'any(.packages[] | select(.name == "demo-daemon") | .processes[]; .pid == $pid and .reason == "exe")'
pg --root "$R" --backend rpm scan
expect "scan, human: lists demo-daemon" grep -Eq "^demo-daemon +1\\.0-1 .*\\[$daemon\\]" "$OUT"

stop "$daemon"
stop "$mapper"
pg --root "$R" --backend rpm --json check demo-daemon
expect_idle "check after stop" demo-daemon

pg --root "$R" --backend rpm check no-such-pkg
expect "unknown package: exit status 2" eq "$RC" 2
expect "unknown package: a message that names it" grep -q "no-such-pkg" "$OUT.err"
expect "unknown package: nothing on stdout" eq "$(cat "$OUT")" ""

expect "the host's dpkg status is unchanged" eq "$(md5sum <"$STATUS")" "$host_status"
expect "the host's rpm databases are unchanged" eq \
  "$(find /var/lib/rpm "$HOME/.rpmdb" -type f -exec md5sum {} + 2>/dev/null | sort || :)" "$host_rpm"
expect "the host's rpm knows no demo-daemon" eval \
  '! rpm --dbpath=/var/lib/rpm -q demo-daemon >/dev/null 2>&1'

finish
