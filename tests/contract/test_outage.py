"""A server that stops responding mid-run: its finding names the requests it saw last."""

from __future__ import annotations

from schemathesis.engine.outage import _render_outage

from tests.contract.support import KEY
from weaver_facade.contract._conformance import _head_and_listed
from weaver_facade.contract._findings import API_KEY_HEADER, redact_curl


class _Sent:
    """What schemathesis' outage report reads of a request it sent."""

    def __init__(self, command: str) -> None:
        self.command = command

    def as_curl_command(self) -> str:
        return self.command


def test_the_requests_sent_last_before_an_outage_are_its_reproduction() -> None:
    # The finding read "... Last requests before it went away:" and ended there: only the
    # first line of schemathesis' message was kept, and the requests it lists were lost.
    commands = [
        f"curl -X GET -H '{API_KEY_HEADER}: {KEY}' http://127.0.0.1:9/api/v1/models/m-1",
        f"curl -X POST -H '{API_KEY_HEADER}: {KEY}' -d '{{}}' http://127.0.0.1:9/api/v1/sessions",
    ]
    message = _render_outage("http://127.0.0.1:9", [_Sent(c) for c in commands])  # type: ignore[misc]
    head, listed = _head_and_listed(message)
    assert head.startswith("http://127.0.0.1:9 stopped responding. Last requests before ")
    assert head.endswith("went away (the reproduction sends them again)"), head
    assert listed.splitlines() == commands
    shown = redact_curl(listed, KEY)
    assert KEY not in shown
    assert shown.count("$WEAVER_API_KEY") == 2


def test_a_message_that_lists_nothing_keeps_its_first_line() -> None:
    assert _head_and_listed("Connection refused\n\nMore detail:\n  x") == ("Connection refused", "")
    assert _head_and_listed("went away:") == ("went away:", "")
