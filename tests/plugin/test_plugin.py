"""The pytest plugin, tested by running pytest on users' test files with ``pytester``.

``pytest_plugins`` lives in this module rather than a conftest: pytest refuses
it in a conftest that is not at the top of the run.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpcore
import httpx
import pytest
import weaver_client.models

# Loaded here once, for good: pytester's in-process runs unload the modules they import, but
# numpy (under the emulator's app) cannot be loaded twice in one process, the facade keeps
# the generated models it loaded on first use, and httpx keeps the httpcore exception
# classes it maps (a second copy's classes would not match: a later test in this process
# would see a raw httpcore.ConnectError). The same goes for schemathesis' engine: with a
# second copy, a later contract-kit run in this process recognised none of its events.
from schemathesis.cli.commands.run.warnings import WarningCollector
from schemathesis.engine import events

from weaver_facade import pytest_plugin
from weaver_facade.emulator import RunningEmulator, create_app, run_emulator
from weaver_facade.pytest_plugin import WeaverServer, _options_problem, pytest_assertrepr_compare

pytest_plugins = ["pytester"]
assert callable(create_app)
assert weaver_client.models
assert callable(httpx.HTTPTransport)
assert callable(httpcore.ConnectError)
assert callable(events.ScenarioFinished)
assert callable(WarningCollector)

PLUGIN = ("-p", "weaver_facade.pytest_plugin")
# The inner runs need no asyncio plugin (and it would warn about its settings).
QUIET = ("-p", "no:asyncio", "-p", "no:cacheprovider")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN, *QUIET, *args)


def test_a_users_test_trains_saves_and_resumes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from weaver_facade import datum_from_tokens

        def test_resume(weaver_client):
            trainer = weaver_client.create_training_client("weaver-tiny", seed=0)
            data = [datum_from_tokens([1, 2, 3, 4, 5])]
            trainer.forward_backward(data)
            trainer.optim_step()
            saved = trainer.save_state("one")
            assert [c.name for c in trainer.list_checkpoints()] == ["one"]
            expected = [trainer.forward_backward(data).loss for _ in range(1)]
            fresh = weaver_client.create_training_client("weaver-tiny", seed=9)
            assert fresh.load_state_with_optimizer(saved).optimizer_step == 1
            assert [fresh.forward_backward(data).loss] == expected
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_the_server_is_shared_by_the_session_and_each_test_has_its_own_client(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    record = tmp_path / "record.txt"
    pytester.makepyfile(
        f"""
        import pytest

        seen = []

        def test_one(weaver_server, weaver_client):
            seen.append((weaver_server, weaver_client))
            assert weaver_server.is_emulator
            assert weaver_server.data_dir.is_dir()
            assert weaver_client.base_url == weaver_server.base_url
            assert weaver_server.api_key.startswith("weaver-test-")
            assert weaver_server.api_key not in repr(weaver_server)
            weaver_client.create_training_client("weaver-tiny")

        def test_two(weaver_server, weaver_client):
            first_server, first_client = seen[0]
            assert weaver_server is first_server
            assert weaver_client is not first_client
            # The first test's client was closed when that test ended.
            with pytest.raises(RuntimeError, match="closed"):
                first_client.create_training_client("weaver-tiny")
            with open({str(record)!r}, "w") as f:
                f.write(str(weaver_server.data_dir))
        """
    )
    run(pytester).assert_outcomes(passed=2)
    data_dir = Path(record.read_text())
    # The emulator wrote its state there, in pytest's temporary directory.
    assert data_dir.is_dir()
    assert any(data_dir.iterdir())


@pytest.mark.slow  # two workers, each starting an emulator: 10 to 30 s
def test_under_xdist_each_worker_starts_one_emulator_of_its_own(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # The README: "started once per run (once per worker under pytest-xdist), its state in
    # a pytest temporary directory". `--dist each` runs every test on each worker.
    record = tmp_path / "record"
    record.mkdir()
    test = f"""
        import os

        def test_NAME(weaver_server):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            with open(os.path.join({str(record)!r}, worker + "-NAME"), "w") as f:
                f.write(f"{{weaver_server.base_url}} {{weaver_server.data_dir}}")
        """
    pytester.makepyfile(**{f"test_{n}": test.replace("NAME", n) for n in ("a", "b")})
    result = pytester.runpytest_subprocess(*PLUGIN, *QUIET, "-n", "2", "--dist", "each")
    result.assert_outcomes(passed=4)
    seen: dict[str, set[tuple[str, ...]]] = {}
    for path in record.iterdir():
        seen.setdefault(path.name.split("-")[0], set()).add(tuple(path.read_text().split()))
    assert sorted(seen) == ["gw0", "gw1"]
    assert all(len(servers) == 1 for servers in seen.values()), seen  # one per worker
    (first,), (second,) = seen.values()
    assert first[0] != second[0]  # each its own emulator
    assert first[1] != second[1]  # and data dir
    for worker, ((_, data_dir),) in seen.items():
        assert f"popen-{worker}" in Path(data_dir).parts, data_dir  # the worker's temporary dir


def test_the_server_refuses_requests_without_its_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from weaver_facade import AuthenticationError, ServiceClient

        def test_no_key(weaver_server, monkeypatch):
            monkeypatch.delenv("WEAVER_API_KEY", raising=False)
            with ServiceClient(weaver_server.base_url) as client:
                with pytest.raises(AuthenticationError):
                    client.create_training_client("weaver-tiny")

        def test_env_for_subprocesses(weaver_server):
            assert weaver_server.env() == {
                "WEAVER_BASE_URL": weaver_server.base_url,
                "WEAVER_API_KEY": weaver_server.api_key,
            }
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_emulator_options_can_be_overridden(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def weaver_emulator_options():
            return {"latency": {"save_checkpoint": 0.4}}
        """
    )
    pytester.makepyfile(
        """
        import time

        def test_slow_save(weaver_client):
            trainer = weaver_client.create_training_client("weaver-tiny")
            started = time.monotonic()
            trainer.save_state("slow")
            assert time.monotonic() - started >= 0.4
        """
    )
    run(pytester).assert_outcomes(passed=1)


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")], ids=["a-first", "b-first"])
def test_options_a_folders_conftest_gives_stop_where_they_do_not_apply(
    pytester: pytest.Pytester, order: tuple[str, str]
) -> None:
    # The emulator starts once, for the first test: b's latency applied to a when b ran
    # first, and to nothing when a did; either way the tests passed. Then the test that
    # ran second failed, a's when b ran first; b's own override is what fails now.
    pytester.mkpydir("a").joinpath("test_a.py").write_text(
        "def test_a(weaver_client):\n    assert weaver_client.supported_models()\n"
    )
    b = pytester.mkpydir("b")
    b.joinpath("conftest.py").write_text(
        "import pytest\n\n"
        "@pytest.fixture(scope='session')\n"
        "def weaver_emulator_options():\n"
        "    return {'latency': {'save_checkpoint': 0.2}}\n"
    )
    b.joinpath("test_b.py").write_text(
        "def test_b(weaver_server):\n    assert weaver_server.base_url\n"
    )
    result = run(pytester, *order)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["ERROR b/test_b.py::test_b - Failed: weaver_emulator_options is overridden for*"]
    )
    assert "overridden for this test (in b/conftest.py)" in result.stdout.str()


@pytest.mark.parametrize(
    ("test_b", "place"),
    [
        (
            "import pytest\n\n"
            "@pytest.fixture(scope='session')\n"
            "def weaver_emulator_options():\n"
            "    return {'latency': {'save_checkpoint': 0.2}}\n\n"
            "def test_b(weaver_server):\n    assert weaver_server.base_url\n",
            "test_b.py",
        ),
        (
            "import pytest\n\n"
            "class TestB:\n"
            "    @pytest.fixture(scope='session')\n"
            "    def weaver_emulator_options(self):\n"
            "        return {'latency': {'save_checkpoint': 0.2}}\n\n"
            "    def test_b(self, weaver_server):\n        assert weaver_server.base_url\n",
            # Once named as a conftest.py in a folder of the class's name, which does not exist.
            "test_b.py::TestB",
        ),
    ],
    ids=["module", "class"],
)
def test_options_a_test_module_or_class_gives_fail_its_own_tests(
    pytester: pytest.Pytester, test_b: str, place: str
) -> None:
    pytester.makepyfile(
        test_a="def test_a(weaver_client):\n    assert weaver_client.supported_models()\n",
        test_b=test_b,
    )
    result = run(pytester, "test_b.py", "test_a.py")
    result.assert_outcomes(passed=1, errors=1)
    assert f"overridden for this test (in {place})" in result.stdout.str()


OVERRIDE = (
    "import pytest\n\n"
    "@pytest.fixture(scope='session')\n"
    "def weaver_emulator_options():\n"
    "    return {'latency': {'save_checkpoint': %s}}\n"
)


def outcomes(pytester: pytest.Pytester, *selection: str) -> dict[str, str]:
    """Each test's outcome in a run of ``selection``, by test id."""
    result = pytester.runpytest(
        *PLUGIN,
        *("-p", "no:cacheprovider", "-rA", "-o", "asyncio_mode=strict"),
        *("-o", "asyncio_default_fixture_loop_scope=function"),
        *selection,
    )
    lines = [line.split() for line in result.outlines]
    return {w[1]: w[0] for w in lines if len(w) > 1 and w[0] in ("PASSED", "FAILED", "ERROR")}


def test_a_folders_override_fails_alike_whichever_tests_are_selected(
    pytester: pytest.Pytester,
) -> None:
    # Which overrides failed was decided among the selected tests: b's test passed alone (the
    # emulator started with b's options), and a and b, siblings, failed in turn, whichever
    # ran second; an async test was never checked.
    pytester.mkpydir("plain").joinpath("test_plain.py").write_text(
        "def test_plain(weaver_client):\n    assert weaver_client.supported_models()\n"
    )
    for folder, latency in (("a", 0.1), ("b", 0.2)):
        path = pytester.mkpydir(folder)
        path.joinpath("conftest.py").write_text(OVERRIDE % latency)
        path.joinpath(f"test_{folder}.py").write_text(
            "import pytest\n\n"
            f"def test_{folder}(weaver_server):\n    pass\n\n"
            "@pytest.mark.asyncio\n"
            f"async def test_{folder}_async(weaver_async_client):\n    pass\n"
        )
    everything = outcomes(pytester)
    for selection in (["b"], ["b/test_b.py"], ["b", "a"], ["-k", "test_b"], ["a/test_a.py"]):
        selected = outcomes(pytester, *selection)
        assert selected, selection
        assert selected == {test: everything[test] for test in selected}, selection
    assert everything == {
        "plain/test_plain.py::test_plain": "PASSED",
        **{f"{f}/test_{f}.py::test_{f}{a}": "ERROR" for f in "ab" for a in ("", "_async")},
    }


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")], ids=["a-first", "b-first"])
@pytest.mark.parametrize(
    "ask",
    [
        "request.getfixturevalue('weaver_client')",
        "request.getfixturevalue('weaver_async_client')",
        "request.getfixturevalue('weaver_server').base_url",
    ],
    ids=["client", "async-client", "server"],
)
def test_the_server_or_a_client_asked_for_by_name_is_judged_by_where_its_test_lies(
    pytester: pytest.Pytester, order: tuple[str, str], ask: str
) -> None:
    # A client asked for with request.getfixturevalue (a fixture that picks the sync or the
    # async one, say) was not seen when the tests were collected: b's test passed against an
    # emulator without its latency when a ran first, and a failed, blamed, when b did. So
    # did the server asked for so, later.
    pytester.mkpydir("a").joinpath("test_a.py").write_text(
        "def test_a(weaver_client):\n    assert weaver_client.supported_models()\n"
    )
    b = pytester.mkpydir("b")
    b.joinpath("conftest.py").write_text(OVERRIDE % 0.2)
    b.joinpath("test_b.py").write_text(f"def test_b(request):\n    assert {ask}\n")
    assert outcomes(pytester, *order) == {
        "a/test_a.py::test_a": "PASSED",
        "b/test_b.py::test_b": "FAILED",
    }
    result = pytester.runpytest(
        *PLUGIN,
        *("-p", "no:cacheprovider", "-o", "asyncio_mode=strict"),
        *("-o", "asyncio_default_fixture_loop_scope=function", "b"),
    )
    result.assert_outcomes(failed=1)
    assert "overridden for this test (in b/conftest.py)" in result.stdout.str()


@pytest.mark.parametrize("scope", ["function", "module"])
@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")], ids=["a-first", "b-first"])
def test_each_test_of_a_fixture_that_asked_for_the_server_by_name_is_judged(
    pytester: pytest.Pytester, order: tuple[str, str], scope: str
) -> None:
    # A fixture of b's that asked for the server by name set b's tests up against an
    # emulator without b's latency when a ran first, and started it with b's when b did (a
    # failed). Of a module's fixture, only the test that set it up asked: b's other tests
    # ran against it, without b's options, unjudged.
    pytester.mkpydir("a").joinpath("test_a.py").write_text(
        "def test_a(weaver_client):\n    assert weaver_client.supported_models()\n"
    )
    b = pytester.mkpydir("b")
    b.joinpath("conftest.py").write_text(
        OVERRIDE % 0.2
        + f"\n\n@pytest.fixture(scope={scope!r})\ndef url(request):\n"
        + "    return request.getfixturevalue('weaver_server').base_url\n"
    )
    b.joinpath("test_b.py").write_text(
        "def test_b1(url):\n    assert url\n\n"
        "def test_b2(url):\n    assert url\n\n"
        "def test_b3():\n    pass\n"
    )
    assert outcomes(pytester, *order) == {
        "a/test_a.py::test_a": "PASSED",
        "b/test_b.py::test_b1": "ERROR",
        "b/test_b.py::test_b2": "ERROR",
        "b/test_b.py::test_b3": "PASSED",  # it does not use the server
    }


class _Pytest80Fixtures:
    """``FixtureManager.getfixturedefs`` as pytest 8.0 and older have it: by node id."""

    def __init__(self) -> None:
        self.asked: list[object] = []

    def getfixturedefs(self, argname: str, nodeid: str) -> list[object]:
        self.asked.append(nodeid)
        nodeid.find("::")  # what pytest 8.0 does first: an AttributeError for a node
        return []


class _Pytest81Fixtures(_Pytest80Fixtures):
    """The same, as pytest 8.1 and newer have it: by node."""

    def getfixturedefs(self, argname: str, node: object) -> list[object]:
        self.asked.append(node)
        return []


@pytest.mark.parametrize("fixtures", [_Pytest80Fixtures, _Pytest81Fixtures])
def test_the_override_is_looked_up_as_the_running_pytest_takes_it(
    fixtures: type[_Pytest80Fixtures],
) -> None:
    # Given the node, pytest 8.0 (and 7) failed every run with an INTERNALERROR.
    from types import SimpleNamespace

    from weaver_facade.pytest_plugin import _overridden_at

    manager = fixtures()
    item = SimpleNamespace(nodeid="a/test_a.py::test_a", session=SimpleNamespace())
    item.session._fixturemanager = manager
    assert _overridden_at(item, "") is None  # type: ignore[arg-type]
    expected = item.nodeid if fixtures is _Pytest80Fixtures else item
    assert manager.asked == [expected]


def test_the_root_conftest_may_be_that_of_testpaths(pytester: pytest.Pytester) -> None:
    tests = pytester.mkdir("tests")
    tests.joinpath("conftest.py").write_text(OVERRIDE % 0.1)
    tests.joinpath("test_x.py").write_text("def test_x(weaver_server):\n    pass\n")
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    assert outcomes(pytester) == {"tests/test_x.py::test_x": "PASSED"}
    assert outcomes(pytester, "tests/test_x.py") == {"tests/test_x.py::test_x": "PASSED"}
    # Without testpaths, a test of the rootdir would see other options: tests/ is a folder.
    pytester.makeini("[pytest]\n")
    assert outcomes(pytester, "tests") == {"tests/test_x.py::test_x": "ERROR"}


NO_EXTENSIONS = (
    "import pytest\n\n"
    "@pytest.fixture(scope='session')\n"
    "def weaver_emulator_options():\n"
    "    return {'extensions': 'none'}\n"
)
# Passes only against an emulator without the spec's extensions: checkpoint-by-id is one.
WITHOUT_EXTENSIONS = (
    "import httpx\n\n"
    "def test_i(weaver_server):\n"
    "    reply = httpx.get(\n"
    "        f'{weaver_server.base_url}/api/v1/checkpoints/00000000-0000-0000-0000-000000000000',\n"
    "        headers={'X-WEAVER-API-KEY': weaver_server.api_key},\n"
    "    )\n"
    "    assert reply.json()['message'].startswith('no route')\n"
)


def test_a_folder_outside_testpaths_gives_its_tests_options_in_its_own_conftest(
    pytester: pytest.Pytester,
) -> None:
    # integration/conftest.py was refused, also in a run of integration alone, and the
    # message sent its override to tests/conftest.py, which that run never loads: its
    # tests would then have run against an emulator without their options.
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    pytester.mkdir("tests").joinpath("test_x.py").write_text(
        "def test_x(weaver_client):\n    assert weaver_client.supported_models()\n"
    )
    integration = pytester.mkdir("integration")
    integration.joinpath("conftest.py").write_text(NO_EXTENSIONS)
    integration.joinpath("test_i.py").write_text(WITHOUT_EXTENSIONS)
    assert outcomes(pytester) == {"tests/test_x.py::test_x": "PASSED"}
    assert outcomes(pytester, "integration") == {"integration/test_i.py::test_i": "PASSED"}
    assert outcomes(pytester, "integration/test_i.py") == {
        "integration/test_i.py::test_i": "PASSED"
    }
    # Beside the tests of testpaths, whichever starts the emulator, the other is told to
    # run on its own.
    for order in (("tests", "integration"), ("integration", "tests")):
        result = run(pytester, *order)
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(["*weaver_emulator_options differ here*in a run of its own*"])
    # A folder below it that overrides them again is refused, pointed to the conftest.py
    # that every run of its tests loads.
    deeper = pytester.mkdir("integration/deeper")
    deeper.joinpath("conftest.py").write_text(OVERRIDE % 0.1)
    deeper.joinpath("test_d.py").write_text("def test_d(weaver_server):\n    pass\n")
    result = run(pytester, "integration/deeper")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*overridden for this test (in integration/deeper/conftest.py)*"
            "override the fixture in integration/conftest.py*"
        ]
    )


@pytest.mark.parametrize("top", ["", "src/"], ids=["rootdir", "above-testpaths"])
def test_a_module_in_a_folder_above_testpaths_is_told_to_run_alone_as_itself(
    pytester: pytest.Pytester, top: str
) -> None:
    # A module beside the folder of testpaths gets its options from the conftest.py files
    # above it, as pytest applies them; its run of its own was given as its folder's
    # (pytest ., pytest src), which collects the tests of testpaths too and so failed
    # again, and a module's own override was told to run "as pytest ".
    pytester.makeini(f"[pytest]\ntestpaths = {top}tests\n")
    tests = pytester.path.joinpath(f"{top}tests")
    tests.mkdir(parents=True)
    tests.joinpath("conftest.py").write_text(OVERRIDE % 0.1)
    tests.joinpath("test_x.py").write_text("def test_x(weaver_server):\n    pass\n")
    pytester.path.joinpath(f"{top}conftest.py").write_text(NO_EXTENSIONS)
    pytester.path.joinpath(f"{top}test_top.py").write_text(WITHOUT_EXTENSIONS)
    module = f"{top}test_top.py"
    assert outcomes(pytester, module) == {f"{module}::test_i": "PASSED"}
    result = run(pytester, f"{top}tests", module)
    result.assert_outcomes(passed=1, errors=1)
    advice = re.search(r"in a run of its own \(pytest ([^)]*)\)", result.stdout.str())
    assert advice is not None
    assert outcomes(pytester, *advice[1].split()) == {f"{module}::test_i": "PASSED"}
    # An override in the module itself is refused, pointed to a run that holds it alone.
    pytester.path.joinpath(f"{top}test_own.py").write_text(
        OVERRIDE % 0.1 + "\n\ndef test_o(weaver_server):\n    pass\n"
    )
    result = run(pytester, f"{top}test_own.py")
    result.assert_outcomes(errors=1)
    conftest = "src/conftest.py" if top else "the rootdir's conftest.py"
    # The tests of testpaths see that override too: said, as they would run with it.
    result.stdout.fnmatch_lines(
        [
            f"*override the fixture in {conftest} (*as pytest {top}test_own.py; the tests "
            f"of testpaths see that override too, unless {top}tests/conftest.py sets theirs)*"
        ]
    )


def test_the_refusal_names_the_root_conftest_of_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    sub = pytester.mkdir("tests").joinpath("sub")
    sub.mkdir()
    sub.joinpath("conftest.py").write_text(OVERRIDE % 0.1)
    sub.joinpath("test_s.py").write_text("def test_s(weaver_server):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*override the fixture in tests/conftest.py*"])
    pytester.makeini("[pytest]\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*override the fixture in the rootdir's conftest.py*"])


def test_weaver_extensions_gives_an_emulator_without_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx

        def test_no_extensions(weaver_server, weaver_client):
            trainer = weaver_client.create_training_client("weaver-tiny")
            assert trainer.model.next_seq_id is None  # next-seq-id is off
            saved = trainer.save_state("s")
            reply = httpx.get(
                f"{weaver_server.base_url}/api/v1/checkpoints/{saved.id}",
                headers={"X-WEAVER-API-KEY": weaver_server.api_key},
            )
            assert reply.status_code == 404
            assert reply.json()["message"].startswith("no route")
        """
    )
    run(pytester, "--weaver-extensions", "none").assert_outcomes(passed=1)
    run(pytester).assert_outcomes(failed=1)


@pytest.mark.parametrize("own", [False, True], ids=["default-options", "fixture-sets-them"])
def test_a_wrong_weaver_extensions_value_is_one_usage_error(
    pytester: pytest.Pytester, own: bool
) -> None:
    # It failed each test that used the server, each with the same line, after the tests
    # that did not had run; and not at all when the fixture set its own extensions.
    if own:
        pytester.makeconftest(
            "import pytest\n\n"
            "@pytest.fixture(scope='session')\n"
            "def weaver_emulator_options():\n"
            "    return {'extensions': 'none'}\n"
        )
    pytester.makepyfile("def test_x(weaver_client): pass\ndef test_y(weaver_server): pass")
    result = run(pytester, "--weaver-extensions", "bogus,long-poll")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --weaver-extensions: unknown extension 'bogus': use *"])
    assert "weaver_emulator_options" not in result.stderr.str()  # the user did not write that
    assert result.stdout.str().count("unknown extension") == 0  # no test ran to say it again


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_weaver_emulator_port_chooses_the_emulators_port(pytester: pytest.Pytester) -> None:
    port = free_port()
    pytester.makepyfile(
        f"""
        import httpx

        def test_port(weaver_server, weaver_client):
            assert weaver_server.base_url == "http://127.0.0.1:{port}"
            weaver_client.create_training_client("weaver-tiny")
            # The listener is the emulator, asked from outside the fixtures.
            reply = httpx.get("http://127.0.0.1:{port}/openapi.yaml")
            assert reply.status_code == 200
        """
    )
    run(pytester, "--weaver-emulator-port", str(port)).assert_outcomes(passed=1)


def test_weaver_emulator_port_0_is_a_free_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_port(weaver_server, weaver_client):
            host, _, port = weaver_server.base_url.rpartition(":")
            assert (host, int(port) > 0) == ("http://127.0.0.1", True)
            weaver_client.create_training_client("weaver-tiny")
        """
    )
    run(pytester, "--weaver-emulator-port", "0").assert_outcomes(passed=1)


def test_a_weaver_emulator_port_in_use_fails_each_test_in_one_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(weaver_server): pass\ndef test_y(weaver_client): pass")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(pytester, "--weaver-emulator-port", str(port))
    result.assert_outcomes(errors=2)
    line = (
        f"*weaver_server: --weaver-emulator-port {port}: the emulator cannot listen on "
        f"127.0.0.1:{port}: port {port} is in use*"
    )
    result.stdout.fnmatch_lines([line, line])
    assert "Traceback" not in result.stdout.str()


def test_a_weaver_emulator_port_it_may_not_bind_says_why(pytester: pytest.Pytester) -> None:
    # It said "failed to start on 127.0.0.1:80: SystemExit(3)". A bind of port 80 refused
    # as for a user not root, whoever runs the tests.
    pytester.makeconftest(
        """
        import errno, os, socket
        import pytest

        @pytest.fixture(scope="session", autouse=True)
        def refuse_port_80():
            bind = socket.socket.bind

            def refusing(sock, address):
                if isinstance(address, tuple) and address[1] == 80:
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
                bind(sock, address)

            socket.socket.bind = refusing
            yield
            socket.socket.bind = bind
        """
    )
    pytester.makepyfile("def test_x(weaver_server): pass")
    result = run(pytester, "--weaver-emulator-port", "80")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*weaver_server: --weaver-emulator-port 80: the emulator cannot listen on "
            "127.0.0.1:80: permission denied (ports below 1024 need privileges)*"
        ]
    )
    assert "SystemExit" not in result.stdout.str()


def test_under_xdist_one_weaver_emulator_port_serves_one_worker(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    # Each worker starts an emulator of its own: the second finds the port taken (or, when
    # both try at once, fails to bind it), and says why. The first keeps its emulator until
    # then, else a slow second one could start after it stopped.
    refused = tmp_path / "refused"
    pytester.makeconftest(
        "def pytest_runtest_logreport(report):\n"
        "    if report.when == 'setup' and report.failed:\n"
        f"        open({str(refused)!r}, 'w').close()\n"
    )
    pytester.makepyfile(
        f"""
        import os, time

        def test_x(weaver_server):
            deadline = time.monotonic() + 120
            while not os.path.exists({str(refused)!r}) and time.monotonic() < deadline:
                time.sleep(0.05)
        """
    )
    port = str(free_port())
    args = ("-n", "2", "--dist", "each", "--weaver-emulator-port", port)
    result = pytester.runpytest_subprocess(*PLUGIN, *QUIET, *args)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [f"*weaver_server: --weaver-emulator-port {port}: the emulator * (under pytest-xdist, *"]
    )


@pytest.mark.parametrize("given", ["x", "-1", "65536", "", "8080.0"])
def test_a_wrong_weaver_emulator_port_is_a_usage_error(
    pytester: pytest.Pytester, given: str
) -> None:
    pytester.makepyfile("def test_x(weaver_server): pass")
    result = run(pytester, "--weaver-emulator-port", given)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --weaver-emulator-port must be a port number from 0 to 65535, not {given!r}"]
    )


def test_weaver_emulator_port_with_weaver_base_url_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(weaver_server): pass")
    args = ("--weaver-base-url", "http://127.0.0.1:9", "--weaver-emulator-port", "8080")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--weaver-emulator-port is the local emulator's port*"])


def test_without_opting_in_there_are_no_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(weaver_client): pass")
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'weaver_client' not found*"])


def test_conftest_opt_in_works_too(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["weaver_facade.pytest_plugin"]')
    pytester.makepyfile("def test_x(weaver_server): assert weaver_server.base_url")
    pytester.runpytest(*QUIET).assert_outcomes(passed=1)


def test_importing_the_plugin_does_not_import_the_emulator(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_light():
            heavy = ("weaver_facade.emulator", "numpy", "uvicorn", "starlette")
            assert [m for m in heavy if m in sys.modules] == []
        """
    )
    # A subprocess: this process has imported all of them already.
    pytester.runpytest_subprocess(*PLUGIN, *QUIET).assert_outcomes(passed=1)


# numpy: a project with starlette and uvicorn of its own, but not numpy, got a raw
# ModuleNotFoundError from deep in the emulator.
@pytest.mark.parametrize("module", ["weaver_facade.emulator", "numpy"])
def test_a_missing_emulator_extra_is_one_clear_failure(
    pytester: pytest.Pytester, module: str
) -> None:
    pytester.makeconftest(
        f"""
        import sys

        sys.modules["{module}"] = None  # as if the extra were not installed
        """
    )
    pytester.makepyfile("def test_x(weaver_client): pass")
    result = pytester.runpytest_subprocess(*PLUGIN, *QUIET)
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert (
        "weaver_server needs the emulator: install 'weaver-facade[emulator]', "
        "or pass --weaver-base-url URL"
    ) in output
    assert f"(cannot import {module})" in output
    assert "Traceback" not in output
    assert "During handling" not in output


# -- against an external server -----------------------------------------------------------


@pytest.fixture
def external() -> Iterator[RunningEmulator]:
    with run_emulator(api_keys=("external-key-7",)) as running:
        yield running


def test_weaver_base_url_runs_the_same_tests_against_another_server(
    pytester: pytest.Pytester, external: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEAVER_API_KEY", "external-key-7")
    pytester.makepyfile(
        f"""
        def test_external(weaver_server, weaver_client):
            assert weaver_server.base_url == {external.base_url!r}
            assert not weaver_server.is_emulator
            assert weaver_server.data_dir is None
            trainer = weaver_client.create_training_client("weaver-tiny")
            assert trainer.save_state("external").path.model_id == trainer.model_id
        """
    )
    run(pytester, "--weaver-base-url", external.base_url + "/").assert_outcomes(passed=1)
    # And the checkpoint is on that server.
    assert any(external.data_dir.joinpath("checkpoints").iterdir())


def test_an_unreachable_weaver_base_url_fails_each_test_at_once_in_one_line(
    pytester: pytest.Pytester,
) -> None:
    # Each test that used a client retried for about 5 s, then failed with some 250 lines
    # of the package's traceback; a test given weaver_server alone passed.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://u:pw-31@127.0.0.1:{closed.getsockname()[1]}"
        pytester.makepyfile(
            """
            def test_a(weaver_client):
                weaver_client.supported_models()

            def test_b(weaver_server):
                pass

            def test_c(weaver_client):
                weaver_client.supported_models()

            def test_plain():
                pass
            """
        )
        started = time.monotonic()
        result = run(pytester, "--weaver-base-url", url, "--weaver-api-key", "sk-key-31")
        took = time.monotonic() - started
    result.assert_outcomes(passed=1, errors=3)
    output = result.stdout.str()
    shown = url.replace("u:pw-31@", "***@")
    # pytest's ERROR section of each holds that one line alone.
    reason = f"weaver_server: no reply from --weaver-base-url {shown}: ConnectError: "
    sections = re.findall(r"_ ERROR at setup of test_\w+ _+\n(.*?)\n(?=_|=)", output, re.S)
    assert len(sections) == 3, output
    assert all(s.startswith(reason) and "\n" not in s for s in sections), sections
    assert "pw-31" not in output
    assert "sk-key-31" not in output
    assert "Traceback" not in output
    assert "retrying" not in output
    assert took < 4.0, took  # a refused connection: no retries, in any test


def test_a_slow_weaver_base_url_is_said_to_give_no_reply_within_the_setup_timeout(
    pytester: pytest.Pytester,
) -> None:
    # A server that took over 10 s to answer failed every test with "no reply from ...:
    # ReadTimeout: no reply in time", as if unreachable, and no option let it take longer.
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()  # accepted by the kernel, never answered
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        pytester.makepyfile("def test_a(weaver_server):\n    pass\n")
        started = time.monotonic()
        result = run(pytester, "--weaver-base-url", url, "--weaver-setup-timeout", "0.5")
        took = time.monotonic() - started
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"weaver_server: no reply within 0.5 s from --weaver-base-url {url} to its first "
            "request (a slower server needs a longer --weaver-setup-timeout)"
        ]
    )
    assert 0.5 <= took < 8.0, took


def test_a_weaver_base_url_that_takes_no_connection_is_said_so_at_the_connect_bound(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README: "5 s to connect ... (`no connection within 5 s`, ...)". A listening
    # socket whose accept queue is full drops new connections: they are never made.
    monkeypatch.setattr(pytest_plugin, "_CONNECT_SECONDS", 0.5)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(0)
        with socket.create_connection(listening.getsockname(), timeout=5):  # fills the queue
            url = f"http://u:pw-47@127.0.0.1:{listening.getsockname()[1]}"
            pytester.makepyfile("def test_a(weaver_server):\n    pass\n")
            started = time.monotonic()
            result = run(pytester, "--weaver-base-url", url)
            took = time.monotonic() - started
    result.assert_outcomes(errors=1)
    shown = url.replace("u:pw-47@", "***@")
    result.stdout.fnmatch_lines(
        [f"weaver_server: no connection within 0.5 s to --weaver-base-url {shown}"]
    )
    assert "pw-47" not in result.stdout.str()
    assert 0.5 <= took < 4.5, took  # the connect bound, not the reply's 10 s


def test_the_readme_states_the_bounds_of_the_first_request_to_weaver_base_url() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    said = re.search(r"\((\d+) s to connect, (\d+) s for the reply, or the seconds of", readme)
    assert said is not None
    assert (float(said[1]), float(said[2])) == (
        pytest_plugin._CONNECT_SECONDS,
        pytest_plugin._SETUP_SECONDS,
    )
    words = re.search(
        r"what came instead \(`no reply within (\d+) s`, `no connection within (\d+) s`", readme
    )
    assert words is not None
    assert (words[1], words[2]) == (said[2], said[1])


@pytest.mark.parametrize("given", ["0", "-1", "nan", "inf", "soon"])
def test_a_wrong_weaver_setup_timeout_is_a_usage_error(
    pytester: pytest.Pytester, given: str
) -> None:
    pytester.makepyfile("def test_x(weaver_server): pass")
    result = run(
        pytester, "--weaver-base-url", "http://127.0.0.1:9", "--weaver-setup-timeout", given
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--weaver-setup-timeout must be a number of seconds above 0*"])


def test_weaver_setup_timeout_without_weaver_base_url_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(weaver_server): pass")
    result = run(pytester, "--weaver-setup-timeout", "30")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--weaver-setup-timeout bounds the first request*"])


def test_the_server_of_weaver_base_url_is_not_contacted_by_tests_without_the_fixtures(
    pytester: pytest.Pytester,
) -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        listening.setblocking(False)
        pytester.makepyfile("def test_plain():\n    pass\n")
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        run(pytester, "--weaver-base-url", url).assert_outcomes(passed=1)
        with pytest.raises(BlockingIOError):  # no connection waits to be accepted
            listening.accept()


@pytest.mark.parametrize("extensions", ["none", ""])
def test_weaver_extensions_with_weaver_base_url_is_a_usage_error(
    pytester: pytest.Pytester, extensions: str
) -> None:
    # It chooses the local emulator's extensions; another server's were silently kept (an
    # empty one, the emulator's "none", until lately).
    pytester.makepyfile("def test_x(weaver_server): pass")
    args = ("--weaver-base-url", "http://127.0.0.1:9", "--weaver-extensions", extensions)
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--weaver-extensions chooses the local emulator's extensions*"])


@pytest.mark.parametrize("key", ["k-5e1", ""])
def test_weaver_api_key_without_weaver_base_url_is_a_usage_error(
    pytester: pytest.Pytester, key: str
) -> None:
    # The tests ran against the local emulator with its own key, as if the server the key
    # is for had been tested (its URL unset, say).
    pytester.makepyfile("def test_x(weaver_server): pass")
    result = run(pytester, "--weaver-api-key", key)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--weaver-api-key is the key of --weaver-base-url's server*"])
    assert "k-5e1" not in result.stdout.str() + result.stderr.str()


def test_a_bad_weaver_base_url_is_one_usage_error(pytester: pytest.Pytester) -> None:
    # It failed every test that used the server, each with a traceback naming the
    # library's `base_url`, whose frame's arguments showed the URL's password.
    pytester.makepyfile("def test_x(weaver_client): pass\ndef test_y(weaver_server): pass")
    result = run(pytester, "--weaver-base-url", "http://u:pw-9f@127.0.0.1:9/api/v1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--weaver-base-url is the server root; drop the trailing*"])
    assert "pw-9f" not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("given", ["", " "])
def test_a_blank_weaver_base_url_is_a_usage_error(pytester: pytest.Pytester, given: str) -> None:
    # An empty one (`--weaver-base-url "$URL"` with URL unset) ran the tests against the
    # local emulator, passing, as if no server had been asked for.
    pytester.makepyfile("def test_x(weaver_server): pass")
    result = run(pytester, "--weaver-base-url", given)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--weaver-base-url is blank: give the server root*"])


def test_a_client_the_environment_refuses_is_not_a_blank_weaver_base_url(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Any refusal but the URL's was said as "--weaver-base-url is blank", of a good URL,
    # such as the one of the environment's proxy settings.
    pytester.makepyfile("def test_x(weaver_client): pass")
    monkeypatch.setenv("HTTP_PROXY", "http://[::1")
    result = run(pytester, "--weaver-base-url", "http://127.0.0.1:9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the environment's TLS or proxy settings cannot be used*"])
    assert "blank" not in result.stderr.str()


@pytest.mark.parametrize("given", ["option", "environment"])
def test_a_key_no_header_can_carry_is_one_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    # Every test that used the server failed on its own, each naming the library's
    # `api_key`; the key itself is never shown.
    pytester.makepyfile("def test_x(weaver_client): pass\ndef test_y(weaver_client): pass")
    args = ["--weaver-base-url", "http://127.0.0.1:9"]
    if given == "option":
        monkeypatch.delenv("WEAVER_API_KEY", raising=False)
        args += ["--weaver-api-key", "s\u00e9cret-9f"]
    else:
        monkeypatch.setenv("WEAVER_API_KEY", "s\u00e9cret-9f")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    named = "--weaver-api-key" if given == "option" else "WEAVER_API_KEY"
    result.stderr.fnmatch_lines([f"*{named} must be printable ASCII characters*"])
    assert "9f" not in result.stdout.str() + result.stderr.str()


def test_weaver_api_key_option(
    pytester: pytest.Pytester, external: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEAVER_API_KEY", raising=False)
    pytester.makepyfile(
        """
        def test_key(weaver_server, weaver_client):
            assert weaver_server.api_key == "external-key-7"
            weaver_client.create_training_client("weaver-tiny")
        """
    )
    args = ("--weaver-base-url", external.base_url, "--weaver-api-key", "external-key-7")
    run(pytester, *args).assert_outcomes(passed=1)


@pytest.fixture
def secret_url(external: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """The external server's URL with user info; no key in the environment."""
    monkeypatch.delenv("WEAVER_API_KEY", raising=False)
    return external.base_url.replace("http://", "http://u:pw-77@")


def run_hiding(pytester: pytest.Pytester, url: str, *flags: str) -> pytest.RunResult:
    """The tests run against ``url`` with the key as an option: neither it nor the URL's
    password shows anywhere in what pytest prints."""
    result = run(pytester, "--weaver-base-url", url, "--weaver-api-key", "external-key-7", *flags)
    output = result.stdout.str() + result.stderr.str()
    assert "external-key-7" not in output
    assert "pw-77" not in output
    return result


def test_env_hides_the_key_and_user_info_where_pytest_shows_them(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # weaver_server's repr hid them, but env() was a plain dict of plain strings: a failing
    # test printed the real server's key (and the URL's password) with --showlocals and in
    # its assertion's diff, also from the environment it had merged for a subprocess.
    url = secret_url
    pytester.makepyfile(
        f"""
        import os
        import subprocess
        import sys

        def test_a_subprocess_gets_them(weaver_server):
            env = {{**os.environ, **weaver_server.env()}}
            code = "import os; print(os.environ['WEAVER_API_KEY'], os.environ['WEAVER_BASE_URL'])"
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            assert out.stdout.split() == ["external-key-7", {url!r}]

        def test_fails_showing_them(weaver_server):
            env = weaver_server.env()
            merged = {{**os.environ, **env}}
            assert env == {{"WEAVER_BASE_URL": "elsewhere"}}
        """
    )
    result = run_hiding(pytester, url, "-l", "-vv")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "'WEAVER_API_KEY': '***'" in output


def test_a_failed_comparison_of_the_key_or_url_alone_shows_neither(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # Their reprs said '***', but pytest's diff of two strings, and its "is contained here"
    # for `not in`, show the text itself: the real server's key, the URL's password.
    url = secret_url
    pytester.makepyfile(
        """
        def test_key_equals(weaver_server):
            assert weaver_server.env()["WEAVER_API_KEY"] == "other"

        def test_key_compared_from_the_right(weaver_server):
            assert "other" == weaver_server.env()["WEAVER_API_KEY"]

        def test_key_not_in(weaver_server):
            assert "key" not in weaver_server.env()["WEAVER_API_KEY"]

        def test_url_equals(weaver_server):
            assert weaver_server.env()["WEAVER_BASE_URL"] == "http://elsewhere"
        """
    )
    for verbosity in ("-q", "-vv"):
        result = run_hiding(pytester, url, verbosity)
        result.assert_outcomes(failed=4)
        output = result.stdout.str()
        # What was compared is still said, hidden as the reprs hide it.
        assert "'***' == 'other'" in output
        assert "'other' == '***'" in output
        assert "'key' not in '***'" in output
        assert "'http://***@127.0.0.1:" in output


def test_the_key_and_url_attributes_are_hidden_where_pytest_shows_them(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # env() hid them, but weaver_server.api_key and .base_url were plain strings: a test
    # that passes them on (a local for a client of its own) printed them with --showlocals,
    # and in the diff of a failed comparison.
    url = secret_url
    pytester.makepyfile(
        f"""
        import weaver_facade

        def test_passes_them_on(weaver_server):
            key, url = weaver_server.api_key, weaver_server.base_url
            assert (key, url) == ("external-key-7", {url!r})
            with weaver_facade.ServiceClient(url, key) as client:
                client.create_training_client("weaver-tiny")

        def test_fails_with_them_in_locals(weaver_server):
            key, url = weaver_server.api_key, weaver_server.base_url
            assert key == "other"

        def test_fails_comparing_the_url(weaver_server):
            assert weaver_server.base_url == "http://elsewhere"
        """
    )
    result = run_hiding(pytester, url, "-l", "-vv")
    result.assert_outcomes(passed=1, failed=2)
    output = result.stdout.str()
    assert "key        = '***'" in output


def test_a_failed_comparison_hides_the_key_or_url_in_the_other_side_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # `assert key not in text` is how a test checks that the key is not logged: when it
    # fails, the text holds the key, and the explanation showed that side whole.
    url = secret_url
    pytester.makepyfile(
        """
        def test_key_not_in_a_log(weaver_server):
            logged = "sent key=" + str(weaver_server.api_key) + " to the server"
            assert weaver_server.api_key not in logged

        def test_url_equals_another(weaver_server):
            told = str(weaver_server.base_url) + "/api"
            assert told == weaver_server.base_url
        """
    )
    for verbosity in ("-q", "-vv"):
        result = run_hiding(pytester, url, verbosity)
        result.assert_outcomes(failed=2)
        output = result.stdout.str()
        assert "'***' not in 'sent key=*** to the server'" in output
        assert "/api' == 'http://***@127.0.0.1:" in output


def test_a_failure_hides_the_key_and_user_info_wherever_pytest_shows_them(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # A test that checks the key is not logged fails when it is: the comparison was hidden,
    # but pytest's "where" line (the text of `caplog.text`), the captured log and output
    # sections, --showlocals and the summary line showed it, and so the URL's password.
    pytester.makepyfile(
        """
        import logging

        def test_key_not_logged(weaver_server, caplog):
            logging.getLogger("app").warning("sent key=%s", weaver_server.api_key)
            assert weaver_server.api_key not in caplog.text

        def test_url_logged(weaver_server, caplog):
            logging.getLogger("app").warning("to %s", weaver_server.base_url)
            print("printed", str(weaver_server.api_key))
            logged = caplog.text
            assert "nothing" in caplog.text
        """
    )
    for flags in (("-q",), ("-vv", "-l", "-rA"), ("--tb=native",), ("--tb=line",)):
        result = run_hiding(pytester, secret_url, *flags)
        result.assert_outcomes(failed=2)
    output = run_hiding(pytester, secret_url, "-q").stdout.str()
    # What pytest shows is still there, the secrets as ***.
    assert "where 'WARNING  app:test_a_failure_hides_the_key" in output
    assert "sent key=***" in output
    assert "to http://***@127.0.0.1:" in output
    assert "printed ***" in output


def test_the_password_of_the_url_is_hidden_alone_too(
    pytester: pytest.Pytester, external: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The URL's user info was hidden whole, but its password alone (taken out of the URL
    # to log in elsewhere, or sent as basic auth, percent-decoded) showed.
    monkeypatch.delenv("WEAVER_API_KEY", raising=False)
    url = external.base_url.replace("http://", "http://admin:pw%2F77@")
    pytester.makepyfile(
        """
        import logging
        import urllib.parse

        import httpx

        def test_password(weaver_server):
            password = urllib.parse.urlsplit(weaver_server.base_url).password
            print("raw", password, "of", weaver_server.base_url)
            logging.getLogger("app").warning("sent %s", httpx.URL(weaver_server.base_url).password)
            assert password == "other"
        """
    )
    result = run(pytester, "--weaver-base-url", url, "--weaver-api-key", "external-key-7", "-rA")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "pw%2F77" not in output
    assert "pw/77" not in output
    # What pytest shows is still there, the password as ***, the user info whole as ***.
    result.stdout.fnmatch_lines(["raw *** of http://***@127.0.0.1:*", "*sent ***"])


def test_a_secret_in_a_json_text_is_hidden_however_it_escapes_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server's JSON may escape any character of a string: Python's json.dumps wrote the
    # é of the URL's password as \u00e9, PHP's json_encode the / of the key as \/ too. A
    # test that printed or compared such a reply showed both.
    monkeypatch.delenv("WEAVER_API_KEY", raising=False)
    key, password = "external/key-7", "cl\u00e9-secr\u00e8te-123"
    pytester.makepyfile(
        """
        import json
        import urllib.parse

        def test_echoed(weaver_server):
            written = urllib.parse.urlsplit(weaver_server.base_url).password
            said = {"key": str(weaver_server.api_key), "pw": urllib.parse.unquote(written)}
            reply = json.dumps(said).replace("/", "\\\\/")
            print("reply", reply)
            assert reply == "{}"
        """
    )
    with run_emulator(api_keys=(key,)) as server:
        url = server.base_url.replace("http://", f"http://u:{quote(password)}@")
        result = run(pytester, "--weaver-base-url", url, "--weaver-api-key", key, "-vv", "-rA")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "key-7" not in output
    assert "te-123" not in output
    result.stdout.fnmatch_lines(['reply {"key": "***", "pw": "***"}'])


def test_a_secret_whose_places_overlap_is_hidden_whole() -> None:
    # A secret whose start repeats at its end may overlap itself in what a test shows: the
    # second place, begun before the first ended, was skipped, and its tail shown.
    hidden = pytest_plugin._without
    assert hidden("said pw-7a-pw-7a-pw!", ["pw-7a-pw"]) == "said ***!"
    assert hidden('{"pw": "pw\\/7a\\/pw\\/7a\\/pw"}', ["pw/7a/pw"]) == '{"pw": "***"}'


def test_an_xfail_reason_and_a_recorded_property_hide_the_key_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # The report's xfail reason (-rA's XFAIL line, the JUnit XML's skipped message) and the
    # properties a test recorded (the JUnit XML's <property>) kept the key and the password.
    pytester.makepyfile(
        """
        import pytest

        def test_xfailed(weaver_server):
            pytest.xfail(f"rejected key {str(weaver_server.api_key)}")

        def test_recorded(weaver_server, record_property):
            record_property("key", str(weaver_server.api_key))
            record_property("url", weaver_server.base_url)
        """
    )
    xml = pytester.path / "report.xml"
    result = run_hiding(
        pytester, secret_url, "-rA", f"--junitxml={xml}", "-o", "junit_family=xunit1"
    )
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL test_*::test_xfailed - rejected key ***"])
    written = xml.read_text("utf-8")
    assert "external-key-7" not in written
    assert "pw-77" not in written
    # What the report holds is still there, the secrets as ***.
    assert 'message="rejected key ***"' in written
    assert '<property name="key" value="***" />' in written
    assert '<property name="url" value="http://***@127.0.0.1:' in written


def test_the_reason_of_a_skip_or_a_failure_hides_the_key_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_skips(weaver_server):
            pytest.skip(f"skipped {str(weaver_server.api_key)}")

        def test_fails(weaver_server):
            pytest.fail(f"failed {str(weaver_server.api_key)}")
        """
    )
    xml = pytester.path / "report.xml"
    result = run_hiding(pytester, secret_url, "-rA", f"--junitxml={xml}")
    result.assert_outcomes(skipped=1, failed=1)
    result.stdout.fnmatch_lines(["E * Failed: failed ***", "SKIPPED * skipped ***"])
    written = xml.read_text("utf-8")
    assert "external-key-7" not in written
    assert 'message="skipped ***"' in written


def test_the_reason_of_pytest_exit_hides_the_key_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # pytest.exit() ends the run without a report of the test: its reason, in the line that
    # closes the run, showed the key and the password.
    pytester.makepyfile(
        """
        import pytest

        def test_exits(weaver_server):
            pytest.exit(f"stop: rejected {str(weaver_server.api_key)} at {weaver_server.base_url}")
        """
    )
    xml = pytester.path / "report.xml"
    result = run_hiding(pytester, secret_url, "-rA", f"--junitxml={xml}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    # The reason is still shown, the secrets as ***.
    result.stdout.fnmatch_lines(["*Exit: stop: rejected *** at http://***@127.0.0.1:*"])
    assert "external-key-7" not in xml.read_text("utf-8")


@pytest.mark.parametrize(
    ("hook", "given"),
    [
        ("pytest_configure", "config"),
        ("pytest_sessionstart", "session"),
        ("pytest_sessionfinish", "session"),
    ],
)
def test_the_reason_of_pytest_exit_in_a_session_hook_hides_the_key_too(
    pytester: pytest.Pytester, secret_url: str, hook: str, given: str
) -> None:
    # pytest writes the reason of a pytest.exit() in these hooks (a conftest.py that checks
    # the server before any test) to stderr itself, before any hook of the plugin sees it:
    # it showed the key and the password.
    config = "session.config" if given == "session" else "config"
    pytester.makeconftest(
        f"""
        import pytest

        def {hook}({given}):
            option = {config}.getoption
            key, url = option("--weaver-api-key"), option("--weaver-base-url")
            pytest.exit(f"refused {{key}} at {{url}}")
        """
    )
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run_hiding(pytester, secret_url)
    # The reason is still shown, the secrets as ***.
    result.stderr.fnmatch_lines(["Exit: refused *** at http://***@127.0.0.1:*"])


def test_stderr_hides_the_key_in_what_writelines_writes_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # Until pytest_sessionstart has run, sys.stderr hides the secrets of what is written to
    # it: writelines went past that to the stream it stands for, the key whole.
    pytester.makeconftest(
        """
        import sys

        def pytest_configure(config):
            key = config.getoption("--weaver-api-key")
            sys.stderr.writelines(["checking ", key, "\\n", f"refused {key}\\n"])
        """
    )
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run_hiding(pytester, secret_url)
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["checking ***", "refused ***"])


def test_pytest_exit_in_a_tryfirst_configure_of_a_conftest_shows_the_key_as_the_readme_says(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # It runs before the plugin's own pytest_configure, which learns the key: the README
    # says so, and this holds that sentence to the truth.
    said = "for a `pytest_configure` marked `tryfirst` that pytest registers after the plugin"
    assert said in " ".join(README.read_text().split())
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(tryfirst=True)
        def pytest_configure(config):
            pytest.exit(f"refused {config.getoption('--weaver-api-key')}")
        """
    )
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester, "--weaver-base-url", secret_url, "--weaver-api-key", "external-key-7")
    result.stderr.fnmatch_lines(["Exit: refused external-key-7"])


def test_a_warning_in_the_summary_hides_the_key_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # pytest's warnings summary showed a warning's text whole: a library's warning that
    # names the URL it was given, or the key.
    pytester.makepyfile(
        """
        import warnings

        def test_warns(weaver_server):
            warnings.warn(f"sent key {str(weaver_server.api_key)} to {weaver_server.base_url}")

        def test_fails_and_warns(weaver_server):
            warnings.warn(UserWarning("rejected", str(weaver_server.api_key)))
            assert False
        """
    )
    for flags in (("-q",), ("-rA", "-vv")):
        result = run_hiding(pytester, secret_url, *flags)
        result.assert_outcomes(passed=1, failed=1)
        # The warnings are still shown, the secrets as ***.
        result.stdout.fnmatch_lines(
            [
                "*UserWarning: sent key *** to http://***@127.0.0.1:*",
                "*UserWarning: ('rejected', '***')",
            ]
        )


def test_what_a_test_writes_to_the_junit_xml_itself_hides_the_key_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # record_xml_attribute and record_testsuite_property write to the JUnit XML without a
    # report, which a CI job keeps as an artifact: the key and the password were there whole.
    pytester.makepyfile(
        """
        def test_attribute(weaver_server, record_xml_attribute):
            record_xml_attribute("key", str(weaver_server.api_key))

        def test_suite_property(weaver_server, record_testsuite_property):
            record_testsuite_property("url", str(weaver_server.base_url))
            print("printed", str(weaver_server.api_key))
        """
    )
    xml = pytester.path / "report.xml"
    flags = ("-o", "junit_family=xunit1", "-o", "junit_logging=all", "-W", "ignore")
    result = run_hiding(pytester, secret_url, f"--junitxml={xml}", *flags)
    result.assert_outcomes(passed=2)
    written = xml.read_text("utf-8")
    assert "external-key-7" not in written
    assert "pw-77" not in written
    # What the test wrote is still there, the secrets as ***.
    assert 'key="***"' in written
    assert '<property name="url" value="http://***@127.0.0.1:' in written
    assert "printed ***" in written


def test_a_key_that_xml_escapes_is_hidden_in_the_junit_xml_too(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = 'k&"<ey-7'
    monkeypatch.setenv("WEAVER_API_KEY", key)
    pytester.makepyfile(
        """
        def test_attribute(weaver_server, record_xml_attribute, record_testsuite_property):
            record_xml_attribute("key", str(weaver_server.api_key))
            record_testsuite_property("key", str(weaver_server.api_key))
            assert False, str(weaver_server.api_key)
        """
    )
    xml = pytester.path / "report.xml"
    with run_emulator(api_keys=(key,)) as server:
        args = ("--weaver-base-url", server.base_url, "-o", "junit_family=xunit1", "-W", "ignore")
        run(pytester, *args, f"--junitxml={xml}").assert_outcomes(failed=1)
    written = xml.read_text("utf-8")
    assert "k&amp;" not in written
    # Escaped as written, in element text and attributes alike, it is *** there.
    assert '<property name="key" value="***" />' in written
    assert 'key="***"' in written
    assert "AssertionError: ***" in written


def test_a_key_that_is_a_word_of_the_junit_xml_leaves_the_file_well_formed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key of 4 characters is hidden, and "test" is in the JUnit XML's markup too: taken
    # out of the file's whole text, it made <***suite ... ***s="1">, which no CI job reads.
    key = "test"
    monkeypatch.setenv("WEAVER_API_KEY", key)
    pytester.makepyfile(
        """
        def test_attribute(weaver_server, record_xml_attribute):
            record_xml_attribute("key", str(weaver_server.api_key))
        """
    )
    xml = pytester.path / "report.xml"
    with run_emulator(api_keys=(key,)) as server:
        args = ("--weaver-base-url", server.base_url, "-o", "junit_family=xunit1")
        run(pytester, *args, f"--junitxml={xml}").assert_outcomes(passed=1)
    suites = ET.parse(xml).getroot()  # noqa: S314 (pytest wrote it)
    assert suites.tag == "testsuites"
    suite = suites.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "1"
    case = suite.find("testcase")
    assert case is not None
    assert case.get("key") == "***"


def test_the_emulators_key_is_hidden_in_the_junit_xml_too(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    told = tmp_path / "key.txt"
    pytester.makepyfile(
        f"""
        import pathlib

        def test_suite_property(weaver_server, record_testsuite_property):
            pathlib.Path({str(told)!r}).write_text(str(weaver_server.api_key))
            record_testsuite_property("key", str(weaver_server.api_key))
        """
    )
    xml = pytester.path / "report.xml"
    run(pytester, f"--junitxml={xml}").assert_outcomes(passed=1)
    key = told.read_text()
    assert key.startswith("weaver-test-")
    written = xml.read_text("utf-8")
    assert key not in written
    assert '<property name="key" value="***" />' in written


def test_live_logging_and_the_log_file_hide_the_key_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # pytest prints live logging (log_cli) as it comes, and --log-file writes each record to
    # a file a CI job may keep: both showed the key and the password.
    pytester.makepyfile(
        """
        import logging

        def test_logs(weaver_server, caplog):
            key, url = weaver_server.api_key, weaver_server.base_url
            logging.getLogger("app").warning("sent %s to %s", key, url)
            # The test itself still sees what was logged.
            assert str(weaver_server.api_key) in caplog.text
        """
    )
    log = pytester.path / "run.log"
    result = run_hiding(pytester, secret_url, "-o", "log_cli=true", f"--log-file={log}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*WARNING*sent *** to http://***@127.0.0.1:*"])
    written = log.read_text("utf-8")
    assert "external-key-7" not in written
    assert "pw-77" not in written
    assert "sent *** to http://***@127.0.0.1:" in written


KEY_AS_PARAMETER = """
import pytest

# As a test may take it, from the environment the run gets it from.
@pytest.mark.parametrize("key", ["external-key-7", "wrong"])
def test_sent(weaver_server, key):
    assert key == "wrong"
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["in-process", "xdist"])
def test_a_parameter_that_holds_the_key_is_hidden_in_the_tests_id(
    pytester: pytest.Pytester, secret_url: str, workers: tuple[str, ...]
) -> None:
    # pytest makes a string parameter the test's id: the key of --weaver-base-url's server
    # showed in each line naming the test (-v, the short summary), in the JUnit XML's
    # testcase name and in the cache's record of failed tests (.pytest_cache, which a CI
    # job may keep).
    pytester.makepyfile(KEY_AS_PARAMETER)
    xml = pytester.path / "report.xml"
    args = ("--weaver-base-url", secret_url, "--weaver-api-key", "external-key-7")
    result = pytester.runpytest(
        *PLUGIN, "-p", "no:asyncio", *args, "-v", "-rA", f"--junitxml={xml}", *workers
    )
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "external-key-7" not in output
    result.stdout.fnmatch_lines(["FAILED test_*::test_sent[[]***[]]*"])
    assert "external-key-7" not in xml.read_text("utf-8")
    assert 'name="test_sent[***]"' in xml.read_text("utf-8")
    cached = [
        path.read_text() for path in pytester.path.rglob(".pytest_cache/**/*") if path.is_file()
    ]
    assert any("test_sent[***]" in text for text in cached)
    assert not any("external-key-7" in text for text in cached)
    # --lf finds the failed test by that id.
    again = pytester.runpytest(*PLUGIN, "-p", "no:asyncio", *args, "--lf")
    again.assert_outcomes(failed=1)


KEY_IN_IDS_BY_HAND = """
import os
import pytest

KEY = os.environ["THE_KEY"]

@pytest.mark.parametrize("key", [KEY], ids=[f"by-hand-{KEY}"])
def test_ids(weaver_server, key):
    assert key == "wrong"

@pytest.mark.parametrize("key", [pytest.param(KEY, id=f"param-{KEY}\\n")])
def test_param(weaver_server, key):
    pass

@pytest.fixture(params=[KEY], ids=[KEY])
def fixture_key(request):
    return request.param

def test_fixture(weaver_server, fixture_key):
    pass
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["in-process", "xdist"])
def test_an_id_given_by_hand_that_holds_the_key_is_hidden_too(
    pytester: pytest.Pytester,
    secret_url: str,
    workers: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pytest_make_parametrize_id is not asked for an id given by hand (ids=,
    # pytest.param(id=...), a fixture's ids=): it showed the key as a parameter's did.
    monkeypatch.setenv("THE_KEY", "external-key-7")
    pytester.makepyfile(KEY_IN_IDS_BY_HAND)
    xml = pytester.path / "report.xml"
    args = ("--weaver-base-url", secret_url, "--weaver-api-key", "external-key-7")
    result = pytester.runpytest(
        *PLUGIN, "-p", "no:asyncio", *args, "-v", "-rA", f"--junitxml={xml}", *workers
    )
    result.assert_outcomes(passed=2, failed=1)
    assert "external-key-7" not in result.stdout.str()
    # Escaped as pytest escapes an id given by hand.
    for line in (  # in the order xdist's workers end them
        "PASSED test_*::test_param[[]param-***\\n[]]*",
        "PASSED test_*::test_fixture[[]***[]]*",
        "FAILED test_*::test_ids[[]by-hand-***[]]*",
    ):
        result.stdout.fnmatch_lines([line])
    assert "external-key-7" not in xml.read_text("utf-8")
    cached = [
        path.read_text() for path in pytester.path.rglob(".pytest_cache/**/*") if path.is_file()
    ]
    assert any("test_ids[by-hand-***]" in text for text in cached)
    assert not any("external-key-7" in text for text in cached)
    again = pytester.runpytest(*PLUGIN, "-p", "no:asyncio", *args, "--lf", "-v")
    again.assert_outcomes(failed=1)


def test_ids_given_by_hand_that_differ_only_by_a_secret_stay_unique(
    pytester: pytest.Pytester,
) -> None:
    # Both ids became `***`: two tests of one name, where pytest numbers the ids it makes
    # of the same parameters (`***0`, `***1`); --lf and a report keyed by name took one
    # for the other.
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize(
            "secret",
            [pytest.param("key", id="external-key-7"), pytest.param("pw", id="pw-of-the-url")],
        )
        @pytest.mark.parametrize("n", [1, 2], ids=["one", "two"])
        def test_hand(secret, n):
            pass

        @pytest.mark.parametrize("secret", ["external-key-7", "pw-of-the-url"])
        def test_made(secret):
            pass
        """
    )
    url = "http://user:pw-of-the-url@127.0.0.1:9"
    args = ("--weaver-base-url", url, "--weaver-api-key", "external-key-7")
    result = run(pytester, *args, "--collect-only", "-q")
    names = [line for line in result.outlines if "::" in line]
    assert "external-key-7" not in result.stdout.str()
    assert len(names) == 6
    assert len(set(names)) == 6, names
    assert "test_made[***0]" in " ".join(names)


def test_a_bytes_parameter_that_holds_the_key_is_hidden_in_the_tests_id_too(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # pytest makes a bytes parameter the test's id as it does a string (os.environb, say):
    # the key showed in it. And a string's id, with the key hidden, lost pytest's escapes:
    # a newline in it broke the line that names the test.
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("key", [b"external-key-7", "external-key-7\\n\\u00e9"])
        def test_sent(weaver_server, key):
            pass
        """
    )
    result = run_hiding(pytester, secret_url, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [r"*::test_sent[[]***[]] PASSED*", r"*::test_sent[[]***\n\xe9[]] PASSED*"]
    )


def test_a_collection_error_hides_the_key_too(pytester: pytest.Pytester, secret_url: str) -> None:
    # A module that checks the key it reads when it is imported failed collection with the
    # key in pytest's report of that error: the key of --weaver-base-url is known before.
    pytester.makepyfile(
        """
        KEY = "external-key-7"
        assert KEY.startswith("sk-")

        def test_never():
            pass
        """
    )
    xml = pytester.path / "report.xml"
    result = run_hiding(pytester, secret_url, "-l", "--tb=long", f"--junitxml={xml}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*AssertionError: assert False*", "*where * = '***'.startswith*"])
    assert "external-key-7" not in xml.read_text("utf-8")


@pytest.mark.parametrize(
    ("url", "key", "named"),
    [
        ("http://127.0.0.1:9", "ab1", "--weaver-api-key"),
        ("http://u:p@127.0.0.1:9", "long-enough-key", "the user info of --weaver-base-url"),
        (
            "http://admin:pw@127.0.0.1:9",
            "long-enough-key",
            "the password of --weaver-base-url, shown alone,",
        ),
        (  # "pw!" as the client sends it: it was neither hidden nor warned of
            "http://admin:%70%77%21@127.0.0.1:9",
            "long-enough-key",
            "the password of --weaver-base-url, percent-decoded,",
        ),
    ],
)
def test_a_secret_too_short_to_hide_is_warned_of(
    pytester: pytest.Pytester, url: str, key: str, named: str
) -> None:
    # Shorter than 4 characters, it is left as it is: hidden, each "ab1" of a report (a
    # word, a number) would be *** too. It was left so without a word, where the README
    # says that the key is hidden.
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = run(pytester, "--weaver-base-url", url, "--weaver-api-key", key)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"*PytestConfigWarning: {named} is shorter than 4 characters: not hidden in *"]
    )
    assert result.stdout.str().count("shorter than 4 characters") == 1


def test_a_secret_too_short_to_hide_is_warned_of_once_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    # Each worker warned too: the summary listed the warning three times for -n 2.
    pytester.makepyfile("def test_plain():\n    pass\n")
    args = ("--weaver-base-url", "http://127.0.0.1:9", "--weaver-api-key", "ab1", "-n", "2")
    # The run in this process has the plugin imported already, which pytest warns of.
    result = run(pytester, *args, "-W", "ignore::pytest.PytestAssertRewriteWarning")
    result.assert_outcomes(passed=1, warnings=1)
    assert result.stdout.str().count("shorter than 4 characters") == 1


def test_weaver_server_repr_hides_the_key() -> None:
    server = WeaverServer(base_url="http://h:1", api_key="secret-123", data_dir=None)
    assert "secret-123" not in repr(server)
    # Nor a password in the URL, which --showlocals printed.
    # Nor any user info: either half may be the secret, a lone user name too.
    for userinfo in ("u:pw-9f", "tok-9f:x", "tok-9f"):
        with_password = WeaverServer(base_url=f"http://{userinfo}@h:1", api_key=None)
        assert repr(with_password) == "WeaverServer(base_url='http://***@h:1', data_dir=None)"
    # And so in a failed comparison, which pytest explains with the plugin's hook.
    explained = pytest_assertrepr_compare("==", server.api_key, "other")
    assert explained is not None
    assert "secret-123" not in "\n".join(explained)
    assert server.env()["WEAVER_API_KEY"] == "secret-123"
    assert WeaverServer(base_url="http://h:1", api_key=None).env() == {
        "WEAVER_BASE_URL": "http://h:1"
    }


def test_the_key_and_url_are_written_whole_by_yaml() -> None:
    # A test writing a config file for a subprocess needs them whole, as str() and
    # json.dumps give them: yaml.safe_dump raised "cannot represent an object", and
    # yaml.dump wrote a !!python/object tag that safe_load refuses.
    import yaml

    server = WeaverServer(base_url="http://u:pw-9f@h:1", api_key="secret-123", data_dir=None)
    config = {"key": server.api_key, "url": server.base_url, "env": server.env()}
    whole = {
        "key": "secret-123",
        "url": "http://u:pw-9f@h:1",
        "env": {"WEAVER_BASE_URL": "http://u:pw-9f@h:1", "WEAVER_API_KEY": "secret-123"},
    }
    assert yaml.safe_load(yaml.safe_dump(config)) == whole
    assert yaml.safe_load(yaml.dump(config)) == whole
    libyaml = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    assert yaml.safe_load(yaml.dump(config, Dumper=libyaml)) == whole
    assert "secret-123" not in repr(config)
    assert "pw-9f" not in repr(config)


def test_yaml_writes_them_whole_also_for_a_project_with_representers_of_its_own() -> None:
    # A representer a project adds (yaml.add_representer, whose default is yaml.Dumper, or
    # one on yaml.SafeDumper) gives that class a table of its own, copied before the plugin
    # added to its base's: safe_dump refused the key again, and dump wrote the tag.
    code = """if True:
        import json, yaml
        from collections import OrderedDict
        yaml.add_representer(OrderedDict, lambda d, v: d.represent_dict(v.items()))
        yaml.SafeDumper.add_representer(OrderedDict, lambda d, v: d.represent_dict(v.items()))
        from weaver_facade.pytest_plugin import WeaverServer
        server = WeaverServer(base_url="http://u:pw-9f@h:1", api_key="secret-123", data_dir=None)
        config = {"key": server.api_key, "url": server.base_url}
        written = [yaml.safe_dump(config), yaml.dump(config)]
        print(json.dumps([yaml.safe_load(text) for text in written]))
    """
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    whole = {"key": "secret-123", "url": "http://u:pw-9f@h:1"}
    assert json.loads(done.stdout) == [whole, whole]


# -- the async client and plain-data emulator options ------------------------------------


def test_an_async_test_gets_an_async_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from weaver_facade import AsyncServiceClient, datum_from_tokens

        @pytest.mark.asyncio
        async def test_resume(weaver_async_client):
            assert isinstance(weaver_async_client, AsyncServiceClient)
            trainer = await weaver_async_client.create_training_client("weaver-tiny")
            batch = [datum_from_tokens(list(b"async"))]
            await trainer.forward_backward(batch)
            await trainer.optim_step()
            saved = await trainer.save_state("async-1")
            assert saved.has_optimizer_state
        """
    )
    # Strict mode (pytest-asyncio's default): the fixture must be a pytest_asyncio fixture.
    result = pytester.runpytest(
        *PLUGIN,
        *("-p", "no:cacheprovider", "-o", "asyncio_mode=strict"),
        *("-o", "asyncio_default_fixture_loop_scope=function"),
    )
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("loop_scope", ["session", "module"])
def test_the_async_client_runs_on_the_tests_loop_whatever_the_default(
    pytester: pytest.Pytester, loop_scope: str
) -> None:
    # With a wider default fixture loop, every test errored at teardown: the client was
    # closed on a loop that was already gone.
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        async def test_one(weaver_async_client):
            await weaver_async_client.create_training_client("weaver-tiny")

        @pytest.mark.asyncio
        async def test_two(weaver_async_client):
            await weaver_async_client.create_training_client("weaver-tiny")
        """
    )
    result = pytester.runpytest(
        *PLUGIN,
        *("-p", "no:cacheprovider", "-o", "asyncio_mode=strict"),
        *("-o", f"asyncio_default_fixture_loop_scope={loop_scope}"),
    )
    result.assert_outcomes(passed=2)


def test_the_async_client_asked_for_by_name_on_a_running_loop_says_how_to_ask(
    pytester: pytest.Pytester,
) -> None:
    # pytest-asyncio cannot set an async fixture up from a running loop: the test failed
    # with "Runner.run() cannot be called from a running event loop", and a later test
    # was warned of a coroutine never awaited.
    pytester.makepyfile(
        """
        import gc

        import pytest
        import pytest_asyncio

        @pytest.mark.asyncio
        async def test_by_name(request):
            request.getfixturevalue("weaver_async_client")

        @pytest_asyncio.fixture
        async def models(request):
            return await request.getfixturevalue("weaver_async_client").supported_models()

        @pytest.mark.asyncio
        async def test_fixture_by_name(models):
            pass

        def test_later():
            gc.collect()
        """
    )
    result = pytester.runpytest(
        *PLUGIN,
        *("-p", "no:cacheprovider", "-o", "asyncio_mode=strict", "-rA"),
        *("-o", "asyncio_default_fixture_loop_scope=function", "-W", "error::RuntimeWarning"),
    )
    result.assert_outcomes(passed=1, failed=1, errors=1)
    output = result.stdout.str()
    # Once in each report's body; the short summary may repeat it whole (pytest does not
    # cut its lines to the terminal's width when the CI variable is set).
    bodies = [line for line in result.stdout.lines if not line.startswith(("ERROR ", "FAILED "))]
    said = "weaver_async_client cannot be set up on a running event loop"
    assert sum(said in line for line in bodies) == 2
    assert "Runner.run()" not in output
    assert "never awaited" not in output


def test_without_pytest_asyncio_the_async_fixture_says_so(pytester: pytest.Pytester) -> None:
    # A plugin loaded before ours makes pytest_asyncio unimportable, as if not installed.
    pytester.makepyfile(
        no_pytest_asyncio='import sys\nsys.modules["pytest_asyncio"] = None\n',
        test_x="def test_x(weaver_async_client): pass",
    )
    result = pytester.runpytest_subprocess("-p", "no_pytest_asyncio", *PLUGIN, *QUIET)
    result.assert_outcomes(errors=1)
    assert "weaver_async_client needs pytest-asyncio" in result.stdout.str()
    # One line, as the plugin's other refusals: not the plugin's own source around it.
    assert "_WITHOUT_ASYNC_CLIENT" not in result.stdout.str()


def test_a_pytest_asyncio_before_loop_scopes_fails_only_the_async_fixture(
    pytester: pytest.Pytester,
) -> None:
    # pytest-asyncio 0.23 (a common pin), as a plugin loaded before ours: its fixture() passes
    # its keywords on to pytest.fixture, which has no loop_scope. Loading the plugin failed
    # with a TypeError, and pytest ran no test at all, sync ones too.
    pytester.makepyfile(
        old_pytest_asyncio="""
        import sys
        import types

        import pytest

        def fixture(fixture_function=None, **kwargs):
            if fixture_function is not None:
                return pytest.fixture(fixture_function, **kwargs)
            return lambda function: pytest.fixture(function, **kwargs)

        old = types.ModuleType("pytest_asyncio")
        old.__version__ = "0.23.8"
        old.fixture = fixture
        sys.modules["pytest_asyncio"] = old
        """,
        test_x="""
        def test_sync(weaver_client):
            assert weaver_client.supported_models()

        def test_async(weaver_async_client):
            pass
        """,
    )
    result = pytester.runpytest_subprocess("-p", "old_pytest_asyncio", *PLUGIN, *QUIET)
    result.assert_outcomes(passed=1, errors=1)
    assert (
        "weaver_async_client needs pytest-asyncio 0.24 or newer, for its loop scopes "
        "(this is 0.23.8): pip install -U pytest-asyncio"
    ) in result.stdout.str()


def test_faults_given_as_plain_data(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def weaver_emulator_options():
            return {
                "faults": [
                    {"kind": "rate_limited", "rate": 1.0, "method": "GET",
                     "route": "/api/v1/supported-models", "retry_after": 7},
                ],
                "latency": {"optim_step": 0.0},
            }
        """
    )
    pytester.makepyfile(
        """
        import httpx

        def test_the_fault_fires(weaver_server):
            reply = httpx.get(
                weaver_server.base_url + "/api/v1/supported-models",
                headers={"X-WEAVER-API-KEY": weaver_server.api_key},
            )
            assert reply.status_code == 429
            assert reply.headers["Retry-After"] == "7"

        def test_other_routes_are_untouched(weaver_client):
            weaver_client.create_training_client("weaver-tiny").optim_step()
        """
    )
    run(pytester).assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("options", "unknown"),
    [
        ({"fault": []}, "unknown option fault; "),
        ({"fault": [], "latenc": {}}, "unknown options fault, latenc; "),
    ],
)
def test_unknown_emulator_options_are_named_in_a_noun_that_agrees(
    tmp_path: Path, options: dict[str, object], unknown: str
) -> None:
    # It said "unknown option(s)" for one option and for many.
    problem = _options_problem(options, tmp_path, "key")
    assert problem is not None
    assert problem.startswith(unknown)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        (
            '{"faults": [{"kind": "nope", "rate": 0.2}]}',
            "kind must be one of unavailable, rate_limited, drop, ignore_range, not 'nope'",
        ),
        ('{"faults": [{"kind": "drop"}]}', "'kind' and 'rate' are required"),
        ('{"faults": [{"kind": "drop", "rate": "often"}]}', "fault rate must be a number"),
        ('{"faults": {"kind": "drop", "rate": 0.1}}', "faults: unknown keys kind, rate"),
        ('{"faults": "kind=drop"}', "faults must be a list of rules"),
        ('{"latency": {"optim_step": "slow"}}', "latency for optim_step must be a number"),
        ('{"latency": [0.5]}', "latency must be a mapping of operation kind to seconds"),
        ('{"fault": []}', "unknown option fault; the options are latency, faults"),
        (
            '{"api_keys": ["mine"]}',
            "api_keys is the plugin's own: a fresh key each session (weaver_server.api_key)",
        ),
        (
            '{"data_dir": "/tmp/mine"}',
            "data_dir is the plugin's own: a pytest temporary directory (weaver_server.data_dir)",
        ),
        ('{"data_dir": "/tmp/mine", "fault": []}', "unknown option fault;"),
    ],
)
def test_a_wrong_emulator_option_is_one_clear_failure(
    pytester: pytest.Pytester, options: str, complaint: str
) -> None:
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture(scope="session")
        def weaver_emulator_options():
            return {options}
        """
    )
    pytester.makepyfile("def test_x(weaver_client): pass")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "weaver_emulator_options: " in output
    assert complaint in output
    assert "AttributeError" not in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("marker", "ini"),
    [
        ('(loop_scope="session")', "function"),
        ('(loop_scope="module")', "function"),
        ("", "session"),
        ("", "class"),
    ],
    ids=["marker-session", "marker-module", "ini-session", "ini-class"],
)
def test_the_async_client_runs_on_the_tests_loop_whatever_the_tests_loop_scope(
    pytester: pytest.Pytester, marker: str, ini: str
) -> None:
    # On a test run on a wider loop, the client (made on the fixture's function loop, first
    # used on the test's) hung for ever at teardown: aclose() waited for a heartbeat task
    # of a loop that was not running.
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.asyncio{marker}
        async def test_one(weaver_async_client):
            await weaver_async_client.create_training_client("weaver-tiny")

        @pytest.mark.asyncio{marker}
        async def test_two(weaver_async_client):
            await weaver_async_client.create_training_client("weaver-tiny")
        """
    )
    result = pytester.runpytest(
        *PLUGIN,
        *("-p", "no:cacheprovider", "-o", "asyncio_mode=strict"),
        *("-o", "asyncio_default_fixture_loop_scope=function"),
        *("-o", f"asyncio_default_test_loop_scope={ini}"),
        *("-p", "timeout", "--timeout", "30"),
    )
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("test_loop", ["module", "session"])
def test_a_fixture_on_the_function_loop_may_use_the_client_of_a_wider_loops_test(
    pytester: pytest.Pytester, test_loop: str
) -> None:
    # The client, made for the test's wider loop but first used on the fixture's function
    # loop, was closed after that loop: the models were terminated through new connections,
    # and the first ones, left on the closed loop, were one "unclosed transport" warning.
    pytester.makepyfile(
        f"""
        import gc

        import pytest
        import pytest_asyncio

        made = []

        @pytest_asyncio.fixture
        async def model_id(weaver_async_client):
            trainer = await weaver_async_client.create_training_client("weaver-tiny")
            made.append(trainer.model_id)
            return trainer.model_id

        @pytest.mark.asyncio(loop_scope="{test_loop}")
        async def test_uses_the_fixture(model_id):
            assert model_id

        def test_the_model_was_terminated(weaver_client):
            gc.collect()  # a transport left open says so when it is collected
            assert weaver_client.get_model(made[0]).status == "terminated"
        """
    )
    result = pytester.runpytest(
        *PLUGIN,
        *("-p", "no:cacheprovider", "-o", "asyncio_mode=strict"),
        *("-o", "asyncio_default_fixture_loop_scope=function", "-W", "error::ResourceWarning"),
        *("-p", "timeout", "--timeout", "30"),
    )
    result.assert_outcomes(passed=2)
    assert "unclosed" not in result.stdout.str()


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_blocks() -> tuple[str, str, str]:
    """The plugin section's command line, its test and its conftest.py, as printed."""
    section = README.read_text().split("## Testing your own code: the pytest plugin", 1)[1]
    blocks = re.findall(r"```(?:python)?\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    assert len(blocks) == 3, "the plugin section has not its three code blocks"
    command, test, conftest = blocks
    return command, test, conftest


def test_output_printed_as_it_comes_shows_the_key_as_the_readme_says(
    pytester: pytest.Pytester, secret_url: str
) -> None:
    # Hiding it would take wrapping sys.stdout (and fd 1, which a subprocess writes to): the
    # README says it is not filtered, and this holds that sentence to the truth.
    said = "what a test prints reaches the terminal whole, key and all"
    assert said in " ".join(README.read_text().split())
    pytester.makepyfile(
        """
        import sys

        def test_prints(weaver_server, capsys):
            print("printed", str(weaver_server.api_key))
            print("to stderr", str(weaver_server.api_key), file=sys.stderr)
            with capsys.disabled():
                print("disabled", str(weaver_server.api_key))
        """
    )
    args = ("--weaver-base-url", secret_url, "--weaver-api-key", "external-key-7")
    result = run(pytester, *args, "-s")
    result.assert_outcomes(passed=1)
    for line in ("*printed external-key-7*", "*disabled external-key-7*"):
        result.stdout.fnmatch_lines([line])
    result.stderr.fnmatch_lines(["*to stderr external-key-7*"])
    # Captured, it is hidden; only capsys.disabled() prints it as it comes.
    captured = run(pytester, *args, "-rA")
    for line in ("*disabled external-key-7*", "printed ***"):
        captured.stdout.fnmatch_lines([line])


def test_the_readme_snippets_run_as_printed(pytester: pytest.Pytester) -> None:
    command, test, conftest = _readme_blocks()
    line = command.splitlines()[0]
    args = line.split("#", 1)[0].split()
    assert args[0] == "pytest", line
    pytester.makeconftest(conftest)
    pytester.makepyfile(test_readme=test)
    pytester.runpytest(*args[1:], *QUIET).assert_outcomes(passed=1)


def test_the_readme_conftest_line_loads_the_plugin(pytester: pytest.Pytester) -> None:
    command, test, conftest = _readme_blocks()
    # The command's comment names the other way: that line in the top-level conftest.py.
    found = re.search(r"# (pytest_plugins = .*)", command)
    assert found, command
    pytester.makeconftest(f"{found.group(1)}\n{conftest}")
    pytester.makepyfile(test_readme=test)
    pytester.runpytest(*QUIET).assert_outcomes(passed=1)


def test_the_emulator_leaves_uvicorns_access_log_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator's server turned its access log off by emptying the process-wide
    # `uvicorn.access` logger and stopping its propagation: a handler of the user's there
    # was dropped, and pytest, which gives its capture handler to each logger that does not
    # propagate, then captured a line per request, a storage URL's signature too.
    access = logging.getLogger("uvicorn.access")
    users = logging.NullHandler()
    monkeypatch.setattr(access, "handlers", [users])
    monkeypatch.setattr(access, "propagate", True)
    pytester.makepyfile(
        """
        def test_download(weaver_client, tmp_path):
            trainer = weaver_client.create_training_client("weaver-tiny")
            artifact = trainer.export_weights(trainer.save_state("one"))
            weaver_client.download_weights(artifact, tmp_path)
            assert not "failed, to show the captured log"
        """
    )
    result = run(pytester, "-o", "log_level=INFO")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Captured log*"])
    assert "uvicorn.access" not in result.stdout.str()
    assert "signature=" not in result.stdout.str()
    assert access.handlers == [users]
    assert access.propagate
