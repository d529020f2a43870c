"""Host names under ``.test`` (RFC 6761: never a real name) with the addresses a test gives
them, or none: a lookup that no DNS server answers.

The resolver takes no timeout of its caller's: a lookup that its DNS server does not
answer waits out the resolver's own (5 s a try by default, tried again), which a test
cannot set up without root. Here ``socket.getaddrinfo`` of such a name waits until the
test ends (``HELD`` seconds at most), then fails as that lookup does. Every other name and
address is looked up as usual, and every connection is real.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from weaver_facade._socket_deadline import _FLIGHTS

HELD = 10.0


class Lookups:
    """``asked`` is set once a name never answered is looked up; ``ended``, once such
    lookups end (failing): at the test's end, or sooner (an async test's lookups run in
    its loop's default executor, which ``asyncio.run()`` waits for)."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.ended = threading.Event()


@contextlib.contextmanager
def names(
    monkeypatch: pytest.MonkeyPatch, given: Mapping[str, Sequence[str] | None]
) -> Iterator[Lookups]:
    """``given`` maps each name to its IPv4 addresses, in order, or to ``None``: never
    answered."""
    lookups = Lookups()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host  # anyio's is encoded
        flags = args[3] if len(args) > 3 else kwargs.get("flags", 0)
        if name not in given or flags & socket.AI_NUMERICHOST:  # an address alone: no lookup
            return real(host, port, *args, **kwargs)
        addresses = given[name]
        if addresses is None:
            lookups.asked.set()
            lookups.ended.wait(HELD)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port)))
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        yield lookups
    finally:
        lookups.ended.set()
        # A lookup under way is shared by the connects to its name: one the next test made
        # at once would join this test's, and fail as it ends.
        held = time.monotonic() + HELD
        while any(host in given for host, _ in tuple(_FLIGHTS)) and time.monotonic() < held:
            time.sleep(0.005)
