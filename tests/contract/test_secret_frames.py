"""A run from Python that ends in one of the kit's errors leaves neither the key nor the
base URL's password in what a test runner prints of its traceback."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import pytest

from tests.support.ports import free_port
from weaver_facade.contract import ContractSettings, ServerUnreachable, run_contract_test
from weaver_facade.emulator import run_emulator

KEY = "sk-kit-frames-5d1e8a3c7f2b9046"
PASSWORD = "pw-kit-frames-81c4e7"
BASIC = base64.b64encode(f"weaver:{PASSWORD}".encode()).decode()

USER_TESTS = """
    import os
    from pathlib import Path

    from weaver_facade.contract import ContractSettings, run_contract_test

    def settings(url, **more):
        return ContractSettings(base_url=url, api_key=os.environ["KIT_KEY"], deadline=5, **more)

    def test_no_server():
        run_contract_test(settings(os.environ["KIT_NO_SERVER"]))

    def test_unknown_base_model():
        run_contract_test(settings(os.environ["KIT_SERVER"], base_model="no-such-model"))

    def test_no_spec():
        run_contract_test(settings(os.environ["KIT_SERVER"], spec_file=Path("no-such.yaml")))

    def test_refused_url():  # by the facade's client, whose frames held it and the key
        run_contract_test(settings(os.environ["KIT_SERVER"] + ":no-port"))
"""
# A Ctrl-C in the lifecycle: pytest stops the run, and --full-trace shows its traceback.
INTERRUPTED_TEST = """
    import os

    from weaver_facade.contract import ContractSettings, run_contract_test

    def interrupt(message):
        if message.startswith("lifecycle"):
            raise KeyboardInterrupt

    def test_interrupted():
        settings = ContractSettings(
            base_url=os.environ["KIT_SERVER"], api_key=os.environ["KIT_KEY"], parts=("lifecycle",)
        )
        run_contract_test(settings, interrupt)
"""


def pytest_run(tests: str, folder: Path, options: list[str]) -> str:
    """What pytest prints of ``tests`` run with ``options`` against an emulator, given the
    key and a base URL with a password in ``KIT_*`` variables."""
    (folder / "test_kit.py").write_text(textwrap.dedent(tests))
    with run_emulator(api_keys=(KEY,)) as emu:
        env = {
            **os.environ,
            "KIT_KEY": KEY,
            "KIT_SERVER": emu.base_url.replace("://", f"://weaver:{PASSWORD}@"),
            "KIT_NO_SERVER": f"http://weaver:{PASSWORD}@127.0.0.1:{free_port()}",
        }
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return run.stdout + run.stderr


@pytest.mark.parametrize("options", [[], ["-l", "--tb=long"]], ids=["default", "locals"])
def test_the_kits_errors_show_no_secret_in_a_pytest_traceback(
    tmp_path: Path, options: list[str]
) -> None:
    # pytest shows the arguments of the frame that raised, and with -l every frame's
    # locals: the kit's, behind run_contract_test, held the key and the URL as given
    # (`api_key = 'sk-...'`, `base_url = 'http://weaver:pw-...@...'`).
    shown = pytest_run(USER_TESTS, tmp_path, options)
    assert "4 failed" in shown, shown
    for error in ("ServerUnreachable", "UnknownBaseModel", "UnusableSpec", "InvalidArgumentError"):
        assert error in shown, shown
    assert "settings = ContractSettings(base_url='http://***@" in shown  # the frames are there
    for secret in (KEY, PASSWORD, BASIC):
        assert secret not in shown


def test_a_ctrl_c_in_the_run_shows_no_secret_in_a_full_pytest_traceback(tmp_path: Path) -> None:
    # The lifecycle's frames held them too, which --full-trace shows of a Ctrl-C.
    shown = pytest_run(INTERRUPTED_TEST, tmp_path, ["-l", "--full-trace"])
    assert "KeyboardInterrupt" in shown, shown
    assert "settings = ContractSettings(base_url='http://***@" in shown
    for secret in (KEY, PASSWORD, BASIC):
        assert secret not in shown


def test_an_error_its_caller_was_handling_keeps_its_frames() -> None:
    # Raised while the caller handled an error of its own (in an `except` or `finally`
    # block), the kit's error has that one behind it: its traceback, the caller's frames
    # where its own bug was, went with the kit's.
    def callers_bug() -> None:
        raise LookupError("the caller's own")

    try:
        callers_bug()
    except LookupError as handled:
        mine: BaseException = handled
        before = traceback.format_tb(mine.__traceback__)
        with pytest.raises(ServerUnreachable) as raised:
            run_contract_test(ContractSettings(base_url=f"http://127.0.0.1:{free_port()}"))
    kits: list[BaseException] = []
    behind = raised.value.__cause__ or raised.value.__context__
    while behind is not None and behind is not mine:
        kits.append(behind)
        behind = behind.__cause__ or behind.__context__
    assert behind is mine
    assert "callers_bug" in "".join(before)
    assert traceback.format_tb(mine.__traceback__) == before
    assert kits  # the kit's own, behind its error, still without their frames
    assert all(each.__traceback__ is None for each in kits)
