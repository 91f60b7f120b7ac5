#!/usr/bin/env bash
# What `make setup` (the appliance, `make demo`) and `make test` install: the size of each
# fresh venv and how many warning lines the set-up prints. Builds two throw-away venvs under
# DIR (default: a new temporary directory; PyPI at set-up time, a few minutes), never .venv.
#   bench/setup_size.sh [DIR]
# "machine pip config" counts pip's "Location … is ignored" lines, which come from this
# machine's pip.conf, not from the project. numpy is not counted where the system Python's
# site packages provide it (the venvs see them: --system-site-packages).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${1:-$(mktemp -d /tmp/affectra-setup-size.XXXXXX)}
mkdir -p "$DIR"

report() {  # report NAME VENV LOG...
    local name=$1 venv=$2
    shift 2
    local total machine project
    total=$(cat "$@" | grep -c . || true)
    machine=$(cat "$@" | grep -c "Location .* is ignored" || true)
    project=$(cat "$@" | grep -v "Location .* is ignored" | grep -ci "warn" || true)
    printf '%-6s venv %4s MB  output %3s lines  machine pip config %3s  other warning lines %3s\n' \
        "$name" "$(du -sm "$venv" | cut -f1)" "$total" "$machine" "$project"
}

VENV="$DIR/setup" scripts/setup.sh >"$DIR/setup.log" 2>&1
report setup "$DIR/setup" "$DIR/setup.log"
VENV="$DIR/test" scripts/setup.sh >"$DIR/test-1.log" 2>&1
VENV="$DIR/test" scripts/setup.sh --test >"$DIR/test-2.log" 2>&1
report test "$DIR/test" "$DIR/test-1.log" "$DIR/test-2.log"
echo "largest packages in the setup venv (MB):"
du -sm "$DIR"/setup/lib/python3*/site-packages/* | sort -rn | head -6
