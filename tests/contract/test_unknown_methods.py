"""A method no route knows: 501 with an Error body is right (RFC 9110, 15.6.2), and a
405 without `Allow` is one finding for the server, not one per operation.

A server answering TRACE with 501 and an Error body got `unsupported_method` and
`not_a_server_error` findings for each of 17 operations: schemathesis wants 405 there.
"""

from __future__ import annotations

import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test

METHOD_CHECKS = {"unsupported_method", "not_a_server_error"}

# Each test runs the kit against a server of its own, for 15 to 20 s: under `--slow`.
pytestmark = pytest.mark.slow


def test_501_with_an_error_body_for_an_unknown_method_is_no_finding() -> None:
    with serve_emulator(Drift.UNKNOWN_METHOD_501) as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    assert report.conformance is not None
    assert any(status == 501 for _, status in report.conformance.statuses), "no TRACE was sent"
    assert [f.line() for f in report.findings if f.check in METHOD_CHECKS] == []


def test_405_without_allow_on_every_route_is_one_finding() -> None:
    with serve_emulator(Drift.UNKNOWN_METHOD_405_WITHOUT_ALLOW) as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    found = [f for f in report.findings if f.check in METHOD_CHECKS]
    assert [f.check for f in found] == ["unsupported_method"]
    assert "without required `Allow` header" in found[0].message
    assert "more replies too" in found[0].message


def test_an_html_501_for_an_unknown_method_is_one_finding() -> None:
    # 16 `not_a_server_error` findings, one per operation, and one `unsupported_method`.
    with serve_emulator(Drift.UNKNOWN_METHOD_HTML_501) as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    found = [f for f in report.findings if f.check in METHOD_CHECKS]
    assert [f.check for f in found] == ["unsupported_method"], [f.line() for f in found]
    assert "more replies too" in found[0].message
