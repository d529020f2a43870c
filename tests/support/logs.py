"""Waiting, from another thread, for a record the facade logs."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator


class Said(logging.Handler):
    """Sets ``said`` once a record's message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.said = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.prefix):
            self.said.set()


@contextlib.contextmanager
def logged(prefix: str) -> Iterator[threading.Event]:
    """An event set once the ``weaver_facade`` logger logs a record starting with
    ``prefix``, within the block."""
    handler = Said(prefix)
    logger = logging.getLogger("weaver_facade")
    logger.addHandler(handler)
    try:
        yield handler.said
    finally:
        logger.removeHandler(handler)
