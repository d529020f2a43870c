"""``_lazy``: modules imported on first use, read as they are now where that matters."""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import threading

import pytest

from weaver_facade import _lazy


def test_a_patched_asyncio_sleep_is_seen_and_not_kept_once_undone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The async retries and polls sleep with ``_lazy.asyncio_sleep`` by default; a test
    # of the user's that patches ``asyncio.sleep`` (to run without time) must reach it,
    # and its fake must not stay behind for the tests after it.
    real = asyncio.sleep
    faked: list[float] = []

    async def fake(seconds: float) -> None:
        faked.append(seconds)
        await real(0)

    async def wait(seconds: float) -> None:
        await _lazy.asyncio_sleep(seconds)

    with monkeypatch.context() as patched:
        patched.setattr(asyncio, "sleep", fake)
        asyncio.run(wait(30))
    assert faked == [30]
    asyncio.run(wait(0.01))
    assert faked == [30]  # the real sleep, once the patch is undone
    assert _lazy.asyncio.sleep is real


def test_a_kept_module_attribute_is_looked_up_once() -> None:
    lazy = _lazy.LazyModule("json")
    assert "dumps" not in vars(lazy)
    assert lazy.dumps([1]) == "[1]"
    assert "dumps" in vars(lazy)


@pytest.mark.parametrize(
    ("package", "name", "extra", "blocked"),
    [
        ("weaver_facade.emulator", "run_emulator", "emulator", "uvicorn"),
        ("weaver_facade.contract", "run_contract_test", "contract", "jsonschema"),
    ],
)
def test_a_name_of_a_package_whose_extra_is_missing_names_the_extra(
    package: str, name: str, extra: str, blocked: str
) -> None:
    # The commands say so in one line; an import from a script said only "No module named".
    script = (
        f"import sys\nsys.modules[{blocked!r}] = None  # as if the extra were not installed\n"
        f"try:\n    from {package} import {name}\n"
        "except ModuleNotFoundError as exc:\n    print(exc.name, exc, sep='|')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == (
        f"{blocked}|{package} needs the '{extra}' extra: "
        f"pip install 'weaver-facade[{extra}]' (cannot import {blocked})\n"
    ), done.stderr


def test_the_contract_test_without_its_extra_names_it_before_any_request() -> None:
    # The kit imports schemathesis only once its conformance part runs, after the probe's
    # models were made.
    script = (
        "import sys\nsys.modules['schemathesis'] = None\n"
        "from weaver_facade.contract import ContractSettings, run_contract_test\n"
        "try:\n    run_contract_test(ContractSettings(base_url='http://127.0.0.1:9'))\n"
        "except ModuleNotFoundError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == (
        "run_contract_test needs the 'contract' extra: "
        "pip install 'weaver-facade[contract]' (cannot import schemathesis)\n"
    ), done.stderr


def _loads_off_loop(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``load_deferred`` replaced by one that notes its thread's ident, and not yet run."""
    threads: list[int] = []

    def load() -> None:
        threads.append(threading.get_ident())
        monkeypatch.setattr(_lazy, "_loaded", True)

    monkeypatch.setattr(_lazy, "_loaded", False)
    monkeypatch.setattr(_lazy, "load_deferred", load)
    return threads


async def test_a_first_call_loads_while_the_default_executor_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A program's own blocking jobs may hold every worker of the loop's default executor
    # (a queue's consumer, say): the facade's first call must not wait for them.
    threads = _loads_off_loop(monkeypatch)
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as busy:
        loop.set_default_executor(busy)
        gate = threading.Event()
        job = loop.run_in_executor(None, gate.wait)
        try:
            await asyncio.wait_for(_lazy.loaded_off_loop(), 30)  # only a failure waits
        finally:
            gate.set()
            await job
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_a_first_call_loads_once_the_default_executor_is_shut_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads = _loads_off_loop(monkeypatch)
    await asyncio.get_running_loop().shutdown_default_executor()
    await _lazy.loaded_off_loop()
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()


async def test_a_failed_load_is_raised_to_its_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    def load() -> None:
        raise ImportError("no module named 'weaver_client'")

    monkeypatch.setattr(_lazy, "_loaded", False)
    monkeypatch.setattr(_lazy, "load_deferred", load)
    with pytest.raises(ImportError, match="weaver_client"):
        await _lazy.loaded_off_loop()
