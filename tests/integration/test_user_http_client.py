"""A user's own httpx client whose response hooks read each body, as httpx's docs
show for logging: the facade still reads every reply (it used to wait for ever on a
socket whose body the hook had already taken)."""

from __future__ import annotations

import httpx

from tests.support.integration import BASE_MODEL, batch
from weaver_facade import AsyncServiceClient, ServiceClient
from weaver_facade.emulator import RunningEmulator

TIMEOUT = httpx.Timeout(10.0)  # a hang shows as a timeout, not as the suite's limit


def test_a_sync_response_hook_that_reads_the_body(emu: RunningEmulator) -> None:
    logged: list[tuple[str, int]] = []

    def log(response: httpx.Response) -> None:
        response.read()
        logged.append((response.request.url.path, len(response.content)))

    with (
        httpx.Client(event_hooks={"response": [log]}, timeout=TIMEOUT) as http,
        ServiceClient(emu.base_url, api_key=emu.api_key, http_client=http) as svc,
    ):
        trainer = svc.create_training_client(BASE_MODEL, seed=1)
        loss = trainer.forward_backward(batch()).loss
        saved = trainer.save_state("hooked")
        assert [c.path for c in trainer.list_checkpoints()] == [saved.path]
    assert loss > 0
    assert any(path.endswith("/checkpoints") and size > 0 for path, size in logged)


async def test_an_async_response_hook_that_reads_the_body(emu: RunningEmulator) -> None:
    logged: list[str] = []

    async def log(response: httpx.Response) -> None:
        await response.aread()
        logged.append(response.json().get("id", "") if response.content else "")

    async with (
        httpx.AsyncClient(event_hooks={"response": [log]}, timeout=TIMEOUT) as http,
        AsyncServiceClient(emu.base_url, api_key=emu.api_key, http_client=http) as svc,
    ):
        trainer = await svc.create_training_client(BASE_MODEL, seed=1)
        saved = await trainer.save_state("hooked")
        assert (await trainer.get_checkpoint(saved.path)).id == saved.id
    assert trainer.model_id in logged
