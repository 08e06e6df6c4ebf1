#!/bin/bash
# The state database under kill -9 and under concurrency (threats.md #15, #16):
# (a) 100 times, a writer killed with SIGKILL after 0-200 ms: the database
#     passes PRAGMA integrity_check and holds, complete, every run the writer
#     reported committed;
# (b) two writers and a reader at once: nobody reports an error, and the
#     database holds exactly the runs the writers reported.
# Any user will do. Needs the sqlite3 program (exit 77 without it).
#
# Usage: stress.sh T_STATEDB
set -eu

T_STATEDB=$1
KILLS=100
PER_WRITER=400

command -v sqlite3 >/dev/null || { echo "sqlite3 not found: skipped"; exit 77; }
T=$(mktemp -d /tmp/pkguard-state-stress.XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# printed FILE: the ids a writer printed, without a last line cut short.
printed()
{
  if [ -s "$1" ] && [ -n "$(tail -c1 "$1")" ]; then
    sed '$d' "$1"
  else
    cat "$1"
  fi
}

# complete DB: the ids of the runs that ended and have their three targets.
complete()
{
  sqlite3 "$1" "SELECT id FROM runs WHERE finished IS NOT NULL
                AND (SELECT COUNT(*) FROM targets WHERE run_id = runs.id) = 3"
}

# (a) kill -9 at random moments, the same database throughout.
DB=$T/a/state.db
total=0
for i in $(seq 1 "$KILLS"); do
  "$T_STATEDB" write "$DB" 0 >"$T/out" 2>"$T/err" &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 201)))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  printed "$T/out" | sort >"$T/printed"
  if [ ! -e "$DB" ]; then
    # Killed before it created the file: then it cannot have committed anything.
    check=ok
    : >"$T/complete"
  else
    check=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1 || true)
    complete "$DB" | sort >"$T/complete"
  fi
  missing=$(comm -23 "$T/printed" "$T/complete" | tr '\n' ' ')
  if [ -s "$T/err" ]; then
    fail "kill $i: the writer reported: $(cat "$T/err")"
  elif [ "$check" != ok ]; then
    fail "kill $i: integrity_check: $check"
  elif [ -n "$missing" ]; then
    fail "kill $i: committed runs missing or incomplete: $missing"
  else
    pass
  fi
  total=$((total + $(wc -l <"$T/printed")))
done
# Killed before its first commit every time would prove nothing.
if [ "$total" -gt "$KILLS" ]; then
  pass
else
  fail "the writers committed only $total runs in $KILLS tries"
fi
echo "(a) $KILLS kills, $total runs committed"

# (b) two writers and a reader at once, on a database none of them has created yet.
DB=$T/b/state.db
mkdir -m 700 "$T/b"
"$T_STATEDB" write "$DB" "$PER_WRITER" >"$T/w1" 2>"$T/e1" &
w1=$!
"$T_STATEDB" write "$DB" "$PER_WRITER" >"$T/w2" 2>"$T/e2" &
w2=$!
"$T_STATEDB" read "$DB" $((2 * PER_WRITER)) >"$T/r" 2>"$T/er" &
r=$!
# finished NAME PID ERRFILE: the process exited 0 and said nothing on stderr.
finished()
{
  if wait "$2" && [ ! -s "$3" ]; then
    pass
  else
    fail "$1 failed: $(cat "$3")"
  fi
}
finished "writer 1" "$w1" "$T/e1"
finished "writer 2" "$w2" "$T/e2"
finished reader "$r" "$T/er"
rows=$(sqlite3 "$DB" 'SELECT COUNT(*) FROM runs')
sum=$(($(wc -l <"$T/w1") + $(wc -l <"$T/w2")))
if [ "$rows" -eq "$sum" ] && [ "$sum" -eq $((2 * PER_WRITER)) ] &&
  [ "$(complete "$DB" | wc -l)" -eq "$sum" ]; then
  pass
else
  fail "$rows runs in the database, $sum committed"
fi
check=$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1 || true)
if [ "$check" = ok ]; then
  pass
else
  fail "integrity_check after the concurrent run: $check"
fi
echo "(b) $sum runs by two writers, reader: $(cat "$T/r")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
