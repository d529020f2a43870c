# Sourced by the scripts: make sure .venv exists and holds the project with
# its dev extras, installing from nothing on a bare machine. Reinstalls only
# when pyproject.toml or constraints.txt changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WEAVER_VENV:-$ROOT/.venv}"
PYTHON_BOOT="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON_BOOT" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: weaver-facade needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2
        exit 2
    fi
    echo "bootstrap: creating $VENV" >&2
    "$PYTHON_BOOT" -m venv "$VENV"
fi

_stamp_file="$VENV/.weaver-facade-install"
_want="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | "$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ ! -f "$_stamp_file" ] || [ "$(cat "$_stamp_file")" != "$_want" ]; then
    echo "bootstrap: installing weaver-facade[dev] into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$ROOT/constraints.txt" -e "$ROOT[dev]" >&2
    echo "$_want" > "$_stamp_file"
fi
export PATH="$VENV/bin:$PATH"
