# Sourced by the scripts: make sure .venv exists and holds the project with
# the extras the script needs, installing from nothing on a bare machine.
# BOOTSTRAP_EXTRAS (set by the sourcing script; default dev) names them:
# scripts/demo asks only for `emulator`, everything else for `dev`. The stamp
# file records what was installed, and for which pyproject.toml and
# constraints.txt: a `dev` install satisfies every script, an `emulator` one
# only the demo, so scripts/test after scripts/demo upgrades .venv to dev.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WEAVER_VENV:-$ROOT/.venv}"
PYTHON_BOOT="${PYTHON:-python3}"
_extras="${BOOTSTRAP_EXTRAS:-dev}"

if [ ! -x "$VENV/bin/python" ]; then
    # Found is not runnable (a pyenv shim of a version not installed): only an answer
    # tells an old Python from one that cannot start.
    _new_enough="$("$PYTHON_BOOT" -c 'import sys; print(int(sys.version_info >= (3, 11)))' 2> /dev/null)" || true
    if [ -z "$_new_enough" ]; then
        echo "error: cannot run $PYTHON_BOOT; set PYTHON to a Python 3.11 or newer" >&2
        exit 2
    fi
    if [ "$_new_enough" != 1 ]; then
        echo "error: weaver-facade needs Python >= 3.11, and $PYTHON_BOOT is older;" \
            "set PYTHON=/path/to/python3.11 (or newer)" >&2
        exit 2
    fi
    echo "bootstrap: creating $VENV" >&2
    "$PYTHON_BOOT" -m venv "$VENV"
fi

_stamp_file="$VENV/.weaver-facade-install"
_want="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | "$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
_have_hash="" _have_extras=""
if [ -f "$_stamp_file" ]; then
    read -r _have_hash _have_extras < "$_stamp_file" || true
    _have_extras="${_have_extras:-dev}"  # stamps from before extras were recorded: dev
fi
if [ "$_have_hash" != "$_want" ] || { [ "$_have_extras" != dev ] && [ "$_have_extras" != "$_extras" ]; }; then
    echo "bootstrap: installing weaver-facade[$_extras] into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$ROOT/constraints.txt" -e "$ROOT[$_extras]" >&2
    echo "$_want $_extras" > "$_stamp_file"
fi
export PATH="$VENV/bin:$PATH"
