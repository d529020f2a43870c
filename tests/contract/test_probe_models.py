"""The extension probe's look at ``model-listing``, against scripted replies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from weaver_facade._spec_schema import spec_document
from weaver_facade.contract._extensions import ExtensionProbe, _Probe

Handler = Callable[[httpx.Request], httpx.Response]


def probe(handler: Handler) -> ExtensionProbe:
    result = ExtensionProbe(known=("model-listing",))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        _Probe(spec_document(), h, result, deadline=1.0).model_listing("m-2")
    return result


def page(offset: int) -> httpx.Response:
    ids = ["m-1", "m-2"][offset : offset + 1]
    items = [{"id": i, "base_model": "weaver-tiny"} for i in ids]
    return httpx.Response(200, json={"items": items, "pagination": {"total_count": 2}})


def test_a_listing_with_the_probe_model_is_offered() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.url.params))
        return page(int(request.url.params.get("offset", 0)))

    result = probe(handler)
    assert result.found == {"model-listing": True}
    assert result.evidence["model-listing"] == "GET /models listed the probe model"
    # The newest model is last: the probe reads the last page.
    assert seen == [{"limit": "1"}, {"limit": "1", "offset": "1"}]


@pytest.mark.parametrize("status", [404, 405])
def test_no_route_is_missing(status: int) -> None:
    result = probe(lambda _: httpx.Response(status, json={"error": "not_found"}))
    assert result.found == {"model-listing": False}
    assert result.evidence["model-listing"] == f"GET /models of a key with a model: {status}"


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(500, json={"error": "internal"}),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json=["not", "a", "page"]),
        httpx.Response(200, json={"items": [], "pagination": {"total_count": 0}}),
    ],
    ids=["500", "not-json", "an-array", "no-models"],
)
def test_anything_else_leaves_it_undetermined(reply: httpx.Response) -> None:
    result = probe(lambda _: reply)
    assert result.undetermined == ("model-listing",)
