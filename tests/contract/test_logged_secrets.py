"""No log record of a kit run holds the API key or the base URL's password.

httpx logs each request at INFO as ``HTTP Request: GET URL``, the URL as the request holds
it: the kit's own requests (its probes, the lifecycle's checks, the clean-ups) went to
``http://weaver:PASSWORD@host/...``, so a caller logging at INFO (pytest's log capture, a
script's ``basicConfig``) had the password in 56 records of one lifecycle run. The
facade's own client never put it in a URL.
"""

from __future__ import annotations

import ast
import base64
import logging
from pathlib import Path

import pytest
from starlette.types import Receive, Scope, Send

from tests.contract.support import KEY, ROOT, quick, serve_emulator
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._report import render_text, write_reports

USER, PASSWORD = "weaver", "pw-7f3c9a"
SECRETS = [PASSWORD, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(), KEY]
# Every library a run's requests pass through, at DEBUG whatever level it sets itself.
LOGGERS = ["", "httpx", "httpcore", "urllib3", "requests", "schemathesis", "weaver_facade"]
SHOWN = logging.Formatter("%(name)s %(levelname)s %(message)s")


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"parts": ("lifecycle",)}, id="lifecycle"),
        # Each of conformance's own requests, with schemathesis' cut short.
        pytest.param({"parts": ("conformance",), "time_limit": 10.0}, id="conformance"),
        pytest.param({}, marks=pytest.mark.slow, id="quick"),
    ],
)
def test_no_log_record_holds_the_key_or_the_password(
    caplog: pytest.LogCaptureFixture, tmp_path: Path, overrides: dict[str, object]
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    authorizations: set[bytes | None] = set()  # of every API request the server got
    with serve_emulator() as served:
        app = served.middleware.app

        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/api/"):
                authorizations.add(dict(scope["headers"]).get(b"authorization"))
            await app(scope, receive, send)

        served.middleware.app = recording
        url = served.base_url.replace("http://", f"http://{USER}:{PASSWORD}@")
        report = run_contract_test(quick(url, **overrides))
    assert report.passed, [f.line() for f in report.findings]
    # Still sent, as Basic credentials, with each request.
    assert authorizations == {f"Basic {SECRETS[1]}".encode()}
    requests = [r for r in caplog.records if r.name == "httpx"]
    assert len(requests) > 20, "httpx logged the kit's requests"
    shown = [SHOWN.format(record) for record in caplog.records]
    written = [p.read_text(encoding="utf-8") for p in write_reports(report, tmp_path)]
    for text in [*shown, *render_text(report), *written]:
        for secret in SECRETS:
            assert secret not in text, text


def test_the_kit_makes_its_httpx_clients_in_one_place() -> None:
    # Where a client of its own was made, the base URL's user info went in the URLs httpx
    # logs; ``_clients.kit_client`` sends it as Basic credentials instead.
    made = [
        f"{path.name}:{node.lineno}"
        for path in sorted((ROOT / "weaver_facade" / "contract").glob("*.py"))
        if path.name != "_clients.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) in ("httpx.Client", "httpx.AsyncClient")
    ]
    assert made == []
