"""The probe's field extensions are the fields the spec marks, not a list of its own."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from weaver_facade._spec_schema import spec_document
from weaver_facade.contract._extensions import ExtensionProbe, _Probe


def decide(document: dict[str, Any], body: dict[str, Any]) -> ExtensionProbe:
    result = ExtensionProbe(known=("checkpoint-details",))
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as http:
        probe = _Probe(document, http, result, deadline=1.0)
        probe.fields("checkpoint-details", "Checkpoint", body)
    return result


def test_a_field_renamed_in_the_spec_is_the_one_probed() -> None:
    document = copy.deepcopy(dict(spec_document()))
    props = document["components"]["schemas"]["Checkpoint"]["properties"]
    props["checksum"] = props.pop("sha256")
    props["model_id"].pop("x-weaver-extension")
    props["size_bytes"].pop("x-weaver-extension")
    assert decide(document, {"sha256": "ab"}).found == {"checkpoint-details": False}
    offered = decide(document, {"checksum": "ab"})
    assert offered.found == {"checkpoint-details": True}
    assert offered.evidence["checkpoint-details"] == "Checkpoint replies carry checksum"


def test_an_extension_the_spec_no_longer_marks_is_an_error_not_missing() -> None:
    document = copy.deepcopy(dict(spec_document()))
    for prop in document["components"]["schemas"]["Checkpoint"]["properties"].values():
        prop.pop("x-weaver-extension", None)
    with pytest.raises(ValueError, match="marks no field of Checkpoint"):
        decide(document, {"sha256": "ab"})
