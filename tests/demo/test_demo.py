"""The demo: ``scripts/demo`` end to end, Ctrl-C, and the example's own exits."""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # no stubs pinned
import pytest

from tests.support.ports import free_port
from tests.support.signals import with_sigint
from tests.support.wire_minimal import TrimmingTransport
from weaver_facade import (
    AdamParams,
    ArtifactFile,
    ArtifactKind,
    DownloadResult,
    ServiceClient,
)
from weaver_facade._wire import connection_error
from weaver_facade.emulator import RunningEmulator, run_emulator

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "demo"
EXAMPLE = ROOT / "examples" / "resume_training.py"
KEY = "demo-test-key-3f9a1c"
# scripts/demo makes a key like this; it must never be printed.
DEMO_KEY = re.compile(r"demo-[0-9a-f]{24}")


def demo_env() -> dict[str, str]:
    # Reuse the environment running these tests instead of bootstrapping .venv.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVER_")}
    return {**env, "WEAVER_VENV": sys.prefix, "NO_COLOR": "1"}


def state_dir(output: str) -> Path:
    found = re.search(r"state in (\S+), removed on exit", output)
    assert found, output
    return Path(found.group(1))


def test_scripts_demo_trains_saves_resumes_and_matches() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [str(DEMO)], env=demo_env(), capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert time.monotonic() - started < 20, "the demo should take seconds"
    lines = done.stdout.splitlines()
    assert any(line.startswith("demo: emulator listening on http://127.0.0.1:") for line in lines)
    assert re.search(r"saved weaver://m-\S+/checkpoints/step-3 \(weight_and_optimizer\)", output)
    assert re.search(r"saved weaver://m-\S+/checkpoints/step-6 \(weight\)", output)
    # The checkpoint table lists both, one resumable and one not.
    assert re.search(r"step-3 .*weight_and_optimizer .*completed .*yes", output)
    assert re.search(r"step-6 .*weight .*completed .*no", output)
    assert "at optimizer step 3" in output
    # The comparison table: three steps, each loss printed twice, identical.
    rows = re.findall(r"^\W*([4-6])\W+([\d.]+)\W+([\d.]+)\W+(yes|NO)\b", output, re.MULTILINE)
    assert [r[0] for r in rows] == ["4", "5", "6"], output
    assert all(original == resumed and ok == "yes" for _, original, resumed, ok in rows)
    assert "the resumed losses match the original continuation exactly" in output
    # It ends by exporting the saved adapter and downloading it, verified.
    assert re.search(r"exported weaver://m-\S+/checkpoints/step-3/artifacts/hf_adapter", output)
    assert re.search(r"downloaded 2 files \(\d+ bytes\), each verified against its sha256", output)
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        assert re.search(
            rf"^{re.escape(name)} \(\d+ bytes\)\n  sha256 [0-9a-f]{{64}}$", output, re.M
        )
    assert lines[-1].startswith("demo: OK in ")
    assert not DEMO_KEY.search(output)
    assert not state_dir(output).exists()


def test_scripts_demo_passes_emulator_arguments_and_fails_cleanly() -> None:
    done = subprocess.run(
        [str(DEMO), "--", "--no-such-option"],
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "demo: error: the emulator exited with status 2" in done.stderr
    assert "--no-such-option" in done.stderr  # the emulator's own complaint, from its log
    assert "Traceback" not in done.stdout + done.stderr
    assert not state_dir(done.stdout).exists()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_scripts_demo_help_says_how_to_use_it(flag: str) -> None:
    # What a newcomer types first: the demo's usage, not the emulator's options.
    done = subprocess.run(
        [str(DEMO), flag], env=demo_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("usage: scripts/demo [-- EMULATOR_ARGS...]\n")
    assert "scripts/demo -- --fault kind=unavailable,rate=0.3" in done.stdout
    assert "starting the emulator" not in done.stdout + done.stderr


def signal_while_the_example_runs(
    sig: signal.Signals, *, group: bool = True, sigint: str = "SIG_DFL", latency: str
) -> tuple[subprocess.Popen[str], str, str, list[psutil.Process]]:
    """Start the demo with SIGINT's disposition ``sigint``, and send ``sig`` to its process
    group (or to the demo alone) once the example runs. The demo, its output, and its
    children at that moment."""
    proc = subprocess.Popen(
        with_sigint(sigint, [str(DEMO), "--", "--latency", latency]),
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if "running examples/resume_training.py" in line or not line:
                break
        assert "running examples/resume_training.py" in seen[-1], seen
        time.sleep(0.5)
        children = psutil.Process(proc.pid).children(recursive=True)
        commands = [" ".join(c.cmdline()) for c in children]
        assert any("weaver_facade.emulator" in c for c in commands), commands
        assert any("resume_training.py" in c for c in commands), commands
        (os.killpg if group else os.kill)(proc.pid, sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, "".join(seen) + out, err, children


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGINT, True), (signal.SIGHUP, True), (signal.SIGTERM, False)],
    ids=["ctrl-c", "terminal-closed", "sigterm-to-the-demo"],
)
def test_an_interrupt_stops_the_emulator_and_the_example_and_removes_the_state(
    sig: signal.Signals, group: bool
) -> None:
    # Slow steps, so that the signal lands while the example runs.
    proc, out, err, children = signal_while_the_example_runs(
        sig, group=group, latency="forward_backward=0.5"
    )
    assert proc.returncode == 130, err
    assert "demo: interrupted; stopping the emulator" in err
    # The emulator stops after the example: no request of the example meets a closed port.
    assert "retrying" not in err, err
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive
    assert not state_dir(out).exists()


def test_a_demo_started_with_sigint_ignored_runs_to_the_end_through_ctrl_c() -> None:
    # As the demo and the example ignore it, so does the emulator: the run is not cut short.
    proc, out, err, _ = signal_while_the_example_runs(
        signal.SIGINT, sigint="SIG_IGN", latency="forward_backward=0.1"
    )
    assert proc.returncode == 0, out + err
    assert out.splitlines()[-1].startswith("demo: OK in "), out
    assert not state_dir(out).exists()


# -- the example on its own ------------------------------------------------------------------


@pytest.fixture(scope="module", params=["all", "none"], ids=["extensions-all", "extensions-none"])
def emulator(request: pytest.FixtureRequest) -> Iterator[RunningEmulator]:
    """The example runs unchanged against today's Weaver, without the extensions."""
    with run_emulator(api_keys=(KEY,), extensions=request.param) as running:
        yield running


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("resume_training_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(
    env: dict[str, str], *args: str, block_rich: bool = False
) -> subprocess.CompletedProcess[str]:
    # sys.modules['rich'] = None makes `import rich` fail, as if it were not installed.
    block = "sys.modules['rich'] = None; " if block_rich else ""
    code = (
        f"import runpy, sys; {block}sys.argv = ['resume_training.py', *{list(args)!r}]; "
        f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**demo_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_example_prints_plain_tables_without_rich(emulator: RunningEmulator) -> None:
    env = {"WEAVER_BASE_URL": emulator.base_url, "WEAVER_API_KEY": KEY}
    done = run_example(env, "--steps", "2", block_rich=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == [
        "name", "type", "status", "resumable", "size", "ttl"
    ])  # fmt: skip
    assert lines[header + 1].split()[:4] == ["step-2", "weight_and_optimizer", "completed", "yes"]
    assert lines[header + 2].split()[:4] == ["step-4", "weight", "completed", "no"]
    assert "┃" not in done.stdout
    assert "the resumed losses match the original continuation exactly" in done.stdout
    assert KEY not in done.stdout + done.stderr


class _ListingLags(httpx.BaseTransport):
    """Answers every listing of a model's checkpoints with none yet, as a server whose
    listings lag behind its saves may; everything else goes to the emulator."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lagged = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and re.fullmatch(
            r"/api/v1/models/[^/]+/checkpoints", request.url.path
        ):
            self.lagged += 1
            return httpx.Response(200, json={"items": []})
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_example_without_rich_prints_an_empty_listing(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Without rich, a listing that did not show the saves yet ended the example with
    # "TypeError: 'int' object is not iterable" from its plain table.
    monkeypatch.setitem(sys.modules, "rich", None)
    monkeypatch.setitem(sys.modules, "rich.console", None)
    example = load_example()
    transport = _ListingLags()
    with (
        httpx.Client(transport=transport) as http,
        ServiceClient(emulator.base_url, KEY, http_client=http) as service,
    ):
        assert example.run(service, "weaver-tiny", 1, AdamParams(), example.Out())
    assert transport.lagged > 0
    lines = capsys.readouterr().out.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("checkpoints of "))
    assert lines[title + 1].split() == ["name", "type", "status", "resumable", "size", "ttl"]
    assert lines[title + 2].startswith("resumed "), lines


def test_example_exits_1_when_the_resumed_losses_differ(
    emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example()
    real_train = example.train
    calls: list[int] = []

    def drifting_train(*args: Any) -> list[float]:
        losses: list[float] = real_train(*args)
        calls.append(len(losses))
        # The third run is the resumed one: nudge one loss by one ulp.
        if len(calls) == 3:
            losses[1] = math.nextafter(losses[1], math.inf)
        return losses

    monkeypatch.setattr(example, "train", drifting_train)
    monkeypatch.setenv("WEAVER_BASE_URL", emulator.base_url)
    monkeypatch.setenv("WEAVER_API_KEY", KEY)
    assert example.main(["--steps", "2"]) == 1
    assert calls == [2, 2, 2]
    out = capsys.readouterr().out
    assert "MISMATCH" in out
    assert "match the original continuation exactly" not in out


def test_example_reports_api_errors_in_one_line(emulator: RunningEmulator) -> None:
    done = run_example({"WEAVER_BASE_URL": emulator.base_url, "WEAVER_API_KEY": "wrong-key-123"})
    assert done.returncode == 1
    assert done.stderr.startswith("error: [401 unauthorized]"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "wrong-key-123" not in done.stdout + done.stderr


def test_example_without_a_key_says_that_none_was_given(emulator: RunningEmulator) -> None:
    # The 401 read "missing or invalid X-WEAVER-API-KEY" alone: the facade's note that no
    # key was given shows only in a traceback, and the example prints one line.
    done = run_example({"WEAVER_BASE_URL": emulator.base_url})
    assert done.returncode == 1
    assert done.stderr.startswith("error: [401 unauthorized]"), done.stderr
    assert "; no API key was given: set WEAVER_API_KEY" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_example_without_a_server_is_a_usage_error() -> None:
    done = run_example({})
    assert done.returncode == 2
    # The library's "pass base_url=" is no step a user of the script can take.
    assert done.stderr == (
        "error: no Weaver server given: set WEAVER_BASE_URL "
        "(the server root, such as http://127.0.0.1:8080)\n"
    )


def test_example_takes_an_empty_base_model_variable_as_unset(emulator: RunningEmulator) -> None:
    # As for WEAVER_BASE_URL and WEAVER_API_KEY: an empty variable (a CI variable that
    # expands to nothing) was taken as the base model, and the example exited 2 with
    # "base_model must be a name of 1 to 256 characters, got ''".
    env = {"WEAVER_BASE_URL": emulator.base_url, "WEAVER_API_KEY": KEY, "WEAVER_BASE_MODEL": " "}
    done = run_example(env, "--steps", "1")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^model m-\S+ \(weaver-tiny\) on ", done.stdout, re.M), done.stdout


def test_example_help_names_the_environment_and_the_exit_statuses() -> None:
    done = run_example({}, "--help")
    assert done.returncode == 0
    for variable in ("WEAVER_BASE_URL", "WEAVER_API_KEY", "WEAVER_BASE_MODEL"):
        assert variable in done.stdout
    statuses = re.findall(r"^  (\d+) ", done.stdout.split("exit status:", 1)[1], re.MULTILINE)
    assert statuses == ["0", "1", "2", "130"]


def test_example_names_the_server_it_cannot_reach() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = run_example({"WEAVER_BASE_URL": url, "WEAVER_API_KEY": KEY})
    assert done.returncode == 1
    *retries, last = done.stderr.strip().splitlines()
    assert last.startswith(f"error: cannot reach {url}: "), done.stderr
    # Each retry before giving up is one visible line, and nothing else is printed.
    assert all("connection refused; retrying in" in line for line in retries), done.stderr
    assert KEY not in done.stdout + done.stderr


def test_retries_are_visible_by_default() -> None:
    # What `scripts/demo -- --fault kind=unavailable,rate=0.3` shows: each retry on stderr
    # (here with `Retry-After: 0`: the default 1 s made a dozen retries take 12 s).
    from weaver_facade.emulator._config import FaultConfig, FaultRule

    faults = FaultConfig(rules=(FaultRule(kind="unavailable", rate=0.3, retry_after=0),), seed=3)
    with run_emulator(api_keys=(KEY,), faults=faults) as emu:
        env = {"WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": KEY}
        done = run_example(env, "--steps", "2")
    assert done.returncode == 0, done.stderr
    retries = [line for line in done.stderr.splitlines() if "; retrying in " in line]
    assert retries, done.stderr
    assert all(re.search(r"HTTP 503\b.*; retrying in \d+\.\d s", line) for line in retries)


def test_example_says_what_it_could_not_verify(
    emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # The wire lets a server leave out a file's size and sha256: the example said "each
    # verified against its sha256" and printed "(None bytes)" and "sha256 None".
    example = load_example()
    transport = TrimmingTransport({"artifacts"}, sparse=True)
    with (
        httpx.Client(transport=transport) as http,
        ServiceClient(emulator.base_url, KEY, http_client=http) as service,
    ):
        assert example.run(service, "weaver-tiny", 1, AdamParams(), example.Out())
    assert transport.trimmed["artifacts"] > 0
    out = capsys.readouterr().out
    assert "each verified" not in out
    # Nothing was given, so nothing was checked: it said "checked against the sizes and
    # sha256s the server gave" all the same. (rich wraps the line on a narrow terminal.)
    said = "not checked: the server gave no sizes or sha256s"
    assert re.search(rf"downloaded 2 files \((\d+) bytes\), {said}", " ".join(out.split()))
    sizes = re.findall(
        r"^\W*(?:adapter_model\.safetensors|adapter_config\.json) \((\d+) bytes\)", out, re.M
    )
    assert len(sizes) == 2, out
    assert out.count("sha256 not given by the server") == 2, out
    assert "None" not in out


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ([("a", 1, "0" * 64), ("b", 2, "1" * 64)], "each verified against its sha256"),
        (
            [("a", 1, "0" * 64), ("b", 2, None)],
            "checked against what the server gave: 1 of 2 sha256s, 2 of 2 sizes",
        ),
        (
            [("a", None, None), ("b", 2, None)],
            "checked against what the server gave: 0 of 2 sha256s, 1 of 2 sizes",
        ),
        (
            [("a", None, None), ("b", None, None)],
            "not checked: the server gave no sizes or sha256s",
        ),
    ],
    ids=["all", "some-sha256s", "some-sizes", "none"],
)
def test_example_says_what_its_download_was_checked_against(
    given: list[tuple[str, int | None, str | None]], said: str
) -> None:
    files = tuple(ArtifactFile(name=n, size=size, sha256=sha) for n, size, sha in given)
    result = DownloadResult(
        artifact_id=uuid.uuid4(),
        kind=ArtifactKind.HF_ADAPTER,
        destination=Path("out"),
        files=files,
        bytes=3,
        bytes_fetched=3,
        files_skipped=0,
        seconds=0.1,
        verified=all(f.sha256 is not None for f in files),
    )
    assert load_example().checked(result) == said


@pytest.fixture
def dropping_server() -> Iterator[str]:
    """A loopback server that reads each request and closes the connection unanswered:
    reached, but every reply lost."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_example_says_a_lost_reply_is_not_an_unreachable_server(dropping_server: str) -> None:
    # It said "cannot reach URL" of a server that took every request and lost the reply,
    # where the command line says "lost the reply from URL".
    done = run_example({"WEAVER_BASE_URL": dropping_server, "WEAVER_API_KEY": KEY})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: lost the reply from {dropping_server}: "), done.stderr
    assert "cannot reach" not in done.stderr
    assert KEY not in done.stdout + done.stderr


def test_example_interrupted_in_a_wait_names_the_operation() -> None:
    # Ctrl-C printed "interrupted" alone, dropping the note that names the operation it
    # was waiting for (a load that a server keeps pending, say) and that it keeps running.
    with run_emulator(api_keys=(KEY,), latency={"load_checkpoint": 30}) as emu:
        env = {**demo_env(), "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": KEY}
        proc = subprocess.Popen(
            with_sigint("SIG_DFL", [sys.executable, str(EXAMPLE), "--steps", "1"]),
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            seen = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                seen.append(proc.stdout.readline())
                if "checkpoints of" in seen[-1] or not seen[-1]:
                    break
            assert "checkpoints of" in seen[-1], seen
            time.sleep(1)  # the resume's load is on its way, held by the latency
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, err
    # First what the close does before the program ends (it may wait for the server).
    assert re.fullmatch(
        r"interrupted: terminating the models this client created \(m-\S+, m-\S+\) first, "
        r"within 60 s; press Ctrl-C again to leave them running\n"
        r"interrupted while waiting for operation \S+, which keeps running on the server: .*\n",
        err,
    ), err


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (httpx.PoolTimeout("no connection free"), "cannot reach"),
        (httpx.ConnectError("refused"), "cannot reach"),
        (httpx.ReadTimeout("slow"), "no reply in time from"),
    ],
)
def test_example_words_a_connection_failure_as_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failure: httpx.TransportError,
    said: str,
) -> None:
    # A request that waited for a free connection of the pool never left: the command
    # line says "cannot reach URL" of it (``_never_sent``), the example "no reply in time".
    example = load_example()
    url = "http://127.0.0.1:9"

    service = types.SimpleNamespace(base_url=url)

    def run(*_: object) -> bool:
        raise connection_error("list_models", failure) from failure

    monkeypatch.setenv("WEAVER_BASE_URL", url)
    monkeypatch.setattr(example, "ServiceClient", lambda **_: contextlib.nullcontext(service))
    monkeypatch.setattr(example, "run", run)
    assert example.main([]) == 1
    assert capsys.readouterr().err.startswith(f"error: {said} {url}: ")


def test_example_timeout_bounds_a_wait_the_server_holds() -> None:
    # A load a server kept pending held the example for the default hour, printing
    # nothing; its only bound was the library's PollSettings, which no option set.
    # The message gives the time waited, which a busy machine rounds up to 2.1 s.
    with run_emulator(api_keys=(KEY,), latency={"load_checkpoint": 30}) as emu:
        env = {"WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": KEY}
        started = time.monotonic()
        done = run_example(env, "--steps", "1", "--timeout", "2")
    assert time.monotonic() - started < 25
    assert done.returncode == 1, done.stderr
    assert re.match(
        r"error: operation \S+ still (pending|running) after 2\.\d s; it keeps running on the "
        r"server: re-attach with service\.operation\('\S+', LoadResult\)",
        done.stderr,
    ), done.stderr
    # The facade's note: the close terminated the new model, and with it the load.
    assert "then the client's close, leaving its `with` block, terminated" in done.stderr
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "x"])
def test_example_refuses_a_timeout_that_is_no_time(seconds: str) -> None:
    done = run_example({}, "--timeout", seconds)
    assert done.returncode == 2
    assert "--timeout" in done.stderr
