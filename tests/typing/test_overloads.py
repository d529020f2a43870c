"""The ``wait=`` overloads, checked twice.

Statically: ``mypy --strict`` (part of ``scripts/test``) checks every
``assert_type`` below, so a wrong overload fails the type check.
At run time: the same lines run against the unit tests' fake server, and
``isinstance`` checks that the value really is what the overload promises.
``test_mypy_rejects_a_wrong_type`` proves the ``assert_type``s are not inert.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import assert_type

from tests.support.fakeserver import FakeWeaver, async_service, service
from weaver_facade import (
    SERVER_DEFAULT,
    AsyncOperationHandle,
    AsyncTrainingClient,
    Checkpoint,
    ForwardBackwardResult,
    LoadResult,
    OperationHandle,
    OperationResult,
    OptimStepResult,
    TrainingClient,
    TtlSeconds,
    datum_from_tokens,
)

ROOT = Path(__file__).resolve().parents[2]


def _fake() -> FakeWeaver:
    fake = FakeWeaver()
    fake.done_at_once = True
    return fake


def _save(trainer: TrainingClient, name: str, ttl: TtlSeconds = SERVER_DEFAULT) -> Checkpoint:
    """A user's helper that passes ``ttl_seconds`` on, typed with public names only."""
    return trainer.save_state(name, ttl_seconds=ttl)


def test_sync_overloads() -> None:
    data = [datum_from_tokens([1, 2, 3, 4])]
    with service(_fake()) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        assert_type(trainer, TrainingClient)

        fb = trainer.forward_backward(data)
        assert_type(fb, ForwardBackwardResult)
        assert isinstance(fb, ForwardBackwardResult)
        fb_handle = trainer.forward_backward(data, wait=False)
        assert_type(fb_handle, OperationHandle[ForwardBackwardResult])
        assert isinstance(fb_handle, OperationHandle)
        fb_later = fb_handle.result()
        assert_type(fb_later, ForwardBackwardResult)
        assert isinstance(fb_later, ForwardBackwardResult)

        step = trainer.optim_step()
        assert_type(step, OptimStepResult)
        assert isinstance(step, OptimStepResult)
        step_handle = trainer.optim_step(wait=False)
        assert_type(step_handle, OperationHandle[OptimStepResult])
        assert isinstance(step_handle.result(), OptimStepResult)

        checkpoint = trainer.save_state("typed")
        assert_type(checkpoint, Checkpoint)
        assert isinstance(checkpoint, Checkpoint)
        save_handle = trainer.save_state("typed-later", wait=False)
        assert_type(save_handle, OperationHandle[Checkpoint])
        assert isinstance(save_handle.result(), Checkpoint)

        loaded = trainer.load_state(checkpoint)
        assert_type(loaded, LoadResult)
        assert isinstance(loaded, LoadResult)
        load_handle = trainer.load_state(str(checkpoint.path), wait=False)
        assert_type(load_handle, OperationHandle[LoadResult])
        assert isinstance(load_handle.result(), LoadResult)

        resumed = trainer.load_state_with_optimizer(checkpoint.path)
        assert_type(resumed, LoadResult)
        assert isinstance(resumed, LoadResult)
        resume_handle = trainer.load_state_with_optimizer(checkpoint, wait=False)
        assert_type(resume_handle, OperationHandle[LoadResult])
        assert isinstance(resume_handle.result(), LoadResult)

        # A plain bool cannot pick an overload: the union, not Any.
        flag = bool(len(data))
        either = trainer.save_state("typed-either", wait=flag)
        assert_type(either, Checkpoint | OperationHandle[Checkpoint])
        assert isinstance(either, Checkpoint)

        assert_type(trainer.list_checkpoints(), list[Checkpoint])
        assert _save(trainer, "typed-ttl", 3600).ttl_seconds == 3600

        # A handle gives its result out only, so handles of several kinds make one list.
        started: list[OperationHandle[OperationResult]] = [fb_handle, step_handle, save_handle]
        kinds = (ForwardBackwardResult, OptimStepResult, Checkpoint)
        assert [type(h.result()) for h in started] == list(kinds)

        again = svc.operation(save_handle.id)
        assert_type(again, OperationHandle[OperationResult])
        typed_again = svc.operation(save_handle.id, Checkpoint)
        assert_type(typed_again, OperationHandle[Checkpoint])
        assert isinstance(typed_again.result(), Checkpoint)


async def test_async_overloads() -> None:
    data = [datum_from_tokens([1, 2, 3, 4])]
    async with async_service(_fake()) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        assert_type(trainer, AsyncTrainingClient)

        fb = await trainer.forward_backward(data)
        assert_type(fb, ForwardBackwardResult)
        assert isinstance(fb, ForwardBackwardResult)
        fb_handle = await trainer.forward_backward(data, wait=False)
        assert_type(fb_handle, AsyncOperationHandle[ForwardBackwardResult])
        assert isinstance(fb_handle, AsyncOperationHandle)
        awaited = await fb_handle
        assert_type(awaited, ForwardBackwardResult)
        assert isinstance(awaited, ForwardBackwardResult)

        step_handle = await trainer.optim_step(wait=False)
        assert_type(step_handle, AsyncOperationHandle[OptimStepResult])
        assert isinstance(await step_handle.result(timeout=5), OptimStepResult)

        checkpoint = await trainer.save_state("typed")
        assert_type(checkpoint, Checkpoint)
        save_handle = await trainer.save_state("typed-later", wait=False)
        assert_type(save_handle, AsyncOperationHandle[Checkpoint])
        assert isinstance(await save_handle, Checkpoint)

        load_handle = await trainer.load_state(checkpoint, wait=False)
        assert_type(load_handle, AsyncOperationHandle[LoadResult])
        assert isinstance(await load_handle, LoadResult)
        resumed = await trainer.load_state_with_optimizer(checkpoint)
        assert_type(resumed, LoadResult)
        assert isinstance(resumed, LoadResult)

        typed_again = await svc.operation(save_handle.id, Checkpoint)
        assert_type(typed_again, AsyncOperationHandle[Checkpoint])
        assert isinstance(await typed_again, Checkpoint)


# mypy on a program string: a handle is not a Checkpoint, and a result is not a handle.
_WRONG = """
from typing import assert_type
from weaver_facade import Checkpoint, OperationHandle, ServiceClient

def f(service: ServiceClient) -> None:
    trainer = service.create_training_client("weaver-tiny")
    assert_type(trainer.save_state("x", wait=False), Checkpoint)
    assert_type(trainer.save_state("x"), OperationHandle[Checkpoint])
"""


def _mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "pyproject.toml", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_mypy_rejects_a_wrong_type() -> None:
    run = _mypy("-c", _WRONG)
    assert run.returncode == 1, run.stdout + run.stderr
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, run.stdout
    assert 'Expression is of type "OperationHandle[Checkpoint]", not "Checkpoint"' in errors[0]
    assert 'Expression is of type "Checkpoint", not "OperationHandle[Checkpoint]"' in errors[1]


def test_mypy_accepts_this_file() -> None:
    run = _mypy(str(Path(__file__).relative_to(ROOT)))
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_names_a_misspelt_import_of_a_lazy_package() -> None:
    # The packages' lazy ``__getattr__`` made every name importable, to a checker too.
    source = "from weaver_facade.emulator import run_emulatr\n"
    source += "from weaver_facade.contract import rnu\n"
    run = _mypy("-c", source)
    assert run.returncode == 1, run.stdout + run.stderr
    assert 'Module "weaver_facade.emulator" has no attribute "run_emulatr"' in run.stdout
    assert 'Module "weaver_facade.contract" has no attribute "rnu"' in run.stdout


def test_mypy_names_a_mistyped_option_of_with_options() -> None:
    # ``**unknown: Never`` (there for the run-time error's words) turned mypy's "Unexpected
    # keyword argument "timout"; did you mean "timeout"?" into 'incompatible type "int";
    # expected "Never"', and showed ``**unknown: Never`` in the method's signature.
    source = "from weaver_facade import ServiceClient, TrainingClient\n"
    source += "def f(s: ServiceClient, t: TrainingClient) -> None:\n"
    source += "    s.with_options(timout=3)\n    t.with_options(max_retry=1)\n"
    source += "    s.with_options(timeout=None, max_retries=2).with_options(timeout=1.5)\n"
    run = _mypy("-c", source)
    assert run.returncode == 1, run.stdout + run.stderr
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, run.stdout
    assert 'Unexpected keyword argument "timout"; did you mean "timeout"?' in errors[0]
    assert 'Unexpected keyword argument "max_retry"; did you mean "max_retries"?' in errors[1]
