# shellcheck shell=bash disable=SC2034
# Shared by the CLI tests (sourced, not run): tests/live/lib.sh's temporary
# directory, process handling and assertions, plus a state database of the
# test's own and the checkers of status's three formats.
#
# Usage: . lib.sh; cli_init "$@"  (arguments: PKGUARD HELPERS_DIR STATE_FILL SCHEMA)
. "$(dirname "${BASH_SOURCE[0]}")/../live/lib.sh"

FILL=
SCHEMA=
DB=

cli_init()
{
  if [ "$#" -ne 4 ]; then
    echo "usage: $0 PKGUARD HELPERS_DIR STATE_FILL SCHEMA" >&2
    exit 2
  fi
  lib_init "$1" "$2"
  FILL=$3
  SCHEMA=$4
  [ -x "$FILL" ] || fail_setup "no state filler at '$FILL'"
  [ -r "$SCHEMA" ] || fail_setup "no schema at '$SCHEMA'"
  command -v promtool >/dev/null || fail_setup "'promtool' is not installed (Debian: prometheus)"
  /usr/bin/python3 -c 'import jsonschema' 2>/dev/null ||
    fail_setup "python3's jsonschema is not installed (Debian: python3-jsonschema)"
  # The state directory must be the caller's and 0700, like /var/lib/pkguard.
  mkdir -m 0700 "$T/state"
  DB="$T/state/state.db"
}

# new_db: a fresh database path for the next test (the directory is shared).
new_db()
{
  DB="$T/state/state.$((++N_RUNS)).db"
}

# valid_json FILE: FILE parses and validates against the status schema.
valid_json()
{
  /usr/bin/python3 - "$SCHEMA" "$1" <<'EOF'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
try:
    jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))
except (ValueError, jsonschema.ValidationError) as e:
    print("  # " + str(e).splitlines()[0])
    sys.exit(1)
EOF
}

# promtool_ok FILE: promtool accepts FILE, without a single lint complaint.
promtool_ok()
{
  local out
  out=$(promtool check metrics <"$1" 2>&1) && [ -z "$out" ] && return 0
  echo "  # promtool: $out"
  return 1
}

# om_has FILE LINE: FILE has exactly this line.
om_has()
{
  grep -Fxq -- "$2" "$1" && return 0
  echo "  # no line '$2'"
  return 1
}

# no_raw_control FILE: no byte below 0x20 but newline, no DEL.
no_raw_control()
{
  ! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$1"
}

# no_bidi FILE: no U+202E RIGHT-TO-LEFT OVERRIDE (UTF-8 e2 80 ae).
no_bidi()
{
  ! LC_ALL=C grep -q "$(printf '\342\200\256')" "$1"
}
