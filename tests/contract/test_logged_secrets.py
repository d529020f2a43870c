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
from typing import Any

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


# What makes an httpx client: its classes, and the functions that send through one of their own.
MAKERS = {"Client", "AsyncClient"}
MAKERS |= {"request", "stream", "get", "head", "options", "post", "put", "patch", "delete"}


def _made(source: str) -> list[int]:
    """The lines of ``source`` that name a maker of httpx's, however imported; an annotation
    (``http: httpx.Client``) makes none."""
    tree = ast.parse(source)
    annotations = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += filter(None, [arguments.vararg, arguments.kwarg])
            held = [node.returns, *(a.annotation for a in every)]
        else:
            held = [node.annotation] if isinstance(node, ast.AnnAssign) else []
        annotations |= {id(part) for a in filter(None, held) for part in ast.walk(a)}
    modules = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == "httpx"
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "httpx"
            and any(alias.name in MAKERS for alias in node.names)
        )
        or (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and node.attr in MAKERS
            and id(node) not in annotations
        )
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import httpx\nhttpx.Client()",
        "import httpx as web\nweb.Client()",
        "from httpx import Client as Web\nWeb()",
        "import httpx\nclass Web(httpx.AsyncClient): ...",
        "import functools, httpx\nmake = functools.partial(httpx.Client, timeout=1)",
        "import httpx\nhttpx.get('http://user:pw@host/')",
        "import httpx\nwith httpx.stream('GET', 'http://user:pw@host/'): ...",
    ],
)
def test_each_spelling_of_a_client_made_is_found(source: str) -> None:
    assert _made(source) != []


def test_an_annotation_makes_no_client() -> None:
    source = "import httpx\ndef f(a: httpx.Client, *b: httpx.Client) -> httpx.Client: ...\n"
    assert _made(source + "c: httpx.AsyncClient") == []


def test_the_kit_makes_its_httpx_clients_in_one_place() -> None:
    # Where a client of its own was made, the base URL's user info went in the URLs httpx
    # logs; ``_clients.kit_client`` sends it as Basic credentials instead.
    kit = sorted((ROOT / "weaver_facade" / "contract").rglob("*.py"))
    assert len(kit) > 10
    made = [
        f"{path.name}:{line}"
        for path in kit
        if path.name != "_clients.py"
        for line in _made(path.read_text(encoding="utf-8"))
    ]
    assert made == []
    assert _made((ROOT / "weaver_facade" / "contract" / "_clients.py").read_text("utf-8"))


def test_no_log_record_holds_what_a_server_echoes_in_a_reply_header(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # httpcore logs each reply's headers at DEBUG (`receive_response_headers.complete`):
    # those of a server that echoes the key and the Basic credentials it got, in the kit's
    # own requests, were there whole; the facade's client takes them out of its own.
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    with serve_emulator() as served:
        app = served.middleware.app

        async def echoing(scope: Scope, receive: Receive, send: Send) -> None:
            got = dict(scope["headers"])
            echoed = b" ".join(got.get(h, b"-") for h in (b"x-weaver-api-key", b"authorization"))

            async def sending(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", []), (b"x-echo", echoed)]
                await send(message)

            await app(scope, receive, sending)

        served.middleware.app = echoing
        url = served.base_url.replace("http://", f"http://{USER}:{PASSWORD}@")
        report = run_contract_test(quick(url, parts=("lifecycle",)))
    assert report.passed, [f.line() for f in report.findings]
    echoes = [r for r in caplog.records if "x-echo" in r.getMessage().lower()]
    assert len(echoes) > 20, "httpcore logged the replies' headers"
    for record in caplog.records:
        for secret in SECRETS:
            assert secret not in SHOWN.format(record), SHOWN.format(record)
