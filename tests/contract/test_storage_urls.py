"""Storage URLs expire (the wire sheet: "401/403 once expired; a client then fetches the
descriptor again for fresh URLs"), so the kit takes a fresh URL rather than blame the
storage for a URL it kept too long.

A server written from the sheet alone gave URLs 5 s to live and served a 30 MB file at
5 MB/s: the kit's `Range` probe, sent with the URL of that 6 s download, got 401 and was
reported as a `storage_range` finding.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import socket
import tempfile
import threading
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import parse_qs

import httpx
import pytest

from tests.contract.drift import Drift
from tests.contract.support import KEY, quick, serve_emulator
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._artifact_steps import STEP_STORAGE, _url
from weaver_facade.contract._lifecycle import StepFailed, StepResult
from weaver_facade.contract._report import render_text, to_json
from weaver_facade.emulator import run_emulator


@pytest.mark.parametrize("drift", [Drift.URLS_SERVE_ONCE, Drift.URLS_SERVE_ONCE_GCS])
def test_an_expired_storage_url_is_renewed_not_reported(drift: Drift) -> None:
    with serve_emulator(drift) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert served.middleware.expired, "no URL was used twice: the test shows nothing"
    assert [f.line() for f in report.findings] == []
    assert report.lifecycle is not None
    steps = {step.name: step.status for step in report.lifecycle.steps}
    assert steps[STEP_STORAGE] == "passed", steps


def test_a_reset_storage_connection_is_tried_again_not_reported() -> None:
    # Storage is not the server under test: a flaky network between the two is no finding,
    # and the facade's downloads try such a GET again too.
    with serve_emulator(Drift.STORAGE_RESETS) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert served.middleware.resets >= 3, "the download and both range probes were cut"
    assert [f.line() for f in report.findings] == []
    assert report.lifecycle is not None
    steps = {step.name: step.status for step in report.lifecycle.steps}
    assert steps[STEP_STORAGE] == "passed", steps


def test_a_lowercase_expiry_is_an_expiry() -> None:
    # RFC 3339 lets its `t` and `z` be lowercase (5.6); fromisoformat refuses the `z`, and
    # the URL was taken for one that never expires, to be renewed only once refused.
    item = {"name": "a", "url": "http://storage.test/a", "url_expires_at": "2026-11-29t10:00:00z"}
    expected = datetime.datetime(2026, 11, 29, 10, tzinfo=datetime.UTC).timestamp()
    assert _url(item).expires == expected


def test_a_renewal_cut_by_the_network_is_the_servers_not_retried_as_storage() -> None:
    # The renewal asks the server under test for a fresh URL: a connection it drops is
    # its own failure to report, not a flaky hop to storage to try again.
    from weaver_facade.contract._artifact_steps import ArtifactSteps

    gets: list[str] = []

    def storage(request: httpx.Request) -> httpx.Response:
        gets.append(str(request.url))
        return httpx.Response(401)  # the URL expired on the way

    renewals: list[str] = []

    def renew(url: Any) -> None:
        renewals.append(url.name)
        raise httpx.ReadError("the server dropped the connection")

    steps = ArtifactSteps.__new__(ArtifactSteps)
    steps.storage = httpx.Client(transport=httpx.MockTransport(storage))
    steps._renew = renew  # type: ignore[method-assign]
    # No finding is made on the way; the deadline bounds storage's silence.
    steps.sc = cast(Any, SimpleNamespace(s=SimpleNamespace(deadline=3.0)))
    item = {"name": "a.bin", "url": "http://storage.test/a.bin"}
    with pytest.raises(httpx.ReadError):
        steps._fetch(cast(Any, None), item)
    assert renewals == ["a.bin"]
    assert gets == ["http://storage.test/a.bin"]


def test_a_renewed_url_still_refused_as_expired_is_named_so_not_as_a_key_problem() -> None:
    # A URL renewed and still answered as GCS answers an expired one (400 `ExpiredToken`)
    # was reported as "answered 400 without the API key": the key has nothing to do
    # with it, and the renewal the kit made went unsaid.
    from weaver_facade.contract._artifact_steps import ArtifactSteps
    from weaver_facade.contract._findings import Finding

    page = b"<?xml version='1.0'?><Error><Code>ExpiredToken</Code></Error>"

    def storage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, content=page, headers={"content-type": "application/xml"})

    def renew(url: Any) -> None:
        url.url = "http://storage.test/a.bin?X-Goog-Signature=fresh-secret"

    steps = ArtifactSteps.__new__(ArtifactSteps)
    steps.storage = httpx.Client(transport=httpx.MockTransport(storage))
    steps._renew = renew  # type: ignore[method-assign]
    steps.sc = cast(
        Any,
        SimpleNamespace(
            finding=lambda *a: Finding("lifecycle", *a), s=SimpleNamespace(deadline=3.0)
        ),
    )
    step = StepResult(STEP_STORAGE, "running")
    item = {"name": "a.bin", "url": "http://storage.test/a.bin?X-Goog-Signature=old-secret"}
    with pytest.raises(StepFailed):
        steps._fetch(step, item)
    (finding,) = step.findings
    assert finding.check == "storage_no_key"
    assert "without the API key" not in finding.message
    assert finding.message == (
        "the storage URL of `a.bin` was renewed and still refused as expired: 400 ExpiredToken"
    )
    assert finding.got == "400 ExpiredToken"
    assert "secret" not in finding.line()


def test_a_storage_reply_echoing_its_query_is_reported_without_the_signature() -> None:
    # h11 quotes a malformed status line whole: a storage host that echoed the query there
    # had each URL's signature written into the finding, the text report and the JSON.
    queries: list[str] = []

    def echo(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            line = conn.recv(65536).split(b" ")
            if len(line) < 2:  # a client gone before it asked
                return
            target = line[1].decode()
            queries.append(target.partition("?")[2])
            conn.sendall(f"HTTP/1.1 2x0 {queries[-1]}\r\n\r\n".encode())

    def serve(listener: socket.socket) -> None:
        with contextlib.suppress(OSError):  # closed at the end
            while True:
                echo(listener.accept()[0])

    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        tempfile.TemporaryDirectory() as data_dir,
    ):
        threading.Thread(target=serve, args=(listener,), daemon=True).start()
        storage = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with run_emulator(data_dir, api_keys=(KEY,), storage_url=storage) as emu:
            report = run_contract_test(quick(emu.base_url, parts=("lifecycle",)))
    signatures = {v for q in queries for v in parse_qs(q).get("signature", [])}
    assert signatures, "storage was never asked"
    shown = "\n".join(render_text(report)) + json.dumps(to_json(report))
    assert "illegal status line" in shown  # the reply is reported
    assert [s for s in signatures if s in shown] == []
