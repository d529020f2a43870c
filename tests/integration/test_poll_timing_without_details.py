"""Poll timing against a server whose operations name neither kind nor model.

Without long-poll the facade times its polls from how long this client's recent
operations of the same model and kind took. The real service's Operation has no
``kind`` and no ``model_id`` (the ``operation-details`` extension), so those came
from nowhere: every operation shared one history, and one slow operation made every
later one, of any kind, wait about as long.
"""

from __future__ import annotations

import time

from tests.support.integration import BASE_MODEL, batch
from weaver_facade import ServiceClient
from weaver_facade.emulator import run_emulator

SLOW = 1.0  # a forward-backward pass
FAST = 0.1  # an optimizer step


def test_a_slow_kind_does_not_slow_a_fast_one() -> None:
    latency = {"forward_backward": SLOW, "optim_step": FAST}
    with (
        run_emulator(extensions="none", latency=latency) as emu,
        ServiceClient(emu.base_url, api_key=emu.api_key) as service,
    ):
        trainer = service.create_training_client(BASE_MODEL, seed=1)
        optim: list[float] = []
        for _ in range(5):
            handle = trainer.forward_backward(batch(), wait=False)
            assert handle.kind == "forward_backward"  # from the request: the server is silent
            assert handle.model_id == trainer.model_id
            handle.result()
            started = time.monotonic()
            trainer.optim_step()
            optim.append(time.monotonic() - started)
    # Before: [1.02, 1.01, ...], each step waiting as long as a forward-backward pass.
    assert max(optim[1:]) < SLOW / 2, optim
