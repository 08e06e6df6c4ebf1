#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# pkguard allow --once PKG...: one pending override per package, shown by
# status; a warning, not a failure, for a package that is not installed;
# a usage error without --once.
#
# Usage: allow.sh PKGUARD HELPERS_DIR STATE_FILL SCHEMA (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/lib.sh"
cli_init "$@"

# A private dpkg root with one package installed: "demo".
mkdir -p "$T/demo/usr/share/demo"
echo demo >"$T/demo/usr/share/demo/README"
make_deb "$T/demo" demo 1.0
R="$T/root"
make_root "$R"
install_deb "$R" "$T/demo_1.0_all.deb"

al()
{
  pg --root "$R" --state "$DB" "$@"
}

# pending: "package:by_uid ..." of the pending overrides, from status --json
pending()
{
  al --json status
  jqo -r '[.overrides[] | "\(.package):\(.by_uid)"] | join(" ")'
}

new_db
al allow --once demo
expect "installed package: exit status 0" eq "$RC" 0
expect "installed package: says what was recorded" grep -Fxq \
  "recorded a one-shot override for demo: the next upgrade of demo will pass, whatever the policy says" "$OUT"
expect "installed package: no warning" eq "$(cat "$OUT.err")" ""
expect "status shows one pending override, by root" eq "$(pending)" "demo:0"
al status
expect "status text lists it" grep -Eq '^  demo +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{5} \([0-9]+s ago\) +root$' "$OUT"

al allow --once demo ghost
expect "again, with a package that is not installed: exit status 0" eq "$RC" 0
expect "not installed: a warning" grep -Fq "warning: 'ghost' is not installed in '$R'; recording the override anyway" "$OUT.err"
expect "not installed: recorded all the same" grep -Fq "the next upgrade of ghost will pass" "$OUT"
expect "a second override of demo is the same one" eq "$(pending)" "demo:0 ghost:0"

al --json allow --once demo ghost
expect "--json: exit status 0" eq "$RC" 0
expect "--json: what was recorded, and whether it is installed" eq \
  "$(jqo -c '.overrides | map([.package, .by_uid, .installed])')" '[["demo",0,true],["ghost",0,false]]'

# Usage errors record nothing.
al allow demo
expect "without --once: exit status 2" eq "$RC" 2
expect "without --once: explains that only one-shot overrides exist" \
  grep -Fq "allow: --once is required (usage: pkguard allow --once PKG...; only one-shot overrides exist" "$OUT.err"
al allow --once
expect "no package: exit status 2" eq "$RC" 2
al allow --once --forever demo
expect "an unknown option: exit status 2" eq "$RC" 2
al allow --once ''
expect "an empty name: exit status 2" eq "$RC" 2
al allow --once $'x\ny'
expect "a name with a line break: exit status 2" eq "$RC" 2
expect "a name with a line break: escaped in the message" grep -Fq "allow: 'x\\ny' is not a package name" "$OUT.err"
new_db
al allow demo
al allow --once
expect "after usage errors, nothing is pending" eq "$(pending)" ""

finish
