"""The report's evidence covers every extension, the undetermined ones too.

Against the emulator, `conversion-totals` (never probed) and `long-poll` (its saves end
before a poll can be held) came out undetermined with no evidence at all: the report
promises the evidence for each, and a server's author could not tell why.
"""

from __future__ import annotations

import httpx

from weaver_facade._spec_schema import spec_document
from weaver_facade.contract._extensions import ExtensionProbe, _Probe, probe_extensions
from weaver_facade.emulator import run_emulator


def test_every_extension_has_evidence_against_the_emulator() -> None:
    with run_emulator(api_keys=("k",)) as emu:
        result = probe_extensions(
            spec_document(), base_url=emu.base_url, api_key="k", base_model="weaver-tiny",
            deadline=30.0,
        )  # fmt: skip
    assert result.note is None, result.note
    evidence = result.to_json()["evidence"]
    assert set(evidence) == set(result.known)
    assert "conversion-totals" in result.undetermined
    assert "not probed" in evidence["conversion-totals"]


def test_a_save_done_before_its_poll_says_why_long_poll_is_undetermined() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "op-1", "status": "done"})

    result = ExtensionProbe(known=("long-poll",))
    with httpx.Client(base_url="http://weaver.test", transport=httpx.MockTransport(handler)) as h:
        _Probe(spec_document(), h, result, deadline=1.0).long_poll("op-1")
    assert result.undetermined == ("long-poll",)
    assert result.to_json()["evidence"] == {
        "long-poll": "a poll with wait=3 of a save came back done at once: "
        "the save ended before a poll could be held"
    }


def test_a_probe_stopped_early_names_the_stop_for_each_undetermined_extension() -> None:
    # Nothing listens on port 9 (discard): the probe stops at its first request.
    result = probe_extensions(
        spec_document(), base_url="http://127.0.0.1:9", api_key=None, base_model="weaver-tiny",
        deadline=1.0,
    )  # fmt: skip
    assert result.note is not None
    evidence = result.to_json()["evidence"]
    assert set(evidence) == set(result.known)
    assert evidence["cursor-paging"] == f"not reached: {result.note}"
