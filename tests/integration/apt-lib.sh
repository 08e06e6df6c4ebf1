# shellcheck shell=bash disable=SC2016,SC2034
# The real apt and dpkg in a private root, for the apt integration tests
# (sourced by tests/integration/apt-*.sh; it sources tests/live/lib.sh).
#
# apt_lib_init PKGUARD HELPERS_DIR builds, under $T:
#   $R            a dpkg root (make_root) that apt installs into
#   $A            apt's own tree: state, cache, logs and etc, all private
#   $APT_CONF     the file APT_CONFIG names. apt reads it first, then the
#                 Dir::Etc::parts directory it names ($A/etc/apt.conf.d,
#                 which holds only the pkguard snippet), then Dir::Etc::main
#                 ($A/etc/apt.conf, absent): none of the host's
#                 /etc/apt/apt.conf.d (debconf's Pre-Install-Pkgs hook,
#                 PackageKit's Post-Invoke, docker-clean) is read.
#   $REPO         a flat repository "deb [trusted=yes] file:$REPO ./" whose
#                 Packages file dpkg-scanpackages writes (publish)
#   $PKGUARD_CONF pkguard's policy (policy), $STATE its state database
# apt runs dpkg as "dpkg --root=$R --force-script-chrootless --log=...":
# --root is instdir $R and admindir $R/var/lib/dpkg; apt locks that admin
# directory (Dir::State::status lives there), not the host's. Nothing of the
# host's package state may change: apt_finish checks.
#
# The demo packages (make_demos), built with dpkg-deb:
#   demo-daemon 1.0 2.0 3.0  /usr/bin/demo-daemon (t-daemon, an ELF daemon
#                            that execs its helper from disk every few
#                            seconds), /usr/libexec/demo-daemon/demo-helper
#                            (a copy of /bin/true), /usr/share/demo-daemon/version
#   demo-job 1.0 2.0         /usr/bin/demo-job (t-lock: a job that holds
#                            /var/lib/demo-job/.lock, certbot-style: root's,
#                            0600, not a package file, while it works)
#   demo-other 1.0 2.0       /usr/share/demo-other/version, used by no one
# and, with make_libdemo, a Multi-Arch: same library package, libdemo.

. "$(dirname "${BASH_SOURCE[0]}")/../live/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/demos.sh"

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
R=
A=
REPO=
DEBS=
STATE=
APT_CONF=
HOOK_SNIPPET=   # where the pkguard snippet came from (for the log)
DEMO_PKGS="demo-daemon demo-job demo-other"

apt_lib_init()
{
  lib_init "$@"
  # apt runs DPkg::Post-Invoke in /tmp: the snippet needs absolute paths.
  PKGUARD=$(realpath "$PKGUARD")
  HELPERS=$(realpath "$HELPERS")
  local tool
  for tool in apt-get apt-config dpkg-query dpkg-scanpackages sqlite3 md5sum; do
    command -v "$tool" >/dev/null || fail_setup "'$tool' is not installed"
  done
  R=$T/root
  A=$T/apt
  REPO=$T/repo
  DEBS=$T/debs
  STATE=$T/state.db
  APT_CONF=$T/apt.conf
  host_snapshot
  make_root "$R"
  mkdir -p "$A/state/lists/partial" "$A/cache/archives/partial" "$A/log" \
    "$A/etc/apt.conf.d" "$A/etc/sources.list.d" "$A/etc/preferences.d" \
    "$A/etc/trusted.gpg.d" "$A/etc/auth.conf.d" "$REPO" "$DEBS"
  echo "deb [trusted=yes] file:$REPO ./" >"$A/etc/sources.list"
  cat >"$APT_CONF" <<APT_END
// pkguard integration tests: apt with nothing of the host's but its programs.
Dir "$A/";
Dir::State "$A/state/";
Dir::State::lists "lists/";
Dir::State::extended_states "extended_states";
Dir::State::status "$R/var/lib/dpkg/status";
Dir::Cache "$A/cache/";
Dir::Cache::archives "archives/";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Dir::Etc "$A/etc/";
Dir::Etc::main "apt.conf";
Dir::Etc::parts "apt.conf.d/";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d/";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d/";
Dir::Etc::trusted "trusted.gpg";
Dir::Etc::trustedparts "trusted.gpg.d/";
Dir::Etc::netrcparts "auth.conf.d/";
Dir::Log "$A/log/";
// A file: repository needs no download sandbox, hence no _apt user.
APT::Sandbox::User "root";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dpkg::Use-Pty "false";
DPkg::Options { "--root=$R"; "--force-script-chrootless"; "--log=$R/var/log/dpkg.log"; };
APT_END
  policy ''
  apt_snippet
  # dpkg reads the host's /etc/dpkg/dpkg.cfg.d even with --root: its
  # invoke hooks run in these tests too.
  if grep -Eqs '^[[:space:]]*(pre|post)-invoke' /etc/dpkg/dpkg.cfg.d/* /etc/dpkg/dpkg.cfg; then
    echo "# note: the host's dpkg configuration has invoke hooks, which dpkg runs here too:"
    grep -Es '^[[:space:]]*(pre|post)-invoke' /etc/dpkg/dpkg.cfg.d/* /etc/dpkg/dpkg.cfg | sed 's/^/#   /'
  fi
}

# apt_snippet: the pkguard snippet in apt's private parts directory: a test
# copy of hooks/apt/50pkguard with /usr/sbin/pkguard replaced by the build's
# pkguard and "--root $R --config $PKGUARD_CONF --state $STATE" before
# "hook apt" and "post apt". apt keys a hook's protocol Version and InfoFD by
# the command's first word, which the real snippet keeps an environment
# assignment; sed leaves it alone. Until that file exists, a copy of the same
# shape.
apt_snippet()
{
  local real="$SRC_DIR/hooks/apt/50pkguard"
  local run="$PKGUARD --root $R --config $T/pkguard.conf --state $STATE"
  if [ -f "$real" ]; then
    HOOK_SNIPPET=$real
    sed -e "s|/usr/sbin/pkguard hook apt|$run hook apt|g" \
      -e "s|/usr/sbin/pkguard post apt|$run post apt|g" \
      -e "s|/usr/sbin/pkguard|$PKGUARD|g" "$real" >"$A/etc/apt.conf.d/50pkguard"
  else
    HOOK_SNIPPET="built-in copy (no $real yet)"
    cat >"$A/etc/apt.conf.d/50pkguard" <<SNIPPET_END
DPkg::Pre-Install-Pkgs { "PKGUARD_APT_HOOK=3 sh -c 'test -x $PKGUARD || exit 0; exec $run hook apt'"; };
DPkg::Tools::Options::PKGUARD_APT_HOOK=3::Version "3";
DPkg::Tools::Options::PKGUARD_APT_HOOK=3::InfoFD "3";
DPkg::Post-Invoke { "PKGUARD_APT_HOOK=3 sh -c 'test -x $PKGUARD || exit 0; exec $run post apt' || true"; };
SNIPPET_END
  fi
  echo "# pkguard apt snippet: $HOOK_SNIPPET"
}

# The status and version of package NAME in the root: "install ok
# installed 1.0", "hold ok installed 1.0", or "" when dpkg knows none.
pkg_state()
{
  dpkg-query --admindir="$R/var/lib/dpkg" -W -f '${Status} ${Version}' "$1" 2>/dev/null || :
}

# The selection of NAME in the root: install, hold, deinstall...
selection()
{
  dpkg --root="$R" --get-selections "$1" 2>/dev/null | awk '{ print $2 }'
}

# make_demo_deb NAME VERSION SETUP: a package tree $T/src/NAME-VERSION
# filled by the function SETUP (called with the tree and the version),
# built into $DEBS.
make_demo_deb()
{
  local d="$T/src/$1-$2"
  mkdir -p "$d"
  "$3" "$d" "$2"
  make_deb "$d" "$1" "$2"
  mv "$T/$1_$2_all.deb" "$DEBS/"
}

# make_libdemo VERSION: libdemo, Multi-Arch: same, for the native
# architecture: /usr/lib/<triplet>/libdemo/libdemo.so.1, a file to map.
make_libdemo()
{
  local d="$T/src/libdemo-$1" arch triplet
  arch=$(dpkg --print-architecture)
  triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
  LIBDEMO=/usr/lib/$triplet/libdemo/libdemo.so.1
  mkdir -p "$d/DEBIAN" "$d${LIBDEMO%/*}"
  echo "libdemo $1" >"$d$LIBDEMO"
  chmod 0644 "$d$LIBDEMO"
  printf '%s\n' "Package: libdemo" "Version: $1" "Architecture: $arch" "Multi-Arch: same" \
    "Maintainer: pkguard tests <tests@example.invalid>" "Description: pkguard test package" \
    >"$d/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$d" "$DEBS/libdemo_$1_$arch.deb" >/dev/null ||
    fail_setup "dpkg-deb could not build libdemo"
}

# make_demos: every version of the demo packages, in $DEBS.
make_demos()
{
  local v
  for v in 1.0 2.0 3.0; do make_demo_deb demo-daemon "$v" fill_daemon; done
  for v in 1.0 2.0; do
    make_demo_deb demo-job "$v" fill_job
    make_demo_deb demo-other "$v" fill_other
  done
}

# publish NAME_VERSION...: the repository offers exactly these packages
# ("demo-daemon_2.0"); apt-get update reads it.
publish()
{
  local p
  rm -f "$REPO"/*.deb
  for p in "$@"; do
    ln "$DEBS/${p}"_*.deb "$REPO/" || fail_setup "no package $p"
  done
  (cd "$REPO" && dpkg-scanpackages --multiversion . /dev/null >Packages 2>"$T/scan.err") ||
    fail_setup "dpkg-scanpackages failed: $(cat "$T/scan.err")"
  apt_get update
  [ "$RC" -eq 0 ] || {
    cat "$OUT" "$OUT.err" >&2
    fail_setup "apt-get update failed"
  }
}

# apt_get ARGS...: apt-get -y in the private environment, with the FIFO ends
# we hold closed (a hook must not keep a helper's stdin open). RC, OUT and
# OUT.err as for pg.
apt_get()
{
  OUT="$T/apt.$((++N_RUNS))"
  RC=0
  LAST_WHAT="apt-get $*"
  (
    close_held
    export APT_CONFIG="$APT_CONF" DEBIAN_FRONTEND=noninteractive
    unset PKGUARD_DISABLE # the snippet's way to skip pkguard once
    exec timeout 60 apt-get -y "$@"
  ) </dev/null >"$OUT" 2>"$OUT.err" || RC=$?
}

# pkguard as the snippet runs it (same root, configuration and state).
pga()
{
  PKGUARD_CONF=$T/pkguard.conf
  pg --root "$R" "$@"
}

# apt_install_demos NAME=VERSION...: the starting point, installed by apt
# itself (through the hook: a fresh install replaces nothing).
apt_install_demos()
{
  apt_get install "$@"
  [ "$RC" -eq 0 ] || {
    cat "$OUT" "$OUT.err" >&2
    fail_setup "apt-get could not install $* into $R"
  }
}

# apt_said REGEX: apt's output (stdout or stderr, the hook's included) has it.
apt_said()
{
  grep -Eq -- "$1" "$OUT" "$OUT.err"
}

# kept_back NAME: the last apt run listed NAME as kept back (held).
kept_back()
{
  sed -n '/^The following packages have been kept back:/,/^[^ ]/p' "$OUT" | grep -qw -- "$1"
}


# ---- the host's package state, which must not change.

HOST_FILES="/var/lib/dpkg/status /var/lib/apt/extended_states /var/log/dpkg.log
/var/log/apt/history.log /var/log/apt/term.log /var/log/apt/eipp.log.xz"
HOST_DIRS="/var/lib/apt/lists /var/cache/apt/archives /var/lib/dpkg/info /var/lib/dpkg/updates"
declare -A HOST_SUM=() HOST_SIZE=()

host_snapshot()
{
  local f d
  for f in $HOST_FILES; do
    HOST_SUM[$f]=$(md5sum <"$f" 2>/dev/null || echo absent)
    HOST_SIZE[$f]=$(stat -c %s "$f" 2>/dev/null || echo 0)
  done
  for d in $HOST_DIRS; do
    find "$d" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort >"$T/host.$(echo "$d" | tr / _)"
  done
}

# What a file gained since the snapshot (all of it if it shrank: rotated).
host_added()
{
  local size
  size=$(stat -c %s "$1" 2>/dev/null || echo 0)
  if [ "$size" -ge "${HOST_SIZE[$1]}" ]; then
    tail -c +"$((HOST_SIZE[$1] + 1))" "$1" 2>/dev/null
  else
    cat "$1" 2>/dev/null
  fi
}

# The host's files may name nothing of ours: our packages or our directory.
HOST_OURS=

host_file_clean()
{
  case $1 in
  *.xz) xzcat "$1" 2>/dev/null ;;
  *) cat "$1" 2>/dev/null ;;
  esac | grep -Eq "$HOST_OURS" && return 1
  return 0
}

host_added_clean()
{
  host_added "$1" | grep -Eq "$HOST_OURS" && return 1
  return 0
}

# The entries DIR gained since the snapshot name nothing of ours.
host_dir_clean()
{
  find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort |
    comm -13 "$T/host.$(echo "$1" | tr / _)" - |
    grep -Eq "demo-|libdemo|pkguard-test" && return 1
  return 0
}

host_knows_no_demo()
{
  ! dpkg-query -W demo-daemon demo-job demo-other libdemo >/dev/null 2>&1
}

# Nothing of ours reached the host. A host file may still change under
# another administrator's transaction (this machine is shared): then what it
# gained must name neither our packages nor our directory.
host_untouched()
{
  local f sum
  HOST_OURS="demo-(daemon|job|other)|libdemo|$T"
  for f in $HOST_FILES; do
    sum=$(md5sum <"$f" 2>/dev/null || echo absent)
    if [ "$sum" = "${HOST_SUM[$f]}" ]; then
      ok "host: $f unchanged"
    elif [ "$f" = /var/lib/dpkg/status ] || [[ $f == *.xz ]]; then
      # Rewritten whole: only its content can tell.
      echo "  # $f changed meanwhile: another transaction on this host"
      expect "host: $f names nothing of ours" host_file_clean "$f"
    else
      echo "  # $f grew meanwhile: another transaction on this host"
      expect "host: what $f gained names nothing of ours" host_added_clean "$f"
    fi
  done
  for f in $HOST_DIRS; do
    expect "host: nothing of ours in $f" host_dir_clean "$f"
  done
  expect "host: dpkg knows no demo package" host_knows_no_demo
}

# The final lines: the host check, then lib.sh's finish.
apt_finish()
{
  host_untouched
  finish
}

# The standard start: every demo package at 1.0, installed by apt.
apt_demos_at_1()
{
  make_demos
  publish demo-daemon_1.0 demo-job_1.0 demo-other_1.0
  apt_install_demos demo-daemon demo-job demo-other
}
