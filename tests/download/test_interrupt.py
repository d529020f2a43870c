"""A Ctrl-C stops a sync download at once, also while it waits for fresh URLs from the
API: SIGINT reaches the main thread, as a terminal's would."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.download.storage import BIG, STORED, StorageServer, descriptor
from tests.support.fakeserver import KEY
from tests.support.held_creates import ctrl_c, default_sigint
from tests.support.scripted_http import HANG, Reply, ScriptedServer
from weaver_facade import ServiceClient


def test_a_ctrl_c_while_urls_are_refreshed_stops_the_download_at_once(tmp_path: Path) -> None:
    # A 403 sends a file's thread for a fresh descriptor; the Ctrl-C waited for the API's
    # answer (its read timeout, 60 s) before the download ended, every other transfer
    # already stopped.
    artifact_id = uuid.uuid4()
    with StorageServer(STORED).running() as storage:
        storage.script(BIG, "stall:200000")
        storage.script("tokenizer.bin", "403")
        asked = threading.Event()
        first = descriptor(storage, artifact_id, STORED).json()

        def answer(method: str, path: str) -> Reply | str:
            if asked.is_set() or not path.endswith("/download"):
                return HANG
            asked.set()  # the next GET is the refresh: held until the server stops
            return 200, first, {}

        out = tmp_path / "out"
        part = out / f"{BIG}.part"
        with ScriptedServer(answer) as api, default_sigint():
            sent: list[float] = []
            ready = threading.Event()
            interrupted = threading.Event()

            def interrupt() -> None:
                # Once the refresh is on its way and BIG's first bytes are on disk.
                for _ in range(500):
                    if len(api.requests) >= 2 and part.exists() and part.stat().st_size:
                        ready.set()
                        break
                    time.sleep(0.01)
                sent.append(time.monotonic())
                ctrl_c()
                # Bounded either way: a download still waiting for the API fails the test
                # once the API stops (then its refresh ends) rather than when it answers.
                if not interrupted.wait(5):
                    api.stop()

            svc = ServiceClient(api.base_url, KEY, heartbeat_interval=0)
            thread = threading.Thread(target=interrupt, daemon=True)
            thread.start()
            with pytest.raises(KeyboardInterrupt) as info:
                svc.download_weights(artifact_id, out)
            assert ready.is_set(), "no refresh on its way, or no byte of BIG, in 5 s"
            seconds = time.monotonic() - sent[0]
            interrupted.set()
            thread.join()
            svc.close()
    assert seconds < 2.0
    assert part.stat().st_size > 0  # kept for a resume
    # Said, as the command line says it: the Ctrl-C ended with no word of what stays.
    assert info.value.__notes__ == [
        f"the download stopped; its finished files and partial ones (*.part) stay in {out}: "
        "run it again to resume"
    ]
    assert not (out / BIG).exists()
    assert not [t for t in threading.enumerate() if t.name.startswith("weaver-download")]
