"""schemathesis' own opening probes keep to the part's time limit.

Before its first case schemathesis sends two requests of its own (a NUL byte in a header, a
backslash in a path), past the kit's transport, each waiting 10 s for bytes: a server that
took them and never answered held `--time-limit 2` for some 20 s.
"""

from __future__ import annotations

import copy
import time

from tests.contract.support import quick
from tests.support.scripted_http import HANG, Reply, ScriptedServer
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._conformance import probe_timeout, schemathesis_config
from weaver_facade.contract._spec import load_spec

_LISTING = {
    "items": [{"name": "weaver-tiny", "status": "available", "config": {"vocab_size": 256}}],
    "limit": 100,
    "offset": 0,
    "total": 1,
}


def _answer(method: str, path: str) -> Reply | str:
    path = path.partition("?")[0]
    if path == "/" or path.startswith("/schemathesis-probe"):  # schemathesis' own probes
        return HANG
    if path == "/api/v1/supported-models":
        return 200, _LISTING, {}
    return 404, {"error": "not_found", "message": "no such thing", "retryable": False}, {}


def test_schemathesis_probes_without_a_reply_end_within_the_time_limit() -> None:
    with ScriptedServer(_answer) as server:
        started = time.monotonic()
        report = run_contract_test(quick(server.base_url, time_limit=2.0, parts=("conformance",)))
        took = time.monotonic() - started
        probed = [p for _, p in server.requests if p == "/" or "schemathesis-probe" in p]
    assert probed, server.requests  # the probes were sent, and held
    assert report.conformance is not None
    # The part's 2 s and schemathesis' start on a busy machine; each probe alone waited 10 s.
    assert report.conformance.seconds < 6.0, report.conformance.seconds
    assert took < 12.0, took


def test_every_case_keeps_schemathesis_default_wait_beside_the_probes_shorter_one() -> None:
    # The probes read the project's timeout, set short; each case must not: an operation
    # of the spec, or one a later spec adds, would then be cut at a quarter of the time left.
    import schemathesis
    from schemathesis.core.result import Ok
    from schemathesis.core.transport import DEFAULT_RESPONSE_TIMEOUT

    document = copy.deepcopy(dict(load_spec().document))
    document["paths"]["/api/v1/added-later"] = {
        "get": {"operationId": "added_later", "responses": {"200": {"description": "ok"}}}
    }
    config = schemathesis_config(api_key="k", base_url="http://127.0.0.1:9")
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.config.request_timeout = probe_timeout(2.0)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    waits = {op.label: schema.config.request_timeout_for(operation=op) for op in operations}
    assert "GET /api/v1/added-later" in waits
    assert set(waits.values()) == {DEFAULT_RESPONSE_TIMEOUT}, waits
    assert schema.config.request_timeout == 0.5
