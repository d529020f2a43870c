"""A base URL that is no Weaver API's root is one clear error, as no server is.

The kit adds ``/api/v1`` to the base URL. Pointed at a wrong path (``http://host:port/wrong``)
or at another web server, every route answered 404, and the run reported that as server
findings: each a 404 where the spec documents none, the lifecycle's failed first step and
a thousand requests.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.contract.drift import Drift, DriftMiddleware
from tests.contract.support import KEY, serve_emulator
from tests.contract.support import quick as quick_run
from tests.support.emulator import serve_in_thread
from tests.support.scripted_http import QuietServer
from weaver_facade.contract import ContractSettings, ServerUnreachable, run_contract_test
from weaver_facade.contract._extensions import ExtensionProbe
from weaver_facade.contract._findings import Finding
from weaver_facade.contract._kit import ContractReport, _without_url_secrets
from weaver_facade.contract._report import render_text, to_json, write_reports
from weaver_facade.emulator import EmulatorConfig, create_app

# No more than half a minute: these runs should end at once.
quick = functools.partial(quick_run, time_limit=30.0)


class _NotFound(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"<html><body>404 Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _StaticFiles(BaseHTTPRequestHandler):
    """As ``python -m http.server``: 404 to a GET, 501 to a POST (it has no such method)."""

    do_GET = _NotFound._answer
    log_message = _NotFound.log_message


@contextlib.contextmanager
def web_server(handler: type[BaseHTTPRequestHandler] = _NotFound) -> Iterator[str]:
    """Another web server: by default 404 in HTML for every path."""
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_wrong_path_is_no_weaver_api_and_names_where_the_api_is() -> None:
    with serve_emulator() as served:
        wrong = f"{served.base_url}/wrong"
        with pytest.raises(ServerUnreachable) as raised:
            run_contract_test(quick(wrong))
    message = str(raised.value)
    assert message.startswith(f"no Weaver API at {wrong}: "), message
    assert "GET /api/v1/supported-models answered 404 and POST /api/v1/sessions 404" in message
    assert message.endswith(f"; the API answers at {served.base_url}"), message


@pytest.mark.parametrize("handler", [_NotFound, _StaticFiles], ids=["404", "static-files"])
def test_another_web_server_is_no_weaver_api(handler: type[BaseHTTPRequestHandler]) -> None:
    # A static file server answers a POST 501: that was 35 findings, exit 1.
    with web_server(handler) as url, pytest.raises(ServerUnreachable) as raised:
        run_contract_test(quick(url))
    message = str(raised.value)
    assert message.startswith(f"no Weaver API at {url}: "), message
    assert "the API answers at" not in message


@pytest.mark.parametrize(
    "userinfo", ["user:pw-77e1c0", "tok-77e1c0:x", "tok-77e1c0"], ids=["password", "x", "alone"]
)
def test_the_user_info_of_a_wrong_base_url_is_not_shown(userinfo: str) -> None:
    # Either half may be the secret (GitHub's `TOKEN:x-oauth-basic`), or a lone user name.
    with web_server() as url, pytest.raises(ServerUnreachable) as raised:
        run_contract_test(quick(url.replace("http://", f"http://{userinfo}@") + "/x"))
    assert "77e1c0" not in str(raised.value)
    assert "http://***@127.0.0.1" in str(raised.value)


def test_a_short_password_of_the_base_url_leaves_the_words_around_it_whole() -> None:
    # Each `p` was hidden wherever it stood: "htt***://***@127.0.0.1:...", "ste***s".
    with web_server() as url, pytest.raises(ServerUnreachable) as raised:
        run_contract_test(quick(url.replace("http://", "http://u:p@") + "/x"))
    message = str(raised.value)
    assert "http://***@127.0.0.1" in message, message
    assert "u:p@" not in message


class _EchoesTheUserName(BaseHTTPRequestHandler):
    """A reply h11 cannot read, which quotes the user name of the Basic credentials."""

    def do_GET(self) -> None:
        basic = self.headers.get("Authorization", "").partition(" ")[2]
        user = base64.b64decode(basic).partition(b":")[0]
        self.wfile.write(b"WHO " + user + b"\r\n\r\n")

    log_message = _NotFound.log_message


@pytest.mark.parametrize("user", ["tok-77e1c0", "t\u00f6k-77e1c0"], ids=["ascii", "utf-8"])
def test_a_user_name_the_server_echoes_alone_is_not_shown(user: str) -> None:
    # GitHub's `TOKEN:x-oauth-basic`: the user name is the secret. Only the whole
    # `user:password` (and the password) were hidden, so a server quoting the user name
    # alone showed the token in the error (stderr).
    with web_server(_EchoesTheUserName) as url, pytest.raises(ServerUnreachable) as raised:
        run_contract_test(quick(url.replace("http://", f"http://{user}:x-oauth-basic@")))
    message = str(raised.value)
    assert "illegal status line" in message, message  # the reply is quoted
    assert "77e1c0" not in message, message
    assert "http://***@127.0.0.1" in message, message


@pytest.mark.parametrize(
    "userinfo", ["user:pw-77e1c0", "tok-77e1c0:x", "tok-77e1c0"], ids=["password", "x", "alone"]
)
def test_the_settings_repr_shows_no_user_info_of_the_base_url(userinfo: str) -> None:
    # A traceback's locals (pytest -l, rich) and a script's print show the settings' repr.
    settings = ContractSettings(base_url=f"http://{userinfo}@127.0.0.1:9", api_key="sk-77e1c0")
    assert "77e1c0" not in repr(settings)
    assert "base_url='http://***@127.0.0.1:9'" in repr(settings)
    assert "max_examples=" in repr(settings)
    unreadable = ContractSettings(base_url=f"http://{userinfo}@[::1")
    assert "77e1c0" not in repr(unreadable)


@pytest.mark.parametrize(
    ("base_url", "shown"),
    [
        (" http://user:pw-77e1c0@127.0.0.1:9", "' http://***@127.0.0.1:9'"),
        ("user:pw-77e1c0@127.0.0.1:9", "'***@127.0.0.1:9'"),
        ("http:/user:pw-77e1c0@127.0.0.1:9", "'***@127.0.0.1:9'"),
        ("http:\\\\user:pw-77e1c0@127.0.0.1:9", "'***@127.0.0.1:9'"),
    ],
    ids=["blank", "no-scheme", "one-slash", "backslashes"],
)
def test_the_repr_of_a_mistyped_base_url_shows_no_user_info(base_url: str, shown: str) -> None:
    # httpx reads no user info in these (a path, a scheme `user`), which the repr showed
    # whole; the run refuses them in words that hide it (`got '***@127.0.0.1:9'`), as the
    # facade's client does, or strips the blank.
    settings = ContractSettings(base_url=base_url, api_key="sk-77e1c0")
    for each in (repr(settings), str(settings)):
        assert "pw-77e1c0" not in each, each
        assert "user" not in each, each
        assert f"ContractSettings(base_url={shown}, max_examples=" in each, each


def test_an_api_that_lacks_only_the_listing_is_still_tested() -> None:
    # One route of the API missing is the server's finding, not a wrong URL.
    with serve_emulator(Drift.NO_SUPPORTED_MODELS) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert "GET /api/v1/supported-models answered 404; training uses 'weaver-tiny'" in " ".join(
        report.notes
    )
    assert report.lifecycle is not None
    assert any(step.status == "passed" for step in report.lifecycle.steps)


@pytest.mark.parametrize("api_key", ["s\u00e9cret", "key\nX-Other: 1"])
def test_a_key_no_header_can_carry_is_refused_before_any_request(api_key: str) -> None:
    """From Python as from the command line: not httpx's UnicodeEncodeError mid-run."""
    from weaver_facade import InvalidArgumentError

    # Any request would be answered: none may be sent.
    with web_server() as url, pytest.raises(InvalidArgumentError, match="api_key") as caught:
        run_contract_test(ContractSettings(base_url=url, api_key=api_key))
    assert api_key not in str(caught.value)


@pytest.mark.parametrize("base_url", ["", "  ", None])
def test_an_empty_base_url_is_named_as_the_settings_field(
    base_url: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The facade's words, "pass base_url= or set WEAVER_BASE_URL", name a step that the
    kit's Python API does not take: it never reads WEAVER_BASE_URL."""
    from weaver_facade import InvalidArgumentError

    monkeypatch.delenv("WEAVER_BASE_URL", raising=False)
    with pytest.raises(InvalidArgumentError) as caught:
        run_contract_test(ContractSettings(base_url=base_url))
    assert str(caught.value).startswith("ContractSettings.base_url is empty")
    assert "WEAVER_BASE_URL" not in str(caught.value)


@pytest.mark.parametrize("api_key", ["s3cret-key\n", " s3cret-key"])
def test_a_key_with_blanks_around_it_is_sent_without_them(api_key: str) -> None:
    """A key read from a file ends in a line break: the facade's check passed it (it strips
    the key), then the run sent it as given, which no header can carry: httpx refused it
    and the run said `cannot reach` the server, quoting the key."""
    with web_server() as url, pytest.raises(ServerUnreachable) as caught:
        run_contract_test(ContractSettings(base_url=url, api_key=api_key))
    assert "s3cret-key" not in str(caught.value)
    assert "LocalProtocolError" not in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        (ContractSettings(base_url="127.0.0.1:8080"), "ContractSettings.base_url"),
        (
            ContractSettings(base_url="http://127.0.0.1:1", api_key="k\u00e9y"),
            "ContractSettings.api_key",
        ),
        # Not a str: the facade's words offered None for a variable the kit never reads.
        (ContractSettings(base_url=8080), "ContractSettings.base_url"),  # type: ignore[arg-type]
        (
            ContractSettings(base_url="http://127.0.0.1:1", api_key=12345),  # type: ignore[arg-type]
            "ContractSettings.api_key",
        ),
    ],
    ids=["base_url", "api_key", "base_url-not-str", "api_key-not-str"],
)
def test_the_facades_refusal_names_the_settings_field(
    settings: ContractSettings, field: str
) -> None:
    """The facade's words named its own parameters, "api_key (or WEAVER_API_KEY)": from
    Python the kit reads neither that variable nor such a parameter."""
    from weaver_facade import InvalidArgumentError

    with pytest.raises(InvalidArgumentError) as caught:
        run_contract_test(settings)
    assert str(caught.value).startswith(f"{field} must "), str(caught.value)
    assert "WEAVER_" not in str(caught.value)


def test_a_base_model_note_from_python_names_the_settings_field() -> None:
    with serve_emulator(Drift.NO_SUPPORTED_MODELS) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    notes = " ".join(report.notes)
    assert "training uses 'weaver-tiny' (set ContractSettings.base_model)" in notes, notes
    assert "--base-model" not in notes


@pytest.mark.parametrize("user", ["tok-77e1c0", "t\u00f6k-77e1c0"], ids=["ascii", "utf-8"])
def test_a_user_name_a_finding_quotes_alone_is_in_no_report(tmp_path: Path, user: str) -> None:
    # A finding quoting the server's reply, which named the user name alone, showed the
    # token in every report.
    url = f"http://{quote(user)}:x-oauth-basic@127.0.0.1:9"
    echoed = f"unknown user {user!r}; b'{user}' as bytes: {user.encode()!r}"
    quoted = Finding("lifecycle", "GET /api/v1/sessions", "status", echoed, "200", echoed)
    report = ContractReport(url, Path("spec.yaml"), "2026-12-06T17:00:00Z", "weaver-tiny")
    report.findings, report.notes = [quoted], [f"the server said: {echoed}"]
    # The probe's evidence quotes replies too (a status, a field's value).
    report.extensions = ExtensionProbe(known=("long-poll", "model-listing"))
    report.extensions.decide("long-poll", False, f"a poll came back {echoed} at once")
    hidden = _without_url_secrets(report)
    written = [p.read_text(encoding="utf-8") for p in write_reports(hidden, tmp_path)]
    for text in ["\n".join(render_text(hidden)), json.dumps(to_json(hidden)), *written]:
        assert "77e1c0" not in text, text
    assert hidden.notes == ["the server said: unknown user '***'; b'***' as bytes: b'***'"]


def test_a_short_user_name_is_hidden_only_where_it_stands_alone() -> None:
    report = ContractReport("http://x:tok-77e1c0@127.0.0.1:9", Path("s"), "", "weaver-tiny")
    report.notes = ["x-oauth-basic: user x, 4 x 16 tokens, export.x"]
    assert _without_url_secrets(report).notes == [
        "x-oauth-basic: user ***, 4 *** 16 tokens, export.x"
    ]


@pytest.mark.parametrize(
    "password", ["p\u00e4ss-77e1c0", "pw\u20acx-77e1c0"], ids=["latin-1", "utf-8"]
)
def test_schemathesis_sends_the_kits_basic_credentials(
    tmp_path: Path, password: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # schemathesis sent the base URL's user info with requests, which makes Latin-1 Basic
    # credentials of it (the kit's httpx, UTF-8), and raised UnicodeEncodeError, holding
    # the password, for a character beyond Latin-1.
    received: list[tuple[str, str | None]] = []
    with tempfile.TemporaryDirectory(prefix="kitauth-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        drifted = DriftMiddleware(app, Drift.NO_RETRYABLE, key=KEY)

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
                if "x-schemathesis-testcaseid" in headers:  # a case's, not the kit's own
                    received.append((scope["path"], headers.get("authorization")))
            await drifted(scope, receive, send)

        with serve_in_thread(recording, app, name="kitauth") as served:
            url = served.replace("http://", f"http://weaver:{quote(password)}@")
            report = run_contract_test(quick(url))
    expected = "Basic " + base64.b64encode(f"weaver:{password}".encode()).decode()
    assert received, "schemathesis sent no request"
    assert {auth for _, auth in received} == {expected}, received[:5]
    curls = [f.curl for f in report.findings if f.curl and f.part == "conformance"]
    assert any("-H 'Authorization: Basic ***'" in curl for curl in curls), curls
    written = [p.read_text(encoding="utf-8") for p in write_reports(report, tmp_path)]
    output = capsys.readouterr()
    texts = ["\n".join(render_text(report)), json.dumps(to_json(report)), *written]
    for text in [*texts, output.out, output.err]:
        assert expected.split()[1] not in text
        assert "77e1c0" not in text


def test_a_paging_findings_curl_line_shows_the_basic_credentials() -> None:
    # Made of the case alone, it showed the base URL's user info (as schemathesis' `[Filtered]`)
    # while schemathesis had it, and no sign of the credentials sent once it had not.
    with serve_emulator(Drift.IGNORED_LIMIT) as served:
        url = served.base_url.replace("http://", "http://weaver:pw-77e1c0@")
        report = run_contract_test(quick(url, parts=("conformance",)))
    paging = [f for f in report.findings if f.check == "paging"]
    assert paging, [f.check for f in report.findings]
    for finding in paging:
        assert "-H 'Authorization: Basic ***'" in str(finding.curl), finding.curl
        assert "77e1c0" not in str(finding.curl)


def test_schemathesis_opening_probes_send_the_basic_credentials_too() -> None:
    # Its two opening probes (a NUL byte in a header, a backslash in a path) are sent with
    # a requests session of their own, past the kit's transport, which gives every case's
    # request the base URL's Basic credentials: they went without any.
    received: list[str | None] = []
    with serve_emulator() as served:
        app = served.middleware.app

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
                if "x-schemathesis-probe" in headers:
                    received.append(headers.get("authorization"))
            await app(scope, receive, send)

        served.middleware.app = recording
        url = served.base_url.replace("http://", "http://weaver:pw-77e1c0@")
        run_contract_test(quick(url, parts=("conformance",), time_limit=5.0))
    expected = "Basic " + base64.b64encode(b"weaver:pw-77e1c0").decode()
    # The NUL byte's never leaves: http.client refuses it in a header.
    assert received == [expected]
