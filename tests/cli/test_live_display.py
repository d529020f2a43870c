"""The command line on a real terminal: log lines printed while a bar or spinner is live.

``weaver-facade`` runs in a subprocess whose stdout and stderr are a pseudo-terminal, as
in a shell; what it wrote is replayed on a small terminal model (enough of a VT100 for
rich) to see the lines a person is left with.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import API_KEY, STORAGE_503, Cli
from weaver_facade.emulator import RunningEmulator
from weaver_facade.emulator._config import FaultConfig, FaultRule

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")

_WIDTH = 160
_TOKENS = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\r|\n|.", re.DOTALL)


def on_a_terminal(args: list[str], emu: RunningEmulator) -> str:
    """What ``weaver-facade ARGS`` wrote to a terminal of ``_WIDTH`` columns."""
    import fcntl
    import struct
    import termios

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "WEAVER_LOG")}
    env.update(TERM="xterm", WEAVER_BASE_URL=emu.base_url, WEAVER_API_KEY=API_KEY)
    main, tty = os.openpty()
    fcntl.ioctl(tty, termios.TIOCSWINSZ, struct.pack("HHHH", 40, _WIDTH, 0, 0))
    with subprocess.Popen(
        [sys.executable, "-m", "weaver_facade", *args],
        stdin=tty, stdout=tty, stderr=tty, env=env, start_new_session=True,
    ) as child:  # fmt: skip
        os.close(tty)
        out = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not select.select([main], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child and its terminal are gone
                break
            if not chunk:
                break
            out += chunk
        os.close(main)
        assert child.wait(10) == 0, out
    return out.decode()


def screen(raw: str) -> list[str]:
    """The lines a terminal shows after ``raw``: carriage return, new line, autowrap,
    erase line and cursor up; colours and the cursor's visibility change nothing."""
    rows: list[list[str]] = [[]]
    row = col = 0
    for token in _TOKENS.finditer(raw):
        text, params, final = token.group(), token.group(1), token.group(2)
        if final is not None:
            if final == "K" and params == "2":
                rows[row] = []
            elif final == "A":
                row = max(0, row - int(params or 1))
            elif final not in "mhl":
                raise AssertionError(f"a control sequence this model lacks: {text!r}")
            continue
        if text == "\r":
            col = 0
            continue
        if text == "\n" or col == _WIDTH:
            row, col = row + 1, 0
            rows.extend([] for _ in range(row + 1 - len(rows)))
            if text == "\n":
                continue
        line = rows[row]
        line.extend(" " * (col + 1 - len(line)))
        line[col] = text
        col += 1
    return ["".join(line).rstrip() for line in rows]


def each_on_its_own_line(raw: str, start: str, whole: str) -> list[str]:
    """The log lines beginning with ``start``, each checked to be alone on a line of the
    screen, whole (``whole``), and there once per time written."""
    logged = [line for line in screen(raw) if start in line]
    for line in logged:
        assert re.fullmatch(whole, line), f"not a line of its own: {line!r}"
    assert len(logged) == raw.count(start)
    return logged


@pytest.mark.parametrize("emulator_config", [{"faults": FaultConfig(rules=(STORAGE_503,), seed=1)}])
def test_a_retry_logged_during_a_download_is_a_line_above_the_bar(
    cli: Cli, emu: RunningEmulator, model_id: str, tmp_path: Path
) -> None:
    # Each retry's line was written after the bar's text, on its line: `-:--:--storage
    # GET config.json of artifact ...`, both garbled.
    assert cli("checkpoints", "save", model_id, "c1", "-q").exit_code == 0
    ref = f"weaver://{model_id}/checkpoints/c1"
    assert cli("checkpoints", "export", ref, "-q").exit_code == 0
    args = ["checkpoints", "download", ref, "-o", str(tmp_path / "out"), "--max-concurrency", "1"]
    raw = on_a_terminal(args, emu)
    assert raw.index("downloading ") < raw.rindex("storage GET")  # one while the bar was up
    whole = r"storage GET \S+ of artifact \S+: HTTP 503; retrying in [0-9.]+ s \(retry \d+\)"
    assert each_on_its_own_line(raw, "storage GET", whole)
    assert any(line.startswith("2/2 files ") for line in screen(raw))  # the bar, whole too


_POLL_503 = FaultRule(
    kind="unavailable",
    rate=0.5,
    method="GET",
    route="/api/v1/operations/{operation_id}",
    retry_after=0,
)


@pytest.mark.parametrize(
    "emulator_config",
    [{"latency": {"save_checkpoint": 1.5}, "faults": FaultConfig(rules=(_POLL_503,), seed=1)}],
)
def test_a_retry_logged_during_a_wait_is_a_line_above_the_spinner(
    emu: RunningEmulator, model_id: str
) -> None:
    raw = on_a_terminal(["checkpoints", "save", model_id, "c1"], emu)
    assert raw.index("operation op-") < raw.rindex("poll of operation")  # the spinner was up
    whole = r"poll of operation op-\S+: HTTP 503 \(unavailable\); retrying in [0-9.]+ s"
    assert each_on_its_own_line(raw, "poll of operation", whole)
    assert any(line.startswith("saved weaver://") for line in screen(raw))
