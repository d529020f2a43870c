"""Modules imported on first use, to keep ``import weaver_facade`` fast.

``weaver_client.models`` defines some sixty attrs classes (about a third of
the facade's import time) and asyncio is only needed by the async clients.
Neither is needed before the first request: a script that imports the facade
and then fails on a bad argument, or a tool that only reads ``--help``,
never pays for them. ``benchmarks/b4_import.py`` measures the effect. An async
client's first request imports them in a thread of its own (``loaded_off_loop``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import sys
import threading
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ._extras import check_extra

# The modules of the kept ``LazyModule``s, which ``load_deferred`` imports.
_deferred: list[str] = []
_loaded = False
_T = TypeVar("_T")


class LazyModule(types.ModuleType):
    """Stands for module ``name`` and imports it at the first attribute access.

    The import system's own per-module lock makes a first access from two
    threads at once import the module once. Each attribute found is kept on
    this object, so later accesses cost an ordinary attribute lookup; unless
    ``keep=False``: each access then reads the module's attribute as it is now,
    as ``import asyncio`` in the function did, so that a test that patches
    ``asyncio.sleep`` (``monkeypatch``) is seen, and not kept once undone.
    """

    def __init__(self, name: str, *, keep: bool = True) -> None:
        super().__init__(name)
        self._keep = keep
        if keep:
            _deferred.append(name)

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self.__name__), attr)
        if self._keep:
            setattr(self, attr, value)
        return value


if TYPE_CHECKING:
    import asyncio as asyncio

    import weaver_client.models

    wire = weaver_client.models
else:
    asyncio = LazyModule("asyncio", keep=False)
    wire = LazyModule("weaver_client.models")


def lazy_attributes(package: str, where: Mapping[str, str], extra: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing each name of ``where`` from its submodule on first use.

    Lets ``python -m PACKAGE`` check its optional dependencies before the
    package's heavy submodules are imported (the package is imported first). A
    submodule that cannot be imported for want of ``extra`` names it.
    """

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            module = importlib.import_module(where[name], package)
        except ModuleNotFoundError:
            check_extra(extra, package)
            raise
        value = getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


def load_deferred() -> None:
    """Import the modules of every kept ``LazyModule``, and those that httpcore's async
    connection pool imports at its first connection: anyio's sockets, locks and asyncio
    backend, each imported by anyio on first use."""
    global _loaded
    for name in tuple(_deferred):
        importlib.import_module(name)
    import anyio  # a dependency of httpx's

    _ = anyio.connect_tcp, anyio.Lock
    importlib.import_module("anyio._backends._asyncio")  # as anyio names it
    _loaded = True


async def loaded_off_loop() -> None:
    """``load_deferred`` in a thread of its own (``in_own_thread``), once: an import on
    the event loop's thread holds every other task of the program (a server's handlers, a
    heartbeat) for its whole length, tenths of a second for the generated models. An
    import left to finish by a cancelled caller is waited for by another thread's import
    of the same module (the import system's module locks)."""
    if not _loaded:
        await in_own_thread(load_deferred, "weaver-imports")


async def in_own_thread(work: Callable[[], _T], name: str, *, callers_context: bool = True) -> _T:
    """``work()``'s result, run in a new thread named ``name``: not in the loop's default
    executor, which the program's own blocking jobs may all hold, or may have shut down. A
    caller cancelled meanwhile leaves ``work`` to finish in its thread. It runs in a copy of
    the caller's context (for the log records it may make), unless ``callers_context`` is
    false: an event loop run there would give its tasks the caller's context variables."""
    loop = asyncio.get_running_loop()
    if callers_context:
        work = functools.partial(contextvars.copy_context().run, work)
    done: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, error: BaseException | None) -> None:
        if done.done():  # its caller was cancelled
            return
        if error is None:
            done.set_result(cast(_T, result))
        else:
            done.set_exception(error)

    def run() -> None:
        result: _T | None = None
        error: BaseException | None = None
        try:
            result = work()
        except BaseException as exc:  # its caller's to see
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=name).start()
    return await done


async def asyncio_sleep(seconds: float) -> None:
    """``asyncio.sleep``, importing asyncio only when an async client first waits."""
    await asyncio.sleep(seconds)
