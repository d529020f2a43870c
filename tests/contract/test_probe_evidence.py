"""The report's evidence covers every extension, the undetermined ones too.

Against the emulator, `conversion-totals` (never probed) and `long-poll` (its saves end
before a poll can be held) came out undetermined with no evidence at all: the report
promises the evidence for each, and a server's author could not tell why.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.support.scripted_http import ScriptedServer
from weaver_facade._spec_schema import spec_document
from weaver_facade.contract import _extensions
from weaver_facade.contract._extensions import ExtensionProbe, _Probe, probe_extensions
from weaver_facade.contract._findings import KEY_PLACEHOLDER
from weaver_facade.contract._kit import ContractReport
from weaver_facade.contract._report import render_text
from weaver_facade.emulator import run_emulator


def test_every_extension_has_evidence_against_the_emulator() -> None:
    with run_emulator(api_keys=("k",)) as emu:
        result = probe_extensions(
            spec_document(), base_url=emu.base_url, api_key="k", base_model="weaver-tiny",
            deadline=30.0,
        )  # fmt: skip
    assert result.note is None, result.note
    evidence = result.to_json()["evidence"]
    assert set(evidence) == set(result.known)
    assert "conversion-totals" in result.undetermined
    assert "not probed" in evidence["conversion-totals"]


def test_a_save_done_before_its_poll_says_why_long_poll_is_undetermined() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "op-1", "status": "done"})

    result = ExtensionProbe(known=("long-poll",))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        _Probe(spec_document(), h, result, deadline=1.0).long_poll("op-1")
    assert result.undetermined == ("long-poll",)
    assert result.to_json()["evidence"] == {
        "long-poll": "a poll with wait=3 of a save came back done at once: "
        "the save ended before a poll could be held"
    }


def test_a_probe_stopped_early_names_the_stop_for_each_undetermined_extension() -> None:
    # Nothing listens on port 9 (discard): the probe stops at its first request.
    result = probe_extensions(
        spec_document(), base_url="http://127.0.0.1:9", api_key=None, base_model="weaver-tiny",
        deadline=1.0,
    )  # fmt: skip
    assert result.note is not None
    evidence = result.to_json()["evidence"]
    assert set(evidence) == set(result.known)
    assert evidence["cursor-paging"] == f"not reached: {result.note}"


def _timed_probe(monkeypatch: pytest.MonkeyPatch, answer: float, held: float) -> ExtensionProbe:
    """A pending operation on a server that takes ``answer`` s per reply, plus ``held`` s
    for a poll with ``wait``; on a fake clock (no real sleeps)."""
    clock = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        clock[0] += answer + (held if "wait" in request.url.params else 0.0)
        return httpx.Response(200, json={"id": "op-1", "status": "pending"})

    fake = SimpleNamespace(monotonic=lambda: clock[0], sleep=lambda seconds: None)
    monkeypatch.setattr(_extensions, "time", fake)
    result = ExtensionProbe(known=("long-poll",))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        _Probe(spec_document(), h, result, deadline=1.0).long_poll("op-1")
    return result


def test_a_slow_server_is_not_taken_for_long_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    # A server written from the wire sheet (no `?wait=`) that took 1.5 s per reply was
    # reported as offering long-poll ("a poll with wait=3 was held 1.5 s"); so was one
    # whose poll was answered 503 with `Retry-After` and retried.
    slow = _timed_probe(monkeypatch, answer=2.0, held=0.0)
    assert slow.missing == ("long-poll",), slow.to_json()
    holding = _timed_probe(monkeypatch, answer=2.0, held=3.0)
    assert holding.offered == ("long-poll",), holding.to_json()


def test_the_text_report_says_why_each_extension_is_undetermined(tmp_path: Path) -> None:
    # The evidence was in contract-report.json only: the summary a server's author reads
    # first said "extensions undetermined: conversion-totals, long-poll" against the
    # reference server itself, and not why, nor that the run does not hold it to them.
    probe = ExtensionProbe(known=("conversion-totals", "long-poll", "model-listing"))
    probe.decide("model-listing", True, "GET /models listed the probe model")
    probe.leave("long-poll", "a poll with wait=3 of a save came back done at once")
    report = ContractReport(
        base_url="http://weaver.test", spec_file=tmp_path / "openapi.yaml",
        started_at="2026-12-04T00:00:00Z", base_model="weaver-tiny", extensions=probe,
    )  # fmt: skip
    text = render_text(report)
    start = text.index("  extensions undetermined: conversion-totals, long-poll")
    assert text[start + 1 : start + 4] == [
        "    not held to them; the probe's evidence:",
        "    conversion-totals: no reply told either way",
        "    long-poll: a poll with wait=3 of a save came back done at once",
    ]
    assert "extensions offered: model-listing" in text[start - 1]
    # A probe stopped early leaves most undetermined for one reason: said once for them.
    stopped = ExtensionProbe(known=probe.known, note="POST /api/v1/sessions answered 401")
    stopped.leave("conversion-totals", "not probed: only a running export shows its totals")
    text = render_text(dataclasses.replace(report, extensions=stopped))
    start = text.index("    not held to them; the probe's evidence:")
    assert text[start + 1 :][:2] == [
        "    conversion-totals: not probed: only a running export shows its totals",
        "    long-poll, model-listing: not reached: POST /api/v1/sessions answered 401",
    ]


def test_a_probe_operation_left_pending_is_not_said_to_have_ended() -> None:
    # A server whose loads stay pending for ever: the evidence said "probe operation ...
    # ended pending", of an operation that never ended.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "op-1", "status": "pending"})

    result = ExtensionProbe(known=("load-details",))
    transport = httpx.MockTransport(handler)
    with (
        httpx.Client(base_url="http://weaver.test", transport=transport) as h,
        pytest.raises(_extensions._Failed) as failed,
    ):
        _Probe(spec_document(), h, result, deadline=0.3).wait("op-1")
    assert str(failed.value) == "probe operation op-1 is still pending after 0.3 s"


def test_a_probe_operation_in_a_status_the_spec_lacks_stops_the_probe_at_once() -> None:
    # A server that says `completed` for `done` (the real SDK then polls for ever): the
    # probe polled it to its deadline, a minute, and said it was "still completed".
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "op-1", "status": "completed"})

    result = ExtensionProbe(known=("load-details",))
    transport = httpx.MockTransport(handler)
    with (
        httpx.Client(base_url="http://weaver.test", transport=transport) as h,
        pytest.raises(_extensions._Failed) as failed,
    ):
        _Probe(spec_document(), h, result, deadline=30.0).wait("op-1")
    assert str(failed.value) == (
        "probe operation op-1 has status `completed`, which is none of the spec's "
        "(`pending`, `running`, `done`, `error`)"
    )


def test_a_status_the_spec_lacks_decides_no_long_poll() -> None:
    # The poll for `long-poll` came first: `completed` at once read as a poll not held, and
    # the report said the server lacked long-poll before the probe stopped at that status.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, json={"id": "op-1", "status": "pending"})
        return httpx.Response(200, json={"id": "op-1", "status": "completed"})

    result = ExtensionProbe(known=("long-poll",))
    transport = httpx.MockTransport(handler)
    with (
        httpx.Client(base_url="http://weaver.test", transport=transport) as h,
        pytest.raises(_extensions._Failed, match="has status `completed`, which is none"),
    ):
        _Probe(spec_document(), h, result, deadline=30.0).save("m-1", "a")
    assert result.found == {}


def test_a_probe_stopped_by_a_reply_that_echoes_the_key_shows_it_nowhere() -> None:
    # An operation status that echoes the key stopped the probe, and the note (printed,
    # and in contract-report.json with the evidence of every extension it left
    # undetermined) quoted the status whole: the key with it.
    key = "sk-probe-key-0123456789"

    def answer(method: str, path: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method == "POST":
            return 201, {"id": "op-1", "status": "pending"}, {}
        if path.startswith("/api/v1/operations/"):
            return 200, {"id": "op-1", "status": f"zz-{key}"}, {}
        return 404, {"error": "not_found", "message": "no", "retryable": False}, {}

    with ScriptedServer(answer) as server:
        result = probe_extensions(
            spec_document(), base_url=server.base_url, api_key=key, base_model="weaver-tiny",
            deadline=5.0,
        )  # fmt: skip
    assert result.note is not None
    assert f"has status `zz-{KEY_PLACEHOLDER}`" in result.note
    shown = [result.note, *result.to_json()["evidence"].values()]
    assert [text for text in shown if key in text] == []


@pytest.mark.parametrize(
    ("unheld", "held"),
    # A save that ended 1.4 s into the poll's hold was said to come back "done at once";
    # a held poll faster than the unheld one (0.2 s against 0.5 s) "after -0.3 s".
    [(0.01, 1.4), (0.5, 0.2)],
    ids=["ended-during-a-short-hold", "held-poll-faster"],
)
def test_a_short_hold_gives_each_poll_its_own_time(
    monkeypatch: pytest.MonkeyPatch, unheld: float, held: float
) -> None:
    clock = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        if "wait" in request.url.params:
            clock[0] += held
            return httpx.Response(200, json={"id": "op-1", "status": "done"})
        clock[0] += unheld
        return httpx.Response(200, json={"id": "op-1", "status": "pending"})

    fake = SimpleNamespace(monotonic=lambda: clock[0], sleep=lambda seconds: None)
    monkeypatch.setattr(_extensions, "time", fake)
    result = ExtensionProbe(known=("long-poll",))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        _Probe(spec_document(), h, result, deadline=1.0).long_poll("op-1")
    assert result.undetermined == ("long-poll",)
    assert result.to_json()["evidence"] == {
        "long-poll": f"a poll with wait=3 of a save came back done after {held:.1f} s (one "
        f"without wait: {unheld:.1f} s), too short a hold (under 1.5 s longer) to tell from "
        "a slow reply"
    }
