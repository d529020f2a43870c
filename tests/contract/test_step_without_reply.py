"""A lifecycle step whose request got no reply names the request and how long it waited.

The finding read `get_model: no reply: ReadTimeout('timed out')`: neither the route as the
spec names it, nor the request, nor the two minutes the retries took.
"""

from __future__ import annotations

import re
import time

import httpx

from weaver_facade.contract._lifecycle import Scenario, Settings
from weaver_facade.contract._spec import load_spec

BASE = "http://127.0.0.1:9"


def test_a_step_without_a_reply_names_the_request_and_the_wait() -> None:
    settings = Settings(BASE, "secret-key-1", "weaver-tiny", 256, 5.0, "run-1")
    scenario = Scenario(load_spec(), settings, lambda _: None)
    headers = {"X-WEAVER-API-KEY": "secret-key-1"}
    request = httpx.Request("GET", f"{BASE}/api/v1/models/m-1", headers=headers)
    with scenario.step("no key gets 401", "get_model"):
        raise httpx.ReadTimeout("timed out", request=request)
    [step] = scenario.outcome.steps
    [finding] = step.findings
    assert step.status == "failed"
    assert finding.operation == "GET /api/v1/models/{model_id}"
    assert finding.check == "server_answers"
    assert finding.message.startswith(
        "no reply to GET /api/v1/models/m-1 (ReadTimeout: timed out); the step gave up after "
    )
    assert finding.message.endswith(" s, retries included")
    key = '"X-WEAVER-API-KEY: $WEAVER_API_KEY"'
    assert finding.curl == f"curl -X GET {BASE}/api/v1/models/m-1 -H {key}"
    assert "secret-key-1" not in finding.line()


def test_a_step_without_a_request_still_names_its_operation() -> None:
    settings = Settings(BASE, None, "weaver-tiny", 256, 5.0, "run-1")
    scenario = Scenario(load_spec(), settings, lambda _: None)
    with scenario.step("no key gets 401", "get_model"):
        raise httpx.ReadTimeout("timed out")
    [finding] = scenario.outcome.steps[0].findings
    assert finding.operation == "get_model"
    assert finding.message.startswith("no reply (ReadTimeout); the step gave up after ")


def test_a_wait_under_a_second_is_not_rounded_to_none() -> None:
    # Under `--deadline 0.2` it read "the step gave up after 0 s, retries included (each
    # call's deadline: 0.2 s)": no wait at all, for a step that waited its deadline.
    settings = Settings(BASE, None, "weaver-tiny", 256, 0.2, "run-1")
    scenario = Scenario(load_spec(), settings, lambda _: None)
    started = time.monotonic()
    with scenario.step("no key gets 401", "get_model"):
        time.sleep(0.3)  # the step's wait for a reply that does not come
        raise httpx.ReadTimeout("timed out")
    took = time.monotonic() - started
    [finding] = scenario.outcome.steps[0].findings
    said = re.search(r"the step gave up after ([0-9.]+) s", finding.message)
    assert said is not None, finding.message
    assert 0.3 <= float(said.group(1)) <= round(took, 1) + 0.05, (said.group(1), took)
