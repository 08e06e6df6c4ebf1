# shellcheck shell=bash disable=SC2016,SC2034
# The real rpm in a private root and database, with pkguard's transaction
# plugin loaded from the build tree, for the rpm integration tests
# (sourced by tests/integration/rpm-*.sh; it sources tests/live/lib.sh).
#
# rpm_lib_init PKGUARD HELPERS_DIR PLUGIN builds, under $T:
#   $R            an rpm root: its database in $R/var/lib/rpm (rpm --root $R
#                 --dbpath /var/lib/rpm, the layout rpm-based systems have;
#                 Debian's rpm would otherwise use ~/.rpmdb)
#   $PDIR         a plugin directory holding only a copy of PLUGIN as
#                 pkguard.so: rpm loads %{__plugindir}/NAME.so only while
#                 %__transaction_NAME is defined, and both are --define'd
#                 for each rpm run (rpm_run), so the host's rpm configuration
#                 is neither read for plugins nor changed
#   $RPMS         the demo packages (demos.sh), built here with rpmbuild
#   $PKGUARD_CONF pkguard's policy (policy), $STATE its state database: the
#                 plugin gets both as options after its path in the macro
# Nothing of the host's package state may change: rpm_finish checks.
#
# A plugin built with AddressSanitizer needs the runtime loaded first in the
# process that dlopen()s it, and Debian's rpm 4.18 hangs at start with
# libasan preloaded (a lock in textdomain() under rpmcliInit(), seen with
# plain `rpm --version`): these tests skip in the sanitizer build; the
# release build runs them, and rpm-valgrind.sh checks the plugin inside rpm
# under memcheck.

. "$(dirname "${BASH_SOURCE[0]}")/../live/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/demos.sh"

R=
PDIR=
RPMS=
STATE=
PLUGIN=
HOST_RPM=
RPM_WRAP=()   # a program rpm runs under (valgrind), or nothing
PLUGIN_OPTS=  # the plugin's options; empty: our configuration and state

rpm_lib_init()
{
  [ "$#" -eq 3 ] || {
    echo "usage: $0 PKGUARD HELPERS_DIR PLUGIN" >&2
    exit 2
  }
  PLUGIN=$(realpath "$3")
  lib_init "$1" "$2"
  PKGUARD=$(realpath "$PKGUARD")
  HELPERS=$(realpath "$HELPERS")
  if ! command -v rpm >/dev/null || ! command -v rpmbuild >/dev/null; then
    echo "SKIP: rpm and rpmbuild are not installed"
    exit 77
  fi
  local tool
  for tool in sqlite3 md5sum readelf; do
    command -v "$tool" >/dev/null || fail_setup "'$tool' is not installed"
  done
  [ -f "$PLUGIN" ] || fail_setup "no plugin at '$PLUGIN'"
  R=$T/root
  PDIR=$T/plugins
  RPMS=$T/rpms
  STATE=$T/state.db
  mkdir -p "$R" "$PDIR" "$RPMS"
  cp "$PLUGIN" "$PDIR/pkguard.so"
  if readelf -d "$PLUGIN" | grep -q 'Shared library: \[libasan'; then
    echo "SKIP: the plugin is built with ASan, which rpm cannot load (see rpm-lib.sh)"
    exit 77
  fi
  HOST_RPM=$(host_rpm_sums)
  rpm --root "$R" --dbpath /var/lib/rpm --initdb || fail_setup "rpm --initdb failed"
  policy ''
}

host_rpm_sums()
{
  find /var/lib/rpm "$HOME/.rpmdb" -type f -exec md5sum {} + 2>/dev/null | sort || :
}

# policy TEXT: pkguard's configuration from now on, as apt-lib.sh's.
policy()
{
  printf '[pkguard]\ndenied = ignore\n%s\n[package demo-job]\nlockfile = %s\n' \
    "$1" "$JOB_LOCK" >"$T/pkguard.conf"
  PKGUARD_CONF=$T/pkguard.conf
}

# make_rpm NAME VERSION FILL: a package tree filled by FILL (demos.sh),
# built into $RPMS as NAME-VERSION-1.ARCH.rpm. Every file is listed, and
# the directories named after the package are owned. No debuginfo, no
# build-id links, no generated dependencies: nothing but the files.
make_rpm()
{
  local d="$T/src/$1-$2" spec="$T/src/$1-$2.spec" f
  mkdir -p "$d"
  "$3" "$d" "$2"
  {
    printf '%s\n' "Name: $1" "Version: $2" "Release: 1" "Summary: pkguard test package" \
      "License: MIT" "AutoReqProv: no" '%define debug_package %{nil}' \
      '%define __os_install_post %{nil}' '%define _build_id_links none' \
      '%description' 'pkguard test package' '%install' "cp -a $d/. %{buildroot}/" '%files'
    (cd "$d" && find . -mindepth 1 -type d -name "*$1*" | sed 's|^\.|%dir |')
    (cd "$d" && find . -mindepth 1 ! -type d | sed 's|^\.||')
  } >"$spec"
  rpmbuild --define "_topdir $T/top" -bb "$spec" >"$spec.log" 2>&1 || {
    cat "$spec.log" >&2
    fail_setup "rpmbuild could not build $1 $2"
  }
  mv "$T"/top/RPMS/*/"$1-$2-1."*.rpm "$RPMS/"
}

# rpm_file NAME VERSION: the package file built for them.
rpm_file()
{
  echo "$RPMS/$1-$2-1."*.rpm
}

make_demos()
{
  local v
  for v in 1.0 2.0 3.0; do make_rpm demo-daemon "$v" fill_daemon; done
  for v in 1.0 2.0; do
    make_rpm demo-job "$v" fill_job
    make_rpm demo-other "$v" fill_other
  done
}

# rpm_run ARGS...: the real rpm on the root with pkguard's plugin loaded
# from $PDIR (options: our configuration and state). RC, OUT, OUT.err.
rpm_run()
{
  OUT="$T/rpm.$((++N_RUNS))"
  RC=0
  LAST_WHAT="rpm $*"
  (
    close_held
    exec timeout 120 "${RPM_WRAP[@]}" rpm --root "$R" --dbpath /var/lib/rpm --nodeps \
      --define "__plugindir $PDIR" \
      --define "__transaction_pkguard $PDIR/pkguard.so ${PLUGIN_OPTS:---config $T/pkguard.conf --state $STATE}" \
      "$@"
  ) </dev/null >"$OUT" 2>"$OUT.err" || RC=$?
}

# rpm_said REGEX: rpm's output (stdout or stderr) has it.
rpm_said()
{
  grep -Eq -- "$1" "$OUT" "$OUT.err"
}

# The installed version of NAME ("1.0"), or "" when rpm knows none.
rpm_version()
{
  rpm --root "$R" --dbpath /var/lib/rpm -q --qf '%{VERSION}' "$1" 2>/dev/null || :
}

# rpm_demos_at_1: every demo package at 1.0, installed through the plugin
# (a fresh install replaces nothing: it lets it go without a run).
rpm_demos_at_1()
{
  make_demos
  rpm_run -i "$(rpm_file demo-daemon 1.0)" "$(rpm_file demo-job 1.0)" "$(rpm_file demo-other 1.0)"
  [ "$RC" -eq 0 ] || {
    cat "$OUT" "$OUT.err" >&2
    fail_setup "rpm could not install the demo packages into $R"
  }
}

# pkguard on the root, with the plugin's configuration and state.
pgr()
{
  PKGUARD_CONF=$T/pkguard.conf
  pg --root "$R" "$@"
}

sq()
{
  sqlite3 "$STATE" "$1"
}

last_action()
{
  sq "SELECT action FROM targets WHERE name = '$1' ORDER BY id DESC LIMIT 1"
}

inode()
{
  stat -c %i "$1"
}


rpm_finish()
{
  expect "host: the host's rpm databases unchanged" eq "$(host_rpm_sums)" "$HOST_RPM"
  expect "host: dpkg knows no demo package" eval \
    "! dpkg-query -W demo-daemon demo-job demo-other >/dev/null 2>&1"
  finish
}
