"""The README's retry bounds against a server that goes away and comes back, over real sockets.

The README: the default retries are "enough for a dropped connection, not for a server that
restarts, whose refused connections then end a training step with `APIConnectionError`", and
"a script that trains for hours and should ride out a restart raises the bounds:
`ServiceClient(retry=RetryPolicy(RetrySettings(max_retries=20, max_retry_wait=300)))`".
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from weaver_facade import (
    APIConnectionError,
    ForwardBackwardResult,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    TrainingClient,
    datum_from_tokens,
)
from weaver_facade.emulator import run_emulator

KEY = "reliability-restart-key-7d3a90"
SLACK = 2.0  # two workers share two cores


class Gate:
    """A loopback port that relays each connection to a server while open, and refuses
    connections while closed, as the port of a server that restarts does."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.open()
        self.url = f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and drop those relayed."""
        assert self._listener is not None
        # Shut down first: a close alone leaves the port listening while accept() blocks on it.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def gate() -> Iterator[Gate]:
    with run_emulator(api_keys=(KEY,)) as emu:
        host, port = emu.base_url.removeprefix("http://").split(":")
        gate = Gate((host, int(port)))
        yield gate
        gate.close()


@dataclasses.dataclass
class Ended:
    """What a training step gave or raised, and when it ended."""

    outcome: object = None
    at: float = math.inf


def step_in_a_thread(trainer: TrainingClient) -> tuple[threading.Thread, Ended]:
    """A training step started in a thread, and how it ended."""
    ended = Ended()

    def step() -> None:
        try:
            ended.outcome = trainer.forward_backward([datum_from_tokens([1, 2, 3, 4])])
        except Exception as exc:
            ended.outcome = exc
        ended.at = time.monotonic()

    thread = threading.Thread(target=step, daemon=True)
    thread.start()
    return thread, ended


def test_the_readme_bounds_ride_out_a_restart_that_the_default_ones_do_not(gate: Gate) -> None:
    patient = RetryPolicy(RetrySettings(max_retries=20, max_retry_wait=300))  # the README's
    defaults = RetrySettings()
    caps = [min(defaults.max_backoff, defaults.initial_backoff * 2**a) for a in range(4)]
    with (
        ServiceClient(gate.url, KEY, heartbeat_interval=0) as default_client,
        ServiceClient(gate.url, KEY, heartbeat_interval=0, retry=patient) as patient_client,
    ):
        default_trainer = default_client.create_training_client("weaver-tiny")
        patient_trainer = patient_client.create_training_client("weaver-tiny")
        gate.close()  # the server goes away: its port refuses connections
        down = time.monotonic()
        default_thread, default_ended = step_in_a_thread(default_trainer)
        patient_thread, patient_ended = step_in_a_thread(patient_trainer)
        default_thread.join(timeout=sum(caps) + SLACK + 10)
        assert not default_thread.is_alive()
        # The default retries gave up while the server was still away.
        assert isinstance(default_ended.outcome, APIConnectionError)
        assert "connection refused" in str(default_ended.outcome).lower()
        assert default_ended.at - down < sum(caps) + SLACK  # README: 7.5 s in all
        assert patient_thread.is_alive()  # still retrying
        gate.open()  # the server is back, on the same port
        up = time.monotonic()
        patient_thread.join(timeout=patient.settings.max_backoff + SLACK + 10)
        assert not patient_thread.is_alive()
        assert isinstance(patient_ended.outcome, ForwardBackwardResult), patient_ended
        # Within a retry's longest sleep of the server's return.
        assert patient_ended.at - up < patient.settings.max_backoff + SLACK
