"""The probe's field extensions are the fields the spec marks, not a list of its own."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from tests.support.fakeserver import checkpoint_json
from weaver_facade._spec_schema import spec_document
from weaver_facade.contract._extensions import ExtensionProbe, _Failed, _Probe

SHA = "ab" * 32


def decide(
    document: dict[str, Any],
    body: dict[str, Any],
    name: str = "checkpoint-details",
    schema: str = "Checkpoint",
) -> ExtensionProbe:
    result = ExtensionProbe(known=(name,))
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as http:
        probe = _Probe(document, http, result, deadline=1.0)
        probe.fields(name, schema, body)
    return result


def test_a_field_of_the_same_name_with_values_of_its_own_offers_nothing() -> None:
    # A server whose Operations say `kind: save` (the wire leaves an Operation's kinds
    # open) was held to OperationKind, and failed every save, load and export on it.
    op = {"id": "op-1", "status": "done", "model_id": "m-1", "kind": "save"}
    found = decide(spec_document(), op, "operation-details", "Operation")
    assert found.found == {"operation-details": False}
    assert found.evidence["operation-details"] == (
        'Operation replies carry `kind` ("save") of values the spec\'s operation-details has not'
    )
    offered = decide(
        spec_document(), {**op, "kind": "save_checkpoint"}, "operation-details", "Operation"
    )
    assert offered.found == {"operation-details": True}


def test_a_field_renamed_in_the_spec_is_the_one_probed() -> None:
    document = copy.deepcopy(dict(spec_document()))
    props = document["components"]["schemas"]["Checkpoint"]["properties"]
    props["checksum"] = props.pop("sha256")
    props["model_id"].pop("x-weaver-extension")
    props["size_bytes"].pop("x-weaver-extension")
    assert decide(document, {"sha256": SHA}).found == {"checkpoint-details": False}
    offered = decide(document, {"checksum": SHA})
    assert offered.found == {"checkpoint-details": True}
    assert offered.evidence["checkpoint-details"] == "Checkpoint replies carry checksum"


def test_an_extension_the_spec_no_longer_marks_is_an_error_not_missing() -> None:
    document = copy.deepcopy(dict(spec_document()))
    for prop in document["components"]["schemas"]["Checkpoint"]["properties"].values():
        prop.pop("x-weaver-extension", None)
    with pytest.raises(ValueError, match="marks no field of Checkpoint"):
        decide(document, {"sha256": SHA})


def test_a_save_answered_with_its_checkpoint_offers_no_operation_fields() -> None:
    # A synchronous save (the history's first shape) answers with the Checkpoint, whose
    # `created_at` and `model_id` are also Operation fields of `operation-details`: the
    # report said the server offered it, and conformance held its Operations to it.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json=checkpoint_json("m-1", "contract-probe"))

    result = ExtensionProbe(known=("operation-details", "checkpoint-details"))
    transport = httpx.MockTransport(handler)
    with (
        httpx.Client(base_url="http://weaver.test", transport=transport) as h,
        pytest.raises(_Failed, match="a Checkpoint where an Operation belongs"),
    ):
        _Probe(spec_document(), h, result, deadline=1.0).save("m-1", "a")
    assert result.found == {}


def test_a_probe_save_done_before_its_checkpoint_waits_for_the_checkpoint() -> None:
    # A server whose checkpoint stays `pending` a moment after its save's operation is
    # done: the probe loaded it at once, met 409 `checkpoint_not_ready`, and stopped, and
    # `load-details`, `load-result-model-id` and `artifact-by-id` stayed undetermined.
    listed: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        checkpoint = checkpoint_json("m-1", f"contract-probe-{probe.tag}-a")
        if request.method == "GET" and request.url.path.endswith("/checkpoints"):
            listed.append(request.url.path)
            status = "pending" if len(listed) < 2 else "completed"
            return httpx.Response(200, json={"items": [{**checkpoint, "status": status}]})
        pending = {**checkpoint, "status": "pending"}
        return httpx.Response(200, json={"id": "op-1", "status": "done", "response": pending})

    result = ExtensionProbe(known=("checkpoint-details", "operation-details", "long-poll"))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        probe = _Probe(spec_document(), h, result, deadline=5.0)
        saved = probe.save("m-1", "a")
    assert saved["status"] == "completed"
    assert len(listed) == 2


def test_operation_fields_shown_only_when_polled_are_offered() -> None:
    # A server that says an operation's `kind` on `GET /operations/{id}` but not in the
    # POST's reply was reported without `operation-details`, then held to its enum anyway
    # (the lifecycle checks every reply): `kind` `export` was a finding beside "missing".
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, json={"id": "op-1", "status": "pending"})
        checkpoint = checkpoint_json("m-1", f"contract-probe-{probe.tag}-a")
        done = {"id": "op-1", "status": "done", "kind": "save_checkpoint"}
        return httpx.Response(200, json={**done, "response": checkpoint})

    result = ExtensionProbe(known=("operation-details", "checkpoint-details", "long-poll"))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        probe = _Probe(spec_document(), h, result, deadline=5.0)
        probe.save("m-1", "a")
    assert result.found["operation-details"] is True
    assert result.evidence["operation-details"] == "Operation replies carry kind"


def test_a_probe_checkpoint_that_fails_after_its_save_is_named_so_at_once() -> None:
    # Waited for while `pending`, a checkpoint that then `failed` was polled to the deadline
    # (a minute of every run) and said to be "still pending".
    def handler(request: httpx.Request) -> httpx.Response:
        checkpoint = checkpoint_json("m-1", f"contract-probe-{probe.tag}-a")
        if request.method == "GET" and request.url.path.endswith("/checkpoints"):
            return httpx.Response(200, json={"items": [{**checkpoint, "status": "failed"}]})
        pending = {**checkpoint, "status": "pending"}
        return httpx.Response(200, json={"id": "op-1", "status": "done", "response": pending})

    result = ExtensionProbe(known=("checkpoint-details",))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        probe = _Probe(spec_document(), h, result, deadline=1.0)
        with pytest.raises(_Failed) as failed:
            probe.save("m-1", "a")
    assert str(failed.value) == f"probe checkpoint `contract-probe-{probe.tag}-a` ended failed"


def test_operation_fields_seen_when_polled_stay_offered_after_a_later_save() -> None:
    # The second save's POST reply, without them, decided `operation-details` missing
    # again; its operation then failed, so no poll of it set it back, and the report said
    # missing of fields the first save's poll had shown.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            op_id = "op-b" if request.content.endswith(b'-b"}') else "op-a"
            return httpx.Response(202, json={"id": op_id, "status": "pending"})
        if request.url.path.endswith("/op-b"):
            return httpx.Response(200, json={"id": "op-b", "status": "error"})
        checkpoint = checkpoint_json("m-1", f"contract-probe-{probe.tag}-a")
        done = {"id": "op-a", "status": "done", "kind": "save_checkpoint"}
        return httpx.Response(200, json={**done, "response": checkpoint})

    result = ExtensionProbe(known=("operation-details", "long-poll"))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        probe = _Probe(spec_document(), h, result, deadline=5.0)
        probe.save("m-1", "a")
        with pytest.raises(_Failed, match="ended error"):
            probe.save("m-1", "b")
    assert result.found["operation-details"] is True
