"""The body of ``scripts/demo``: the emulator in a subprocess, the example against it.

``scripts/demo [-- EMULATOR_ARGS...]``: arguments after ``--`` go to the
emulator command, for example ``-- --fault kind=unavailable,rate=0.3`` to
watch the retries absorb injected 503s, or ``-- --latency save_checkpoint=1``.
The emulator, its data and its log live in a temporary directory that is
removed on every exit, Ctrl-C included.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "resume_training.py"
READY = "weaver emulator listening on "
STARTUP_TIMEOUT = 60.0  # first start on a cold machine compiles numpy's caches
STOP_TIMEOUT = 10.0
USAGE = """\
usage: scripts/demo [-- EMULATOR_ARGS...]

Start the local emulator on a temporary data dir, run examples/resume_training.py
against it (train, save, resume and compare the losses; export and download the
adapter) and stop it. Exit status 0 when the resumed losses match the original ones.

Arguments after -- go to the emulator (see `weaver-facade emulator --help`), such as:
  scripts/demo -- --fault kind=unavailable,rate=0.3   the retries absorb injected 503s
  scripts/demo -- --latency save_checkpoint=2         slower saves
"""


def say(text: str, *, error: bool = False) -> None:
    print(f"demo: {text}", file=sys.stderr if error else sys.stdout, flush=True)


def wait_until_ready(proc: subprocess.Popen[bytes], log: Path) -> str:
    """The emulator's base URL, read from its ready line; bounded by STARTUP_TIMEOUT."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith(READY):
                return line[len(READY) :].strip()
        if proc.poll() is not None:
            raise RuntimeError(f"the emulator exited with status {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"the emulator did not start within {STARTUP_TIMEOUT:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)


def show_log_tail(log: Path, lines: int = 20) -> None:
    if log.exists():
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-lines:])
        say(f"the emulator's log ends with:\n{tail}", error=True)


def _terminated(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM, and SIGHUP from a closed terminal, into an exception so the cleanup
    # below runs, as for Ctrl-C.
    raise KeyboardInterrupt


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    emulator_args = argv[1:] if argv[:1] == ["--"] else argv
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminated)
    started = time.monotonic()
    # A fresh key per run, handed over in the environment: never on a command line or printed.
    key = f"demo-{secrets.token_hex(12)}"
    with tempfile.TemporaryDirectory(prefix="weaver-demo-") as tmp:
        log = Path(tmp) / "emulator.log"
        say(f"starting the emulator (state in {tmp}, removed on exit)")
        with log.open("wb") as log_file:
            command = [sys.executable, "-m", "weaver_facade.emulator", "--port", "0"]
            proc = subprocess.Popen(
                [*command, "--data-dir", f"{tmp}/data", *emulator_args],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "WEAVER_EMULATOR_API_KEYS": key},
                # Out of the terminal's reach: Ctrl-C stops the demo and the example, and the
                # demo stops the emulator after the example, which thus never meets a server
                # going away. A demo started with SIGINT ignored keeps its emulator too.
                process_group=0,
            )
        try:
            try:
                base_url = wait_until_ready(proc, log)
            except RuntimeError as exc:
                say(f"error: {exc}", error=True)
                show_log_tail(log)
                return 1
            say(f"emulator listening on {base_url}; running {EXAMPLE.relative_to(ROOT)}")
            env = {**os.environ, "WEAVER_BASE_URL": base_url, "WEAVER_API_KEY": key}
            status = subprocess.call([sys.executable, str(EXAMPLE)], env=env)
            if status != 0:
                show_log_tail(log)
        except KeyboardInterrupt:
            say("interrupted; stopping the emulator", error=True)
            return 130
        finally:
            stop(proc)
    elapsed = time.monotonic() - started
    if status != 0:
        say(f"FAILED: the example exited with status {status} ({elapsed:.1f} s)", error=True)
        return status
    say(f"OK in {elapsed:.1f} s: saved, resumed into a new model, losses matched exactly")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
