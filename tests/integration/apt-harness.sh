#!/bin/bash
# shellcheck disable=SC2016 # eval programs
# Integration: the apt environment of apt-lib.sh itself, with a trivial
# recording hook in place of pkguard's: apt reads none of the host's
# configuration, installs into the private root only, hands a
# Pre-Install-Pkgs hook the version 3 protocol with DPKG_FRONTEND_LOCKED set,
# lets a nested `dpkg --set-selections` in that hook change the root's
# selections (what pkguard's dpkg hold does), and exits 100 without running
# dpkg when the hook fails. The other apt-*.sh tests rely on all of this.
#
# Usage: apt-harness.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/apt-lib.sh"
apt_lib_init "$@"
make_demos

# The test copy of pkguard's snippet, as apt reads it.
APT_CONFIG=$APT_CONF apt-config dump >"$T/snippet.dump"
run="$PKGUARD --root $R --config $T/pkguard.conf --state $STATE"
expect "snippet: Pre-Install-Pkgs runs the build's pkguard on the root" \
  grep -qF "$run hook apt" "$T/snippet.dump"
expect "snippet: Post-Invoke likewise" grep -qF "$run post apt" "$T/snippet.dump"
word=$(sed -n 's/^DPkg::Pre-Install-Pkgs:: "\([^ ]*\) .*/\1/p' "$T/snippet.dump")
expect "snippet: its first word is an environment assignment ($word)" eval '[[ $word == *=* ]]'
# apt-config dump percent-encodes the '=' of the key.
expect "snippet: protocol version 3 under that word" \
  grep -qxF "DPkg::Tools::Options::${word//=/%3d}::Version \"3\";" "$T/snippet.dump"
expect "snippet: its own info fd" \
  grep -qxF "DPkg::Tools::Options::${word//=/%3d}::InfoFD \"3\";" "$T/snippet.dump"

# The trivial hook: records its environment and the protocol stream, then
# does what $T/hook.do says (sh code; "exit 1" refuses).
cat >"$T/hook.sh" <<HOOK_END
#!/bin/sh
env >"$T/hook.env"
cat <&3 >"$T/hook.in"
touch "$T/hook.do"
. "$T/hook.do"
HOOK_END
chmod 0755 "$T/hook.sh"
cat >"$A/etc/apt.conf.d/50pkguard" <<SNIPPET_END
DPkg::Pre-Install-Pkgs { "TRIVIAL_HOOK=1 sh -c '$T/hook.sh'"; };
DPkg::Tools::Options::TRIVIAL_HOOK=1::Version "3";
DPkg::Tools::Options::TRIVIAL_HOOK=1::InfoFD "3";
DPkg::Post-Invoke { "TRIVIAL_HOOK=1 sh -c 'echo post >>$T/post.log'"; };
SNIPPET_END

APT_CONFIG=$APT_CONF apt-config dump >"$T/config.dump"
expect "config: the private status file" grep -qxF "Dir::State::status \"$R/var/lib/dpkg/status\";" "$T/config.dump"
expect "config: the private parts directory" grep -qxF "Dir::Etc::parts \"apt.conf.d/\";" "$T/config.dump"
expect "config: our hook is the only Pre-Install-Pkgs" eq \
  "$(grep -c '^DPkg::Pre-Install-Pkgs:: ' "$T/config.dump")" 1
expect "config: no host snippet (debconf, PackageKit, docker, autoremove)" eval \
  "! grep -Eq 'dpkg-preconfigure|PackageKit|NeverAutoRemove|Check-Valid-Until|pkgcache.bin' '$T/config.dump'"
expect "config: dpkg gets --root" grep -qF "DPkg::Options:: \"--root=$R\";" "$T/config.dump"

publish demo-daemon_1.0 demo-job_1.0 demo-other_1.0
expect "update: the repository's packages are known" eval \
  "APT_CONFIG='$APT_CONF' apt-cache policy demo-daemon | grep -q 'Candidate: 1.0'"

apt_install_demos demo-daemon demo-job demo-other
for p in $DEMO_PKGS; do
  expect "install: $p 1.0 in the root" eq "$(pkg_state "$p")" "install ok installed 1.0"
done
expect "install: the daemon's file in the root" cmp -s "$HELPERS/t-daemon" "$R$DAEMON"
expect "install: dpkg logged into the root" grep -q " install demo-daemon:all <none> 1.0" "$R/var/log/dpkg.log"
expect "install: apt logged privately" grep -q "demo-daemon" "$A/log/history.log"
expect "hook: protocol version 3" eq "$(head -n 1 "$T/hook.in")" "VERSION 3"
expect "hook: a fresh install line" grep -Eq \
  "^demo-daemon - - none < 1\\.0 all none $REPO/(\\./)?demo-daemon_1\\.0_all\\.deb\$" "$T/hook.in"
expect "hook: DPKG_FRONTEND_LOCKED set" grep -qx "DPKG_FRONTEND_LOCKED=true" "$T/hook.env"
expect "hook: APT_HOOK_INFO_FD is 3" grep -qx "APT_HOOK_INFO_FD=3" "$T/hook.env"
expect "post-invoke ran" eq "$(cat "$T/post.log")" post

# A nested dpkg in the hook, as pkguard's hold runs it: with the frontend
# lock apt holds declared, it can set the root's selections.
publish demo-daemon_1.0 demo-daemon_2.0 demo-job_1.0 demo-other_1.0 demo-other_2.0
printf '%s\n' "echo 'demo-other hold' | env -i PATH=/usr/bin:/bin DPKG_FRONTEND_LOCKED=\$DPKG_FRONTEND_LOCKED \\" \
  "  /usr/bin/dpkg --root='$R' --set-selections >'$T/nested.out' 2>&1; echo \$? >'$T/nested.rc'" \
  "echo 'demo-other hold' | env -i PATH=/usr/bin:/bin /usr/bin/dpkg --root='$R' --set-selections \\" \
  "  >'$T/nested-nolock.out' 2>&1; echo \$? >'$T/nested-nolock.rc'" \
  "exit 1" >"$T/hook.do"
apt_get install demo-daemon=2.0
expect "refusing hook: apt exits 100" eq "$RC" 100
expect "refusing hook: apt names it" apt_said "E: Sub-process TRIVIAL_HOOK=1 sh -c .* returned an error code \\(1\\)"
expect "refusing hook: dpkg never ran" eq "$(pkg_state demo-daemon)" "install ok installed 1.0"
expect "refusing hook: the file is untouched" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 1.0"
expect "nested dpkg with DPKG_FRONTEND_LOCKED: exit 0" eq "$(cat "$T/nested.rc")" 0
expect "nested dpkg with DPKG_FRONTEND_LOCKED: the selection is set" eq "$(selection demo-other)" hold
expect "nested dpkg without it: fails on apt's frontend lock" eq "$(cat "$T/nested-nolock.rc")" 2
expect "nested dpkg without it: says so" grep -q "frontend lock was locked by another process" "$T/nested-nolock.out"

# apt honours the hold in the root.
: >"$T/hook.do"
apt_get upgrade
expect "held: apt-get upgrade exit 0" eq "$RC" 0
expect "held: apt says demo-other is kept back" kept_back demo-other
expect "held: demo-other kept" eq "$(pkg_state demo-other)" "hold ok installed 1.0"
expect "held: demo-daemon upgraded" eq "$(pkg_state demo-daemon)" "install ok installed 2.0"
expect "held: the new file" eq "$(cat "$R/usr/share/demo-daemon/version")" "demo-daemon 2.0"

apt_finish
