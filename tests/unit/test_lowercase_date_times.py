"""A date-time of RFC 3339 may have a lowercase `t` and `z` (section 5.6, NOTE).

The generated models parse `format: date-time` with ``datetime.fromisoformat``, which
refuses a lowercase `z`: a reply with one failed the call (a nullable field, such as a
checkpoint's `expires_at`, passed the generated model as a string and failed the
facade's converter, or made a download URL's expiry unknown). The facade reads such a
reply as the same time in upper case, without a warning, since the spec allows it.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from typing import Any

import httpx
import pytest
from weaver_client import models as wire
from weaver_client.client import Client

from tests.support.fakeserver import BASE, RewritingFake, service
from tests.support.spec_values import SCHEMAS, every_field
from weaver_facade import _calls, _plans, _schema, _wire
from weaver_facade._artifacts import descriptor_from_wire
from weaver_facade._spec_schema import SpecSchemas, spec_document

_UPPER = re.compile(r'"(\d{4}-\d\d-\d\dT[^"]*)Z"')


def lowercase(value: Any) -> Any:
    """``value`` with each RFC 3339 time in it written with a lowercase `t` and `z`."""
    return json.loads(_UPPER.sub(lambda m: f'"{m[1].lower()}z"', json.dumps(value)))


def _has_date_time(schema: Any, seen: frozenset[str] = frozenset()) -> bool:
    text = json.dumps(schema)
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', text)) - seen
    return '"date-time"' in text or any(_has_date_time(SCHEMAS[r], seen | refs) for r in refs)


# Read from the spec: the schemas of a generated model that hold a date-time at any depth.
DATED = sorted(n for n in SCHEMAS if hasattr(wire, n) and _has_date_time(SCHEMAS[n]))


def test_the_spec_has_such_schemas_and_they_differ() -> None:
    assert {"Checkpoint", "CheckpointList", "Artifact", "DownloadDescriptor"} <= set(DATED)
    example = every_field(SCHEMAS["Checkpoint"])
    assert lowercase(example) != example
    assert lowercase(example)["created_at"].endswith("z")


@pytest.mark.parametrize("done_at_once", [True, False])
def test_a_save_listing_lookup_and_ttl_change_read_lowercase_times(
    done_at_once: bool, caplog: pytest.LogCaptureFixture
) -> None:
    fake = RewritingFake(lowercase)  # every time with a lowercase `t` and `z`
    fake.done_at_once = done_at_once
    with caplog.at_level(logging.WARNING, logger="weaver_facade"), service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        saved = trainer.save_state("s1")
        timed = trainer.set_checkpoint_ttl(saved.path, 3600)  # now with an `expires_at`
        # The set-TTL reply was the checkpoint: nothing read back.
        assert fake.sent("GET", "/api/v1/models/m-1/checkpoints") == []
        listed = trainer.list_checkpoints()
        got = trainer.get_checkpoint(saved.path)
    created = datetime.datetime(2026, 11, 29, 10, 1, tzinfo=datetime.UTC)
    expires = datetime.datetime(2026, 11, 30, 10, 1, tzinfo=datetime.UTC)
    assert saved.created_at == created
    for checkpoint in (timed, *listed, got):
        assert (checkpoint.created_at, checkpoint.expires_at) == (created, expires)
    assert caplog.records == []  # valid RFC 3339: nothing to warn about


@pytest.mark.parametrize("name", DATED)
def test_every_date_time_of_a_reply_is_read_in_upper_case(name: str) -> None:
    value = every_field(SCHEMAS[name])
    model: Any = getattr(wire, name)
    expected = model.from_dict(value).to_dict()

    def parse(*, client: Any, response: httpx.Response) -> object:
        return model.from_dict(response.json())

    call = _plans.Call("trial", {}, parse, model)
    reply = httpx.Response(200, json=lowercase(value), request=httpx.Request("GET", BASE))
    assert _wire.finish(call, Client(base_url=BASE), reply).to_dict() == expected
    # A result inside an Operation's `response` (a save's Checkpoint, an export's Artifact).
    assert _wire.parse_model("trial", model, lowercase(value)).to_dict() == expected


def test_a_download_url_keeps_its_lowercase_expiry() -> None:
    value = every_field(SCHEMAS["DownloadDescriptor"])
    call = _calls.get_artifact_download(wire.DownloadDescriptor.from_dict(value).artifact_id)
    reply = httpx.Response(200, json=lowercase(value), request=httpx.Request("GET", BASE))
    descriptor = descriptor_from_wire(_wire.finish(call, Client(base_url=BASE), reply))
    expected = descriptor_from_wire(wire.DownloadDescriptor.from_dict(value))
    assert descriptor.files[0].url_expires_at is not None
    assert descriptor == expected


@pytest.mark.parametrize("name", DATED)
def test_no_checker_calls_a_lowercase_time_a_spec_violation(name: str) -> None:
    value = lowercase(every_field(SCHEMAS[name]))
    assert _schema.explain(name, value) is None  # the facade's
    # The emulator's and the contract kit's, format checks included.
    assert SpecSchemas(spec_document()).component(name, formats=True).is_valid(value)


def test_a_time_that_is_not_one_is_still_named_as_it_came() -> None:
    value = {**every_field(SCHEMAS["Checkpoint"]), "created_at": "yesterday"}
    problem = _schema.explain("Checkpoint", value)
    assert problem is not None
    assert problem.message == "field `created_at`: 'yesterday' is not a date-time (RFC 3339)"
