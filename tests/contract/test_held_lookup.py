"""A name lookup that no DNS server answers holds the conformance part no longer than its
limits.

schemathesis sends with requests, whose connects look the server's name up with no time
bound, and the kit's end of each request shuts its sockets: a request waiting for its
lookup has none. With a name that stopped answering, `--time-limit 3` ran for as long as
the resolver waited (30 s here), and so did a first Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from tests.contract.support import KEY, ROOT, quick
from tests.support.emulator import serve_in_thread
from tests.support.name_lookups import names
from tests.support.signals import ctrl_c, with_sigint
from weaver_facade.contract import ServerUnreachable, _conformance, run_contract_test
from weaver_facade.emulator import EmulatorConfig, create_app

NAME = "weaver.test"  # RFC 6761: never a real name
HELD = 30.0  # a resolver's wait: longer than any limit below


class Held:
    """The lookups of ``NAME`` held: ``asked`` once one was; ``answered`` lets them answer."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.answered = threading.Event()


@contextlib.contextmanager
def held_lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[Held]:
    """``NAME`` is 127.0.0.1 to the kit's own lookups, which it bounds (its ``weaver-lookup``
    threads), and to schemathesis' two opening probes, sent from the main thread past the
    kit (the README: their lookups are unbounded); any other lookup of it, schemathesis'
    cases', waits until ``answered`` (at the test's end) and answers late, or fails as such
    a lookup does after ``HELD`` s."""
    held = Held()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        flags = args[3] if len(args) > 3 else kwargs.get("flags", 0)
        if host != NAME or flags & socket.AI_NUMERICHOST:
            return real(host, port, *args, **kwargs)
        if threading.current_thread().name not in ("weaver-lookup", "MainThread"):
            held.asked.set()
            if not held.answered.wait(HELD):
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        yield held
    finally:
        held.answered.set()


@dataclass(frozen=True)
class Served:
    base_url: str
    #: The paths of the requests the server got.
    paths: list[str]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    app = create_app(EmulatorConfig(data_dir=tmp_path, api_keys=(KEY,)))
    paths: list[str] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            paths.append(scope["path"])
        await app(scope, receive, send)

    with serve_in_thread(recording, app, name="emulator-of-a-name") as url:
        yield Served(url.replace("127.0.0.1", NAME), paths)


@pytest.mark.timeout(120)
def test_a_held_lookup_ends_at_the_time_limit_and_sends_nothing_later(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 3.0
    with held_lookups(monkeypatch) as held:
        started = time.monotonic()
        report = run_contract_test(quick(served.base_url, parts=("conformance",), time_limit=limit))
        took = time.monotonic() - started
        assert held.asked.is_set(), "no lookup was held"
        got = len(served.paths)
        held.answered.set()  # the lookups left to end by themselves answer late
        for thread in threading.enumerate():
            if thread.name == "weaver-contract-send":
                thread.join(10)
        time.sleep(0.5)  # the server's reading of a request sent then
    # The requests left waiting for their lookups were not sent when these answered.
    assert served.paths[got:] == []
    assert report.conformance is not None
    assert report.conformance.cut_short
    # The part's 3 s and schemathesis' start on a busy machine; the lookup alone held 30 s.
    assert report.conformance.seconds < limit + 5, report.conformance.seconds
    assert took < HELD, f"the run took {took:.0f} s"
    # Cut by the part's end, not the server's failing: a note, no finding.
    said = "a request was not yet connected when the part stopped: not checked"
    assert any(note.endswith(said) for note in report.notes), report.notes
    assert report.findings == [], [f.line() for f in report.findings]


@pytest.mark.timeout(120)
def test_a_lookup_slower_than_the_request_limit_is_a_timeout(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit of 30 s, shortened so that the run is short; the part's limit is beyond it.
    monkeypatch.setattr(_conformance, "REQUEST_LIMIT", 1.0)
    with held_lookups(monkeypatch) as held:
        report = run_contract_test(quick(served.base_url, parts=("conformance",), time_limit=6.0))
        assert held.asked.is_set(), "no lookup was held"
    assert report.conformance is not None
    assert report.conformance.seconds < 6.0 + 5, report.conformance.seconds
    found = [f for f in report.findings if f.check == "run_error"]
    assert found != [], [f.line() for f in report.findings]
    assert "no whole reply within 1 s (it was not yet connected)" in found[0].message, found


# The kit's command, ``NAME`` held as ``held_lookups`` holds it (``HELD`` s), and "held" on
# stderr once a lookup is.
_HELD_KIT = f"""
import socket, sys, threading, time
real = socket.getaddrinfo
def getaddrinfo(host, port, *args, **kwargs):
    flags = args[3] if len(args) > 3 else kwargs.get("flags", 0)
    if host != {NAME!r} or flags & socket.AI_NUMERICHOST:
        return real(host, port, *args, **kwargs)
    if threading.current_thread().name not in ("weaver-lookup", "MainThread"):
        print("held", file=sys.stderr, flush=True)
        time.sleep({HELD})
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", port))]
socket.getaddrinfo = getaddrinfo
from weaver_facade.contract._cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.timeout(120)
def test_a_first_interrupt_ends_a_held_lookup(served: Served) -> None:
    args = ["--base-url", served.base_url, "--only", "conformance", "--quick"]
    with subprocess.Popen(
        with_sigint("SIG_DFL", [sys.executable, "-c", _HELD_KIT, *args]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WEAVER_API_KEY": KEY},
        cwd=ROOT,
    ) as run:
        assert run.stderr is not None
        for line in run.stderr:
            if line.strip() == "held":
                break
        else:
            pytest.fail("no lookup was held")
        stdout, stderr, took = ctrl_c(run, timeout=60)
    assert run.returncode == 130, stdout + stderr
    assert took < HELD / 2, f"the kit took {took:.0f} s to end after a Ctrl-C"


def test_a_name_never_answered_stops_the_run_at_its_first_request_within_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The kit's own requests bound their lookups: the first, the base models' listing, ends
    # the run before schemathesis' probes, whose lookups the kit cannot bound.
    url = f"http://{NAME}:9"
    with names(monkeypatch, {NAME: None}) as lookups:
        started = time.monotonic()
        with pytest.raises(ServerUnreachable) as raised:
            run_contract_test(quick(url, deadline=1.0))
        took = time.monotonic() - started
        assert lookups.asked.is_set(), "the name was not looked up"
    assert str(raised.value) == (
        f"cannot reach {url}: ConnectTimeout: no address of {NAME} found in time"
    ), raised.value
    assert took < 4.0, took  # the deadline and a margin for a busy machine
