"""The unit tests' fake Weaver answers as the spec says, so that a spec change (a renamed
or new required field) cannot leave the fake behind while the tests stay green."""

from __future__ import annotations

import httpx
import pytest

from tests.support.fakeserver import BASE, FakeWeaver, checkpoint_json

LIST = f"{BASE}/api/v1/models/m-1/checkpoints"


def test_a_reply_the_spec_does_not_allow_stops_the_test() -> None:
    fake = FakeWeaver()
    stale = checkpoint_json("m-1", "a")
    stale["checkpoint_type"] = stale.pop("type")  # the name of an older wire
    fake.checkpoints["m-1"].append(stale)
    with pytest.raises(
        AssertionError,
        match=r"breaks the spec: Checkpoint: required field `type` missing "
        r"\(got `checkpoint_type`\)",
    ):
        fake(httpx.Request("GET", LIST))


def test_a_status_the_spec_does_not_give_the_route_stops_the_test() -> None:
    fake = FakeWeaver()
    fake.accepted_status = 203
    request = httpx.Request("POST", f"{LIST}", json={"type": "weight"})
    with pytest.raises(
        AssertionError, match="checkpoints breaks the spec: 203 is not a documented status"
    ):
        fake(request)


def test_the_fakes_replies_pass() -> None:
    fake = FakeWeaver()
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "a"))
    assert fake(httpx.Request("GET", LIST)).json()["items"][0]["name"] == "a"
