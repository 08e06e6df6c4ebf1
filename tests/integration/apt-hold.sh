#!/bin/bash
# Integration: the dpkg backend's hold (dpkg --set-selections, as apt-mark
# hold does), placed from inside a real apt Pre-Install-Pkgs hook and lifted
# by pkguard resume, in a private root (apt-lib.sh). The hook here is a
# stand-in for `pkguard hook apt`: it turns apt's version 3 lines into
# `pkguard hook manual NAME=VERSION...`, so that only the hold is on trial.
#  - inside apt (which holds dpkg's frontend lock and says so in
#    DPKG_FRONTEND_LOCKED) the hold is placed; apt exits 100;
#  - holding a held package again changes nothing;
#  - outside apt, with the frontend lock held by someone else, dpkg's
#    refusal is reported with its exit status (and the hook fails open);
#  - resume lifts pkguard's hold, never a selection that is no longer hold,
#    nor a hold the admin placed before pkguard deferred the package;
#  - Multi-Arch: same: every installed instance, or the one named.
#
# Usage: apt-hold.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/apt-lib.sh"
apt_lib_init "$@"

cat >"$T/hook-manual.sh" <<HOOK_END
#!/bin/sh
# apt's version 3 stream on fd 3: after the configuration and a blank line,
# NAME OLDVER OLDARCH OLDMA OP NEWVER NEWARCH NEWMA ACTION.
targets=\$(sed '1,/^\$/d' <&3 | awk '\$9 != "**CONFIGURE**" && NF == 9 {
  print (\$6 == "-" ? \$1 : \$1 "=" \$6) }' | sort -u)
exec "$PKGUARD" --root "$R" --config "$T/pkguard.conf" --state "$STATE" hook manual \$targets
HOOK_END
chmod 0755 "$T/hook-manual.sh"
cat >"$A/etc/apt.conf.d/50pkguard" <<SNIPPET_END
DPkg::Pre-Install-Pkgs { "HOOK_MANUAL=1 sh -c '$T/hook-manual.sh'"; };
DPkg::Tools::Options::HOOK_MANUAL=1::Version "3";
DPkg::Tools::Options::HOOK_MANUAL=1::InfoFD "3";
SNIPPET_END

apt_demos_at_1
install -m 0600 /dev/null "$R$JOB_LOCK"
policy '[package demo-daemon demo-job libdemo]
action = defer'
start_daemon
daemon=$DAEMON_PID
publish demo-daemon_1.0 demo-daemon_2.0 demo-job_1.0 demo-job_2.0 demo-other_1.0 demo-other_2.0

# --- inside apt's hook
apt_get upgrade
expect "in apt: apt exits 100" eq "$RC" 100
expect "in apt: deferred and held back" apt_said "deferred \\(1 time\\) and held back"
expect "in apt: no hold error" eval "! apt_said 'cannot hold'"
expect "in apt: the selection is hold" eq "$(selection demo-daemon)" hold
expect "in apt: the others' selections untouched" eq "$(selection demo-job) $(selection demo-other)" \
  "install install"
expect "in apt: the hold recorded" eq "$(sq "SELECT package || ' ' || backend FROM holds")" "demo-daemon dpkg"
expect "in apt: still 1.0" eq "$(pkg_state demo-daemon)" "hold ok installed 1.0"
expect "in apt: the host's selections untouched" host_knows_no_demo

# --- again: already held
pga hook manual demo-daemon=2.0
expect "again: refused" eq "$RC" 1
expect "again: held back" grep -q "deferred (2 times) and held back" "$OUT.err"
expect "again: still hold" eq "$(selection demo-daemon)" hold

# --- outside apt, someone else holds dpkg's frontend lock
hold "$HELPERS/t-lock" posix-wr "$R/var/lib/dpkg/lock-frontend"
locker=$READY
hold "$R$JOB" posix-wr "$R$JOB_LOCK"
job=$READY
pga hook manual demo-job=2.0
# The refusal stands without the hold (the next run defers again), with the reason.
expect "locked: still refused" eq "$RC" 1
expect "locked: says it could not hold" grep -q "deferred (1 time) but not held back" "$OUT.err"
expect "locked: dpkg's exit status and error" grep -Fq \
  "cannot hold package 'demo-job': '/usr/bin/dpkg --root=$R --set-selections' exited with status 2: dpkg: error: dpkg frontend lock was locked by another process with pid $locker" \
  "$OUT.err"
expect "locked: the selection unchanged" eq "$(selection demo-job)" install
expect "locked: no hold recorded" eq "$(sq "SELECT count(*) FROM holds WHERE package = 'demo-job'")" 0
stop "$locker"
stop "$job"

# --- resume
pga resume
expect "resume in use: stays held" eq "$(selection demo-daemon)" hold
stop "$daemon"
pga resume
expect "resume: exit 0" eq "$RC" 0
expect "resume: lifted" eq "$(selection demo-daemon)" install
expect "resume: dpkg status" eq "$(pkg_state demo-daemon)" "install ok installed 1.0"

# A selection the admin changed meanwhile is not pkguard's hold any more.
start_daemon
pga hook manual demo-daemon=2.0
expect "admin: held again" eq "$(selection demo-daemon)" hold
echo "demo-daemon deinstall" | dpkg --root="$R" --set-selections
stop "$DAEMON_PID"
pga resume
expect "admin: resume exit 0" eq "$RC" 0
expect "admin: the admin's selection stays" eq "$(selection demo-daemon)" deinstall
expect "admin: pkguard's record gone" eq "$(sq "SELECT count(*) FROM holds")" 0
echo "demo-daemon install" | dpkg --root="$R" --set-selections

# A hold the admin placed before pkguard deferred the package is the
# admin's: resume must leave it.
echo "demo-daemon hold" | dpkg --root="$R" --set-selections
start_daemon
pga hook manual demo-daemon=2.0
expect "admin's hold first: deferred" eq "$RC" 1
expect "admin's hold first: not recorded as pkguard's" eq "$(sq "SELECT count(*) FROM holds")" 0
stop "$DAEMON_PID"
pga resume
expect "admin's hold first: resume leaves it" eq "$(selection demo-daemon)" hold
echo "demo-daemon install" | dpkg --root="$R" --set-selections

# --- Multi-Arch: same, two architectures. The policy is the global one:
# hook manual names the instance "libdemo:i386", which [package ...]
# sections cannot match (apt-block.sh has that case).
policy 'action = defer'
dpkg --root="$R" --add-architecture i386
for arch in amd64 i386; do
  d="$T/src/libdemo-$arch"
  mkdir -p "$d/DEBIAN" "$d/usr/lib/libdemo-$arch"
  install -m 0755 "$HELPERS/t-map" "$d/usr/lib/libdemo-$arch/libdemo-run"
  printf '%s\n' "Package: libdemo" "Version: 1.0" "Architecture: $arch" "Multi-Arch: same" \
    "Maintainer: pkguard tests <tests@example.invalid>" "Description: pkguard test package" \
    >"$d/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$d" "$T/libdemo_$arch.deb" >/dev/null
  install_deb "$R" "$T/libdemo_$arch.deb"
done
expect "multi-arch: two instances" eq "$(dpkg --root="$R" --get-selections 'libdemo:*' | awk '{ print $1 }' | tr '\n' ' ')" \
  "libdemo:amd64 libdemo:i386 "
hold "$R/usr/lib/libdemo-i386/libdemo-run" "$R/usr/lib/libdemo-i386/libdemo-run"
user=$READY
pga hook manual libdemo
expect "multi-arch: refused" eq "$RC" 1
expect "multi-arch: every instance held" eq "$(selection libdemo:amd64) $(selection libdemo:i386)" "hold hold"
stop "$user"
pga resume
expect "multi-arch: every instance lifted" eq "$(selection libdemo:amd64) $(selection libdemo:i386)" \
  "install install"
hold "$R/usr/lib/libdemo-i386/libdemo-run" "$R/usr/lib/libdemo-i386/libdemo-run"
user=$READY
pga hook manual libdemo:i386
expect "multi-arch: only the instance named" eq "$(selection libdemo:amd64) $(selection libdemo:i386)" \
  "install hold"
stop "$user"
pga resume
expect "multi-arch: lifted" eq "$(selection libdemo:i386)" install

apt_finish
