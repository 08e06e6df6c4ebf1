#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# pkguard needs-restart: the real dpkg installs "nr-demo" into a private root;
# its program runs and its library is mapped from there; then the files are
# replaced the way dpkg replaces them (write the new file, rename it over the
# old one) and needs-restart lists exactly those processes, exit status 1.
# Not listed: a live package file literally named "... (deleted)", a deleted
# file whose path now holds a file no package owns, and one whose path holds
# nothing. Once the processes exit, nothing is listed, exit status 0.
#
# Usage: needs-restart.sh PKGUARD HELPERS_DIR STATE_FILL SCHEMA (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/lib.sh"
cli_init "$@"

EXE=/usr/bin/nr-demo
LIB=/usr/lib/nr-demo/libnr.so.1
LIAR="/usr/lib/nr-demo/libnr.so.1 (deleted)"
SCRATCH=/usr/lib/nr-demo/scratch.so
GONE=/usr/lib/nr-demo/gone.so
EVIL="/usr/bin/$ESC_NAME" # the process's comm is the escape sequence too

so=$(real_so)
[ -f "$so" ] || fail_setup "no shared object to copy"
P="$T/nr-demo"
mkdir -p "$P/usr/bin" "$P/usr/lib/nr-demo"
cp /bin/sleep "$P$EXE"
cp /bin/sleep "$P$EVIL"
cp "$so" "$P$LIB"
cp "$so" "$P$LIAR"
chmod 0644 "$P$LIB" "$P$LIAR"
make_deb "$P" nr-demo 1.0
R="$T/root"
make_root "$R"
install_deb "$R" "$T/nr-demo_1.0_all.deb"
# Beside the package's files, two that no package owns.
cp "$so" "$R$SCRATCH"
cp "$so" "$R$GONE"

nr()
{
  pg --root "$R" --state "$DB" "$@"
}

# replace FILE: the way dpkg does it: the new file beside, renamed over the old.
replace()
{
  cp "$R$1" "$R$1.dpkg-new"
  echo >>"$R$1.dpkg-new"
  mv -f "$R$1.dpkg-new" "$R$1"
}

# "PID ..." that the last needs-restart --json lists
listed()
{
  jqo -r '[.units[].processes[].pid] | sort | map(tostring) | join(" ")'
}

# "file use package,..." lines of PID in the last needs-restart --json
files_of()
{
  jqo -r --argjson pid "$1" \
    '.units[].processes[] | select(.pid == $pid) | .files[] | "\(.file) \(.use) \(.packages | join(","))"'
}

new_db
spawn "$R$EXE" 300
demo=$READY
wait_exe "$demo" "$R$EXE"
spawn "$R$EVIL" 300
evil=$READY
wait_exe "$evil" "$R$EVIL"
hold "$HELPERS/t-map" "$R$LIB"
mapper=$READY
hold "$HELPERS/t-map" "$R$LIAR"
liar=$READY
hold "$HELPERS/t-map" "$R$SCRATCH"
scratch=$READY
hold "$HELPERS/t-map" "$R$GONE"
gone=$READY

nr --json needs-restart
expect "before the upgrade: exit status 0" eq "$RC" 0
# Among them the map of a live package file named "libnr.so.1 (deleted)",
# next to the package's "libnr.so.1": only the link count tells them apart.
expect "before the upgrade: nothing listed" eq "$(listed)" ""
expect "before the upgrade: no process counted" eq "$(jqo -r '.processes')" 0
nr needs-restart
expect "before the upgrade: text says so" grep -Fxq "no process runs replaced files" "$OUT"

# The upgrade, and two files replaced or removed outside any package.
replace "$EXE"
replace "$EVIL"
replace "$LIB"
replace "$SCRATCH"
rm "$R$GONE"

nr --json needs-restart
expect "after the upgrade: exit status 1" eq "$RC" 1
expect "after the upgrade: exactly the programs and the library's user" eq "$(listed)" \
  "$(printf '%s\n' "$demo" "$evil" "$mapper" | sort -n | tr '\n' ' ' | sed 's/ $//')"
expect "the program: its exe, of nr-demo" eq "$(files_of "$demo")" "$EXE exe nr-demo"
expect "the library's user: its mapping, of nr-demo" eq "$(files_of "$mapper")" "$LIB map nr-demo"
expect "a live file named '... (deleted)' is not listed" eq "$(files_of "$liar")" ""
expect "a replaced file no package owns is not listed" eq "$(files_of "$scratch")" ""
expect "a removed file is not listed" eq "$(files_of "$gone")" ""
expect "counts: 3 processes, 1 package" eq "$(jqo -r '"\(.processes) \(.packages)"')" "3 1"
expect "a hostile name: comm and file escaped in JSON" eq \
  "$(jqo -r --argjson pid "$evil" '.units[].processes[] | select(.pid == $pid) | "\(.comm) \(.files[0].file)"')" \
  '\x1b[2Jx /usr/bin/\x1b[2Jx'
expect "the process's comm and user" eq \
  "$(jqo -r --argjson pid "$demo" '.units[].processes[] | select(.pid == $pid) | "\(.comm) \(.user)"')" \
  "nr-demo root"

nr needs-restart
expect "text: exit status 1" eq "$RC" 1
expect "text: no raw control byte" no_raw_control "$OUT"
expect "text: the hostile name, escaped" grep -Fq " $evil  root  \x1b[2Jx  exe  nr-demo  /usr/bin/\x1b[2Jx" "$OUT"
expect "text: the program's line" grep -Eq "^  $demo +root +nr-demo +exe +nr-demo +$EXE\$" "$OUT"
expect "text: the library user's line" grep -Eq "^  $mapper +root +t-map +map +nr-demo +$LIB\$" "$OUT"
expect "text: grouped under a unit heading" grep -Eq '^[^ ].*:$' "$OUT"
expect "text: the summary" grep -Fxq \
  "3 processes run replaced files of 1 package: restart them to run the new versions" "$OUT"

# Recorded for status.
nr --json status
expect "status: valid JSON" valid_json "$OUT"
expect "status: the recorded list" eq \
  "$(jqo -r '[.needs_restart[].processes[] | "\(.pid):\(.files | map(.package + .file) | join(","))"] | sort | join(" ")')" \
  "$(printf '%s\n' "$demo:nr-demo$EXE" "$mapper:nr-demo$LIB" "$evil:nr-demo/usr/bin/\\x1b[2Jx" |
    sort | tr '\n' ' ' | sed 's/ $//')"
expect "status: needs-restart is no decision: no run recorded" eq "$(jqo -r '.runs | length')" 0
nr status
expect "status: text has no raw control byte" no_raw_control "$OUT"
expect "status: the hostile comm, escaped once" grep -Eq "^    $evil +root +\\\\x1b\\[2Jx +nr-demo +/usr/bin/\\\\x1b\\[2Jx " "$OUT"
nr --format openmetrics status
expect "status: openmetrics counts the three processes" eq \
  "$(awk '/^pkguard_needs_restart_package_processes\{package="nr-demo"\}/ { print $2 }' "$OUT")" 3
expect "status: openmetrics passes promtool" promtool_ok "$OUT"

# A state database that cannot be written does not make needs-restart fail.
: >"$T/not-a-directory"
pg --root "$R" --state "$T/not-a-directory/state.db" needs-restart
expect "unwritable state: still exit status 1" eq "$RC" 1
expect "unwritable state: still listed" grep -Eq "^  $demo " "$OUT"
expect "unwritable state: a warning" grep -q "warning: cannot record the list in the state database" "$OUT.err"

# The processes exit: nothing left to restart, and the recorded list empties.
stop "$demo"
stop "$evil"
stop "$mapper"
nr --json needs-restart
expect "after they exit: exit status 0" eq "$RC" 0
expect "after they exit: nothing listed" eq "$(listed)" ""
nr --json status
expect "after they exit: status lists none" eq "$(jqo -r '.needs_restart | length')" 0

nr needs-restart extra
expect "an unexpected argument: exit status 2" eq "$RC" 2

finish
