"""A loopback port that nothing listens on."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port of 127.0.0.1 the system gave out a moment ago and nobody holds: a connection
    to it is refused, and a server started on it takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
