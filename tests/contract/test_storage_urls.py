"""Storage URLs expire (the wire sheet: "401/403 once expired; a client then fetches the
descriptor again for fresh URLs"), so the kit takes a fresh URL rather than blame the
storage for a URL it kept too long.

A server written from the sheet alone gave URLs 5 s to live and served a 30 MB file at
5 MB/s: the kit's `Range` probe, sent with the URL of that 6 s download, got 401 and was
reported as a `storage_range` finding.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

import httpx
import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._artifact_steps import STEP_STORAGE, _url


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
    steps.sc = cast(Any, None)  # no finding is made on the way
    item = {"name": "a.bin", "url": "http://storage.test/a.bin"}
    with pytest.raises(httpx.ReadError):
        steps._fetch(cast(Any, None), item)
    assert renewals == ["a.bin"]
    assert gets == ["http://storage.test/a.bin"]
