"""Every collected test has an id of its own (``tests/conftest.py``): pytest-xdist's
``--dist loadfile``, which ``scripts/test`` uses, runs one test of each id."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.openapi import openapi

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def test_each_operation_of_the_spec_is_a_schemathesis_test_of_its_own() -> None:
    spec = openapi()
    operations = sum(len(METHODS & set(item)) for item in spec["paths"].values())
    files = ["tests/emulator/test_schemathesis.py", "tests/reliability/test_schemathesis_slow.py"]
    collect = ["-p", "no:cacheprovider", "--collect-only", "-q", "-m", ""]
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", *collect, *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in ("test_every_operation_conforms", "test_every_operation_conforms_at_scale"):
        ids = [line for line in listed if f"::{name}[" in line]
        assert len(set(ids)) == len(ids) == operations, ids
