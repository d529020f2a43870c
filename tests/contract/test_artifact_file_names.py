"""The contract kit holds a download descriptor's file names to what the wire allows, no more.

The wire sheet refuses only `..`, absolute names, `\\`, `:`, `.` and empty segments,
trailing dots or spaces, and duplicates: a server that sends `.gitattributes` or
`my file.json` has not drifted.
"""

from __future__ import annotations

import json

import pytest

from weaver_facade.contract._spec import load_spec

ARTIFACT_ID = "3f2c1b7e-8d4a-4e8b-9c1d-2a6f0e5b7c90"


def problems_of(name: str) -> list[str]:
    spec = load_spec()
    op = spec.by_id("get_artifact_download")
    descriptor = {
        "artifact_id": ARTIFACT_ID,
        "kind": "hf_adapter",
        "total_bytes": 3,
        "files": [{"name": name, "size": 3, "url": "https://storage.example.com/x?sig=1"}],
    }
    reply = spec.check_reply(op, 200, {"X-Request-ID": "req-1"}, json.dumps(descriptor).encode())
    return [p.message for p in reply]


@pytest.mark.parametrize("name", [".gitattributes", "sub dir/my file+1.json", "résumé.txt"])
def test_a_name_the_sheet_allows_is_no_drift(name: str) -> None:
    assert problems_of(name) == []


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a\\b", "c:x", "a//b", "x.", "x "])
def test_a_name_the_sheet_refuses_is_drift(name: str) -> None:
    found = problems_of(name)
    assert any("name" in p for p in found), found
