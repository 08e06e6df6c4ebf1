#!/bin/bash
# shellcheck disable=SC2016 # jq programs
# pkguard status in its three formats: on an empty database, on one filled
# through the state API with one of everything, and on one whose strings hold
# terminal escapes, line breaks, quotes, backslashes and a bidi override.
#
# Usage: status.sh PKGUARD HELPERS_DIR STATE_FILL SCHEMA (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/lib.sh"
cli_init "$@"

# A configuration of our own: max-defer 3d, 1d for lightningd.
mkdir "$T/etc"
printf '%s\n' '[pkguard]' 'max-defer = 3d' '' '[package lightningd]' 'max-defer = 1d' \
  >"$T/etc/pkguard.conf"
chmod 0644 "$T/etc/pkguard.conf"
st()
{
  pg --config "$T/etc/pkguard.conf" --state "$DB" "$@"
}

# Each format of the last database: the text in $T/text, JSON, OpenMetrics.
all_formats()
{
  st status
  cp "$OUT" "$T/text"
  expect "$1: text: exit status 0" eq "$RC" 0
  expect "$1: text: no raw control byte" no_raw_control "$T/text"
  st --json status
  cp "$OUT" "$T/json"
  expect "$1: json: exit status 0" eq "$RC" 0
  expect "$1: json: validates against docs/status.schema.json" valid_json "$T/json"
  st --format openmetrics status
  cp "$OUT" "$T/om"
  expect "$1: openmetrics: exit status 0" eq "$RC" 0
  expect "$1: openmetrics: promtool check metrics" promtool_ok "$T/om"
  expect "$1: openmetrics: ends with # EOF" eq "$(tail -n 1 "$T/om")" "# EOF"
  expect "$1: nothing on stderr" eq "$(cat "$OUT.err")" ""
}

jqj()
{
  jq "$@" "$T/json"
}

# jqt PROGRAM...: the last JSON makes PROGRAM true.
jqt()
{
  jq -e "$@" "$T/json" >/dev/null
}

# ---- an empty database ----
new_db
all_formats "empty"
expect "empty: every section says none" eq "$(grep -c '^  none$' "$T/text")" 7
for section in "Deferred upgrades" "Holds placed by pkguard" \
  "Units stopped for an upgrade, not started again" \
  "Needs restart (processes running replaced files)" \
  "Pending one-shot overrides (pkguard allow --once)" "Recent decisions" \
  "Recent errors and warnings"; do
  expect "empty: text: '$section' is followed by none" \
    eq "$(grep -A1 -Fx "$section:" "$T/text" | tail -n 1)" "  none"
done
expect "empty: json: every list is empty" eq \
  "$(jqj -c '[.quarantined, .deferrals, .holds, .stopped_units, .needs_restart, .overrides, .runs, .events] | map(length)')" \
  "[0,0,0,0,0,0,0,0]"
expect "empty: json: version 1, the database's path" eq "$(jqj -r '"\(.version) \(.state)"')" "1 $DB"
for line in "pkguard_deferrals 0" "pkguard_holds 0" "pkguard_stopped_units 0" \
  "pkguard_stopped_units_start_failed 0" "pkguard_pending_overrides 0" \
  "pkguard_state_quarantined 0" "# TYPE pkguard_last_run_timestamp_seconds gauge"; do
  expect "empty: openmetrics: '$line'" om_has "$T/om" "$line"
done
expect "empty: openmetrics: no run, no last-run sample" \
  eval '! grep -q "^pkguard_last_run_timestamp_seconds " "$T/om"'

# ---- one of everything ----
new_db
"$FILL" "$DB" full || fail_setup "t-state-fill full failed"
all_formats "full"
now=$(date +%s)
# "2026-11-22 21:30 (0s ago)": local time, then the age.
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} \([0-9]+s ago\)'
expect "full: text: the deferral, its count and max-defer" \
  grep -Eq "^  lightningd +24\.08-1 +$TIME +$TIME +2 +1d \(expires in 2[34]h\)\$" "$T/text"
expect "full: text: the hold" grep -Eq "^  lightningd +dpkg +$TIME\$" "$T/text"
expect "full: text: the stopped unit and its start error" \
  grep -Eq "^  postfix\.service +systemd +$TIME +[0-9]+ +cannot read '/proc/1234/maps': permission denied\$" "$T/text"
expect "full: text: a unit started again is not listed" eval '! grep -q started-again "$T/text"'
expect "full: text: needs restart grouped by unit" eq \
  "$(sed -n '/^Needs restart/,/^$/p' "$T/text" | grep -E '^  [^ ]' | tr '\n' ' ')" \
  "  postfix.service:   ssh.service:   (no unit): "
expect "full: text: the process under its unit, each file" eq \
  "$(sed -n '/^  postfix.service:/,/^  ssh.service:/p' "$T/text" | grep -Ec '^    4100 +root +master +(postfix|libssl3) ')" 2
expect "full: text: an unprivileged process by user name" \
  grep -Eq "^    4200 +nobody +curl +libssl3 +/usr/lib/x86_64-linux-gnu/libssl\.so\.3 +$TIME\$" "$T/text"
expect "full: text: the pending override, not the consumed one" eq \
  "$(sed -n '/^Pending one-shot/,/^$/p' "$T/text" | grep -Ec '^  (lightningd|consumed-pkg) ')" 1
expect "full: text: the newest run first, with its verdict" eq \
  "$(sed -n '/^Recent decisions:/,/^$/p' "$T/text" | grep -E "^  $TIME  " | sed -E 's/^.*\)  //')" \
  "$(printf '%s\n' 'post apt: warn  (run 2, root /, backend dpkg)' 'hook apt: defer  (run 1, root /, backend dpkg)')"
expect "full: text: a decision: package, versions, action, origin, detail" \
  grep -Eq '^    lightningd +23\.11-1 -> 24\.08-1 +defer +/etc/pkguard/policy\.d/c-lightning\.conf:2 +1 instance \(lightningd\[4242\]\) ships 9 helpers$' "$T/text"
expect "full: text: errors and warnings, newest first, no info" eq \
  "$(sed -n '/^Recent errors/,$p' "$T/text" | awk 'NR > 2 { print $5 }' | tr '\n' ' ')" \
  "error warning "
expect "full: json: the deferral" eq \
  "$(jqj -c '.deferrals | map([.package, .version, .count, .max_defer_seconds, .expires - .since])')" \
  '[["lightningd","24.08-1",2,86400,86400]]'
expect "full: json: deferral age" jqt --argjson now "$now" \
  '.deferrals[0] | .age_seconds >= 0 and .age_seconds < 60 and (.since - $now | fabs) < 60'
expect "full: json: the hold" eq "$(jqj -c '.holds | map([.package, .backend])')" '[["lightningd","dpkg"]]'
expect "full: json: the stopped unit" eq \
  "$(jqj -c '.stopped_units | map([.unit, .manager, .error])')" \
  "[[\"postfix.service\",\"systemd\",\"cannot read '/proc/1234/maps': permission denied\"]]"
expect "full: json: needs restart by unit, process, file" eq \
  "$(jqj -c '.needs_restart | map([.unit, (.processes | map([.pid, .user, .comm, (.files | map(.package))]))])')" \
  '[["postfix.service",[[4100,"root","master",["postfix","libssl3"]]]],["ssh.service",[[4300,"root","sshd",["libssl3"]]]],[null,[[4200,"nobody","curl",["libssl3"]]]]]'
expect "full: json: the override" eq "$(jqj -c '.overrides | map([.package, .by_uid, .by_user])')" \
  '[["lightningd",0,"root"]]'
expect "full: json: runs, newest first, with targets" eq \
  "$(jqj -c '.runs | map([.id, .entry, .verdict, (.targets | map([.package, .old_version, .new_version, .action, .origin]))])')" \
  '[[2,"post apt","warn",[["libssl3","3.0.11-1","3.0.13-1","warn","default"]]],[1,"hook apt","defer",[["lightningd","23.11-1","24.08-1","defer","/etc/pkguard/policy.d/c-lightning.conf:2"]]]]'
expect "full: json: errors and warnings only" eq "$(jqj -c '.events | map([.level, .message])')" \
  "[[\"error\",\"the deadline passed\"],[\"warning\",\"cannot read '/proc/1234/maps': permission denied\"]]"
for line in "pkguard_deferrals 1" 'pkguard_deferral_runs{package="lightningd"} 2' \
  'pkguard_deferral_max_age_seconds{package="lightningd"} 86400' "pkguard_holds 1" \
  "pkguard_stopped_units 1" "pkguard_stopped_units_start_failed 1" \
  'pkguard_needs_restart_processes{unit="postfix.service"} 1' \
  'pkguard_needs_restart_processes{unit="ssh.service"} 1' \
  'pkguard_needs_restart_processes{unit=""} 1' \
  'pkguard_needs_restart_package_processes{package="libssl3"} 3' \
  'pkguard_needs_restart_package_processes{package="postfix"} 1' \
  "pkguard_pending_overrides 1" 'pkguard_last_run_verdict{verdict="warn"} 1' \
  'pkguard_runs{verdict="warn"} 1' 'pkguard_runs{verdict="defer"} 1' \
  "pkguard_state_quarantined 0"; do
  expect "full: openmetrics: '$line'" om_has "$T/om" "$line"
done
expect "full: openmetrics: the deferral's age" \
  grep -Eq '^pkguard_deferral_age_seconds\{package="lightningd"\} [0-9]{1,2}$' "$T/om"
expect "full: openmetrics: last run and last error times" eq \
  "$(awk '/^pkguard_last_(run|error)_timestamp_seconds / { d = $2 - '"$now"'; print $1, (d < 60 && d > -60) }' "$T/om")" \
  "$(printf '%s\n' 'pkguard_last_run_timestamp_seconds 1' 'pkguard_last_error_timestamp_seconds 1')"

# A quarantined database beside the live one is reported in every format.
: >"$DB.corrupt-1700000000"
all_formats "quarantined"
expect "quarantined: text" grep -Fxq \
  "quarantined corrupt database beside it: $(basename "$DB").corrupt-1700000000" "$T/text"
expect "quarantined: json" eq "$(jqj -c '.quarantined | map(endswith(".corrupt-1700000000"))')" "[true]"
expect "quarantined: openmetrics" om_has "$T/om" "pkguard_state_quarantined 1"

# ---- hostile strings ----
new_db
"$FILL" "$DB" hostile || fail_setup "t-state-fill hostile failed"
all_formats "hostile"
expect "hostile: text: the package name, escaped" \
  grep -Fq 'evil\x1b[2J\x1b]0;owned\x07\r\n"q"\\b\u{202e}pkg' "$T/text"
expect "hostile: text: no raw bidi override" no_bidi "$T/text"
expect "hostile: text: one line per row (no line break got through)" eq \
  "$(grep -c 'owned' "$T/text")" 9
expect "hostile: json: the package name, as the text shows it" eq \
  "$(jqj -r '.deferrals[0].package')" 'evil\x1b[2J\x1b]0;owned\x07\r\n"q"\\b\u{202e}pkg'
expect "hostile: json: the stored-escaped comm is not escaped twice" eq \
  "$(jqj -r '.needs_restart[] | .processes[] | select(.pid == 4100) | .comm')" \
  'comm\x1b[2J\x1b]0;owned\x07\r\n"q"\\b\u{202e}'
expect "hostile: openmetrics: the label value, with \\\\ and \\\" escaped" om_has "$T/om" \
  'pkguard_deferral_runs{package="evil\\x1b[2J\\x1b]0;owned\\x07\\r\\n\"q\"\\\\b\\u{202e}pkg"} 2'

# ---- usage and permissions ----
st --format yaml status
expect "unknown format: exit status 2" eq "$RC" 2
expect "unknown format: says which exist" grep -q "unknown format 'yaml' (text, json or openmetrics)" "$OUT.err"
st --json --format openmetrics status
expect "--json with another --format: exit status 2" eq "$RC" 2
st status --format=json
expect "status --format=json after the command: exit status 0" eq "$RC" 0
expect "status --format=json after the command: JSON" valid_json "$OUT"
st status extra
expect "an unexpected argument: exit status 2" eq "$RC" 2
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
  # Not root: the default database is root's, and status says so.
  OUT="$T/nobody.out"
  RC=0
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$PKGUARD" status >"$OUT" 2>"$OUT.err" || RC=$?
  expect "not root: exit status 3" eq "$RC" 3
  expect "not root: a clear message" grep -q "readable by root only" "$OUT.err"
fi

finish
