"""A reply that asks to try later is not waited out past the request's own time.

The kit's own requests end within `--deadline` (and a second), their retries included, but
the waits a 429 or 503 asked for were slept in full: under `--deadline 0.5` a read answered
`503` with `Retry-After: 3` held the lifecycle's step 9 s, and then its retry failed at
once, named as a request without a reply (`ConnectTimeout: the attempt's time is up`).
"""

from __future__ import annotations

import time

import httpx

from tests.contract.support import KEY, model_reads
from tests.support.scripted_http import HANG, Reply, ScriptedServer, unavailable
from weaver_facade.contract import ContractSettings, run_contract_test
from weaver_facade.contract._extensions import probe_extensions
from weaver_facade.contract._lifecycle import STEP_NO_KEY, run_lifecycle
from weaver_facade.contract._patience import RETRIED, UNWAITED, PatientHTTPTransport
from weaver_facade.contract._spec import load_spec


def test_the_kits_own_request_does_not_wait_past_its_time() -> None:
    with ScriptedServer(model_reads(unavailable("3"))) as server:
        outcome = run_lifecycle(
            load_spec(),
            base_url=server.base_url,
            api_key=KEY,
            base_model="weaver-tiny",
            vocab_size=256,
            deadline=0.5,
            run_id="busy0001",
        )
    step = {step.name: step for step in outcome.steps}[STEP_NO_KEY]
    assert step.seconds < 3.0, step.seconds  # less than the wait asked for
    [finding] = step.findings
    assert finding.check == "availability", finding.line()
    assert finding.message == (
        "503 unavailable, not retried: the server asked to try again in 3 s, and the "
        "request's time (1.5 s: ContractSettings.deadline and a second) came first, and the "
        "step could not be checked"
    ), finding.message


def test_the_probe_does_not_wait_past_a_request_s_time() -> None:
    # The probe's request time is 6 s at least (its longest poll and a second): three
    # waits of the 10 s the kit takes at most held it 30 s.
    def answer(method: str, path: str) -> Reply | str:
        return unavailable("10")

    with ScriptedServer(answer) as server:
        started = time.monotonic()
        probe = probe_extensions(
            load_spec().document,
            base_url=server.base_url,
            api_key=KEY,
            base_model="weaver-tiny",
            deadline=0.5,
        )
        took = time.monotonic() - started
        sent = list(server.requests)
    assert probe.note == (
        "the extension probe stopped early: POST /api/v1/sessions answered 503"
    ), probe.note
    assert sent == [("POST", "/api/v1/sessions")], sent
    assert took < 3.0, took


def test_a_lifecycle_run_s_auth_probes_keep_to_the_deadline() -> None:
    # Without conformance, the run asks three reads whether the server refuses the key;
    # they waited 15 s whatever --deadline said.
    listing = {"items": [{"name": "weaver-tiny", "status": "ready"}]}

    def answer(method: str, path: str) -> Reply | str:
        path = path.partition("?")[0]
        if path == "/api/v1/supported-models":
            return 200, listing, {}
        if method == "GET" and path.startswith("/api/v1/models/"):
            return HANG  # the first probe's read of a model no one made
        return 404, {"error": "not_found", "message": "no", "retryable": False}, {}

    with ScriptedServer(answer) as server:
        settings = ContractSettings(
            base_url=server.base_url, api_key=KEY, parts=("lifecycle",), deadline=0.5
        )
        started = time.monotonic()
        run_contract_test(settings)
        took = time.monotonic() - started
        reads = [path for method, path in server.requests if path.startswith("/api/v1/models/")]
    assert reads, server.requests  # the probe was sent, and held
    assert took < 5.0, took


def test_a_request_that_used_its_retries_stops_the_retries_of_the_next() -> None:
    # Its fourth 503, whose wait would have passed the budget, was marked unwaited before
    # the retries were counted: no retry was due anyway, but the transport was not marked
    # down, and each next request to a server that stayed unavailable waited out 3 more
    # (here 3 waits of 0.1 s fit the 0.35 s budget, a fourth does not).
    sent: list[str] = []

    def busy(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(503, headers={"Retry-After": "0.1"}, stream=httpx.ByteStream(b""))

    transport = PatientHTTPTransport(httpx.MockTransport(busy), waits=0.35)
    with httpx.Client(transport=transport) as http:
        first = http.get("http://storage.test/a.bin")
        second = http.get("http://storage.test/b.bin")
    assert first.extensions[RETRIED] == 3
    assert UNWAITED not in first.extensions, "no fourth retry was due to be waited for"
    assert transport.down
    assert second.status_code == 503
    assert sent == ["/a.bin"] * 4 + ["/b.bin"], sent
