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
# plain `rpm --version`). In the sanitizer build, rpm_run therefore makes
# its transactions with tests/helpers' t-rpmtrans, a sanitizer-built
# program that makes the same librpm calls as rpm -U/-e (librpm still loads
# the plugin itself); queries still use rpm. Tests that need the rpm program
# or dnf to load the plugin skip there (rpm_needs_program).

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
TRANS=        # t-rpmtrans, making the transactions instead of rpm (ASan build)

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
    TRANS=$HELPERS/t-rpmtrans
    [ -x "$TRANS" ] || fail_setup "no $TRANS for the ASan-built plugin"
    echo "# the plugin is built with ASan: transactions through t-rpmtrans (see rpm-lib.sh)"
  fi
  HOST_RPM=$(host_rpm_sums)
  rpm --root "$R" --dbpath /var/lib/rpm --initdb || fail_setup "rpm --initdb failed"
  policy ''
}

host_rpm_sums()
{
  find /var/lib/rpm "$HOME/.rpmdb" -type f -exec md5sum {} + 2>/dev/null | sort || :
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
# ARGS are rpm's: -i/-U [--test] [--oldpackage] FILE..., -e NAME...
rpm_run()
{
  OUT="$T/rpm.$((++N_RUNS))"
  RC=0
  LAST_WHAT="rpm $*"
  local macro="$PDIR/pkguard.so ${PLUGIN_OPTS:---config $T/pkguard.conf --state $STATE}"
  (
    close_held
    if [ -n "$TRANS" ]; then
      [ "$1" = -i ] && set -- -U "${@:2}"
      # t-rpmtrans takes the options first, then the mode and its operands.
      local opts=() mode=
      while [ "$#" -gt 0 ]; do
        case $1 in
        --test | --oldpackage) opts+=("$1") ;;
        -U | -e) mode=$1 ;;
        *) break ;;
        esac
        shift
      done
      # A sanitizer report exits 86: never mistaken for a refusal (1).
      export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=print_stacktrace=1:exitcode=86
      exec timeout 120 "$TRANS" "$R" -D "_dbpath /var/lib/rpm" -D "__plugindir $PDIR" \
        -D "__transaction_pkguard $macro" "${opts[@]}" "$mode" "$@"
    fi
    exec timeout 120 "${RPM_WRAP[@]}" rpm --root "$R" --dbpath /var/lib/rpm --nodeps \
      --define "__plugindir $PDIR" --define "__transaction_pkguard $macro" "$@"
  ) </dev/null >"$OUT" 2>"$OUT.err" || RC=$?
}

# rpm_needs_program WHAT: skip a test that needs the rpm program (or dnf) to
# load the plugin, which the sanitizer build cannot (see above).
rpm_needs_program()
{
  if [ -n "$TRANS" ]; then
    echo "SKIP: $1 needs the rpm program to load the plugin; it is built with ASan here"
    exit 77
  fi
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


# No sanitizer report in any transaction's output (the sanitizer build).
no_sanitizer_report()
{
  ! grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T"/rpm.*.err 2>/dev/null
}

rpm_finish()
{
  [ -z "$TRANS" ] || expect "sanitizers: no report from any transaction" no_sanitizer_report
  expect "host: the host's rpm databases unchanged" eq "$(host_rpm_sums)" "$HOST_RPM"
  expect "host: dpkg knows no demo package" eval \
    "! dpkg-query -W demo-daemon demo-job demo-other >/dev/null 2>&1"
  finish
}
