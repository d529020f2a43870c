"""Which base model the kit trains when none is given: the server's own list decides."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.support.scripted_http import ScriptedServer
from weaver_facade.contract import ContractSettings, UnknownBaseModel, run_contract_test
from weaver_facade.contract._kit import ServerUnreachable, _probe
from weaver_facade.contract._report import render_text, to_json, to_junit

KEY = "sk-contract-key-3e8b1f0c9d27"


def listing(*items: dict[str, Any]) -> ScriptedServer:
    return ScriptedServer(lambda method, path: (200, {"items": list(items)}, {}))


def model(name: str, status: str, vocab: int) -> dict[str, Any]:
    return {"name": name, "status": status, "config": {"vocab_size": vocab}}


def test_the_smallest_ready_model_is_taken_before_any_other() -> None:
    with listing(model("tiny", "degraded", 50), model("small", "healthy", 100)) as server:
        name, vocab, why, names, _ = _probe(server.base_url, None)
    assert (name, vocab, why) == ("small", 100, None)
    assert names == {"tiny", "small"}


def test_with_no_model_ready_one_the_server_lists_is_taken_and_noted() -> None:
    # It trained "weaver-tiny", which the server does not serve, and then reported the
    # server's refusal of it as a finding.
    with listing(model("qa-medium", "degraded", 500), model("qa-small", "deprecated", 100)) as s:
        name, vocab, why, *_ = _probe(s.base_url, None)
    assert (name, vocab) == ("qa-small", 100)
    assert why == "the server lists no ready base model ('qa-small' is 'deprecated')"


def test_a_model_said_to_be_down_is_the_last_resort() -> None:
    # Among models none of which is ready, the alphabet chose one listed as unavailable.
    down, odd = model("qa-old", "unavailable", 50), {"name": "qa-odd", "config": {}}
    with listing(down, odd) as server:
        name, _, why, *_ = _probe(server.base_url, None)
    assert name == "qa-odd"
    assert why == "the server lists no ready base model ('qa-odd' has no status)"
    with listing(down) as server:
        assert _probe(server.base_url, None)[0] == "qa-old"


def test_an_https_base_url_of_a_plain_http_server_says_so() -> None:
    # The kit's first request said only OpenSSL's "wrong version number", where the
    # facade and its command line add the hint.
    with listing(model("tiny", "available", 50)) as server:
        https = server.base_url.replace("http://", "https://")
        with pytest.raises(ServerUnreachable) as unreachable:
            _probe(https, None)
    said = str(unreachable.value)
    assert "[SSL" in said  # OpenSSL's own words, whichever its version
    assert said.endswith("(the server may speak plain HTTP: try an http:// base URL)")


@pytest.mark.parametrize("userinfo", ["", "ci-user:pw-6d0e4a9b1c37@"], ids=["key", "user-info"])
def test_a_base_model_unknown_to_a_server_listing_the_secrets_never_shows_them(
    userinfo: str,
) -> None:
    # The refusal quoted every name the server lists: a hostile one that lists the key
    # (or the base URL's password) as a model name had it printed by the command line.
    secrets = (KEY, "pw-6d0e4a9b1c37")
    listed = [model(name, "healthy", 100) for name in ("qa-small", *secrets)]
    with listing(*listed) as server:
        base_url = server.base_url.replace("http://", f"http://{userinfo}")
        settings = ContractSettings(base_url=base_url, api_key=KEY, base_model="qa-large")
        with pytest.raises(UnknownBaseModel) as unknown:
            run_contract_test(settings)
    said = str(unknown.value)
    assert said.startswith("base model 'qa-large' is not one the server lists (")
    assert "qa-small" in said
    hidden = secrets if userinfo else secrets[:1]  # without user info, a name like others
    assert [secret for secret in secrets if secret in said] == [
        s for s in secrets if s not in hidden
    ]


@pytest.mark.parametrize("userinfo", ["", "ci-user:pw-6d0e4a9b1c37@"], ids=["key", "user-info"])
def test_a_base_model_named_after_the_secrets_never_shows_them_in_the_report(
    userinfo: str,
) -> None:
    # With no base model given, the kit trains one the server lists: a hostile server
    # that lists only the key (or the base URL's password), not ready, had it in the
    # report's base model and in its note of that choice.
    secret = "pw-6d0e4a9b1c37" if userinfo else KEY

    def answer(method: str, path: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path.startswith("/api/v1/supported-models"):
            return 200, {"items": [model(secret, "degraded", 100)]}, {}
        return 400, {"error": "invalid_request", "message": "no", "retryable": False}, {}

    with ScriptedServer(answer) as server:
        base_url = server.base_url.replace("http://", f"http://{userinfo}")
        settings = ContractSettings(base_url=base_url, api_key=KEY, parts=("lifecycle",))
        report = run_contract_test(settings)
    shown = [
        *render_text(report),
        json.dumps(to_json(report)),
        ElementTree.tostring(to_junit(report), encoding="unicode"),
    ]
    assert any("the server lists no ready base model" in line for line in shown)
    assert [line for line in shown if secret in line] == []
