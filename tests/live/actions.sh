#!/bin/bash
# shellcheck disable=SC2016 # jq and sqlite programs
# Live: the actions of a real run (pkguard hook manual) against real
# processes and locks: wait returns when the instance exits, without
# spinning; wait on a certbot-style lockfile goes on when the holder lets go;
# a wait that times out applies `then`; a lock held by an unprivileged user
# never blocks; a one-shot override passes once.
#
# Usage: actions.sh PKGUARD HELPERS_DIR (as root; exits 77 otherwise)
set -eu
. "$(dirname "$0")/lib.sh"
lib_init "$@"

R="$T/root"
make_live_demo "$R"
DATA=/var/lib/live-demo/data
LOCK=/var/lib/live-demo/.lock # certbot-style: root's, 0600, not a package file
install -m 0600 /dev/null "$R$LOCK"
STATE="$T/state.db"

# policy TEXT: the configuration of the next runs.
policy()
{
  printf '[pkguard]\ndenied = warn\n%s\n' "$1" >"$T/actions.conf"
  PKGUARD_CONF=$T/actions.conf
}

# hook: a real run for live-demo, timed: RC, OUT, ELAPSED (s) and CPU (s).
hook()
{
  local t0 t1 c0 c1
  t0=$(date +%s.%N)
  c0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
  pg --root "$R" hook manual live-demo=2.0
  t1=$(date +%s.%N)
  # The shell's children's user+system ticks, pkguard's included once reaped.
  c1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
  ELAPSED=$(echo "$t1 - $t0" | bc)
  CPU=$(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)
}

last_action()
{
  sqlite3 "$STATE" 'SELECT action FROM targets ORDER BY id DESC LIMIT 1'
}

# --- wait on an instance: returns when it exits, well before the timeout.
policy '[package live-demo]
action = wait
wait-timeout = 60s'
spawn "$R/usr/bin/live-demo" 3
demo=$READY
wait_exe "$demo" "$R/usr/bin/live-demo"
hook
expect "wait for an instance: allowed" eq "$RC" 0
expect "wait for an instance: it had exited" dead "$demo"
expect "wait for an instance: it did wait" eval "[ \"\$(echo '$ELAPSED >= 1' | bc)\" = 1 ]"
expect "wait for an instance: ended long before the timeout" \
  eval "[ \"\$(echo '$ELAPSED < 30' | bc)\" = 1 ]"
# Spinning for the ~3 s of the wait would cost ~3 s of CPU; pidfd + poll costs ~0.
expect "wait for an instance: no busy loop (CPU $CPU s)" \
  eval "[ \"\$(echo '$CPU < 1' | bc)\" = 1 ]"
expect "wait for an instance: says it waited" grep -q "live-demo: waited" "$OUT.err"
expect "wait for an instance: recorded as allow" eq "$(last_action)" allow
stop "$demo"

# On a terminal the wait says what it waits for and the time left.
spawn "$R/usr/bin/live-demo" 2
demo=$READY
wait_exe "$demo" "$R/usr/bin/live-demo"
script -qfec "$PKGUARD --config $PKGUARD_CONF --state $STATE --root $R hook manual live-demo" \
  /dev/null >"$T/tty.out" 2>&1 </dev/null || :
expect "wait on a terminal: shows progress" grep -Eq "waiting for live-demo \($demo\): [0-9]+m[0-9]{2}s left" "$T/tty.out"
stop "$demo"

# --- wait on a certbot-style lockfile: goes on once the holder lets go.
policy "[package live-demo]
action = wait
wait-timeout = 60s
lockfile = $LOCK"
hold "$HELPERS/t-lock" posix-wr "$R$LOCK"
holder=$READY
(sleep 2 && kill "$holder") &
releaser=$!
hook
wait "$releaser" || :
expect "wait for a lockfile: allowed" eq "$RC" 0
expect "wait for a lockfile: after the holder let go" dead "$holder"
expect "wait for a lockfile: says it waited" grep -q "live-demo: waited" "$OUT.err"
stop "$holder"

# --- the same with a holder that never lets go: refused after the timeout.
policy "[package live-demo]
action = wait
wait-timeout = 2s
then = block
lockfile = $LOCK"
hold "$HELPERS/t-lock" ofd-wr "$R$LOCK"
holder=$READY
hook
expect "wait timeout: refused" eq "$RC" 1
expect "wait timeout: waited the timeout" eval "[ \"\$(echo '$ELAPSED >= 2' | bc)\" = 1 ]"
expect "wait timeout: says what is still there" grep -q "still in use after the wait" "$OUT.err"
expect "wait timeout: names the lockfile" grep -q "lock on $R$LOCK" "$OUT.err"
expect "wait timeout: the refusal names the holder" grep -Eq "^pkguard: +lock +$holder +root " "$OUT.err"
expect "wait timeout: the way out" grep -q "pkguard allow --once live-demo" "$OUT.err"
expect "wait timeout: recorded as block" eq "$(last_action)" block

# --- a one-shot override passes once, then the policy holds again.
"$PKGUARD" --root "$R" --state "$STATE" allow --once live-demo >/dev/null
hook
expect "override: allowed" eq "$RC" 0
expect "override: recorded as allow" eq "$(last_action)" allow
hook
expect "override: used up, refused again" eq "$RC" 1
stop "$holder"

# --- an unprivileged user's locks never block.
user="pkgt$$"
useradd -M -s /usr/sbin/nologin "$user"
trap 'userdel "$user" 2>/dev/null; cleanup' EXIT
uid=$(id -u "$user")
chmod 0755 "$T" # mktemp made it 0700: the user must reach the root's files
as_user=(setpriv --reuid="$uid" --regid="$uid" --clear-groups)

policy '[package live-demo]
action = block'
hold "${as_user[@]}" "$HELPERS/t-lock" flock-ex "$R$DATA"
holder=$READY
hook
expect "user's lock on a package file: allowed" eq "$RC" 0
stop "$holder"

# The package file as a designated lockfile (root's, 0644): a user's lock still does not count...
policy "[package live-demo]
action = block
lockfile = $DATA"
hold "${as_user[@]}" "$HELPERS/t-lock" posix-rd "$R$DATA"
holder=$READY
hook
expect "user's lock on a lockfile: allowed" eq "$RC" 0
stop "$holder"
# ... while root's does: the same run can refuse.
hold "$HELPERS/t-lock" posix-rd "$R$DATA"
holder=$READY
hook
expect "root's lock on the lockfile: refused" eq "$RC" 1
stop "$holder"

# --- defer: refused and recorded; resume releases it once unused; max-defer bounds it.
policy '[package live-demo]
action = defer
max-defer = 7d'
spawn "$R/usr/bin/live-demo" 60
demo=$READY
wait_exe "$demo" "$R/usr/bin/live-demo"
hook
expect "defer: refused" eq "$RC" 1
expect "defer: says it defers" grep -q "deferring the change to live-demo 1.0 -> 2.0" "$OUT.err"
expect "defer: recorded" eq "$(sqlite3 "$STATE" \
  "SELECT version || ' ' || count FROM deferrals WHERE package = 'live-demo' AND ended IS NULL")" "2.0 1"
hook
expect "defer again: counted" eq "$(sqlite3 "$STATE" \
  "SELECT count FROM deferrals WHERE package = 'live-demo' AND ended IS NULL")" 2
pg --root "$R" resume
expect "resume while in use: stays deferred" grep -q "live-demo: still in use, stays deferred" "$OUT"
stop "$demo"
pg --root "$R" resume
expect "resume once unused: released" grep -q "live-demo: no longer in use, deferral released" "$OUT"
expect "resume once unused: no active deferral" eq "$(sqlite3 "$STATE" \
  "SELECT count(*) FROM deferrals WHERE package = 'live-demo' AND ended IS NULL")" 0

policy '[package live-demo]
action = defer
max-defer = 1s'
spawn "$R/usr/bin/live-demo" 60
demo=$READY
wait_exe "$demo" "$R/usr/bin/live-demo"
hook
expect "max-defer: deferred first" eq "$RC" 1
sleep 2
hook
expect "max-defer: allowed once older" eq "$RC" 0
expect "max-defer: loudly" grep -q "deferred for longer than max-defer" "$OUT.err"
expect "max-defer: the event is recorded" eq "$(sqlite3 "$STATE" \
  "SELECT count(*) FROM events WHERE level = 'warning' AND message LIKE '%max-defer%'")" 1
stop "$demo"

# --- a broken configuration fails open, loudly.
printf '[package live-demo]\nactoin = block\n' >"$T/actions.conf"
spawn "$R/usr/bin/live-demo" 60
demo=$READY
hook
expect "broken config: allowed" eq "$RC" 0
expect "broken config: says so" grep -q "ALLOWING the upgrade" "$OUT.err"
expect "broken config: names file and line" grep -q "actions.conf:2" "$OUT.err"
stop "$demo"

finish
