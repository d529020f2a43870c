"""pytest fixtures for your own tests of code that uses weaver-facade.

Opt in on the command line, ``pytest -p weaver_facade.pytest_plugin``, or in
the ``conftest.py`` at the root of your tests::

    pytest_plugins = ["weaver_facade.pytest_plugin"]

Then::

    def test_resume(weaver_client):
        trainer = weaver_client.create_training_client("weaver-tiny")
        ...

Fixtures:

``weaver_server`` (session scope)
    A ``WeaverServer``: ``base_url``, ``api_key``, ``data_dir`` and ``env()``
    (the ``WEAVER_*`` variables, for subprocesses); the key and the URL's user info
    show as ``***`` in what pytest reports of a test. By default it is a local
    emulator started once per test session (it starts in milliseconds; tests
    stay independent by creating their own models: all share its one key, so
    ``list_models()`` lists every test's), with its state in one of
    pytest's temporary directories (kept as pytest keeps ``tmp_path``, for a
    look after a failure); this needs ``weaver-facade[emulator]``.
    With ``--weaver-base-url URL`` it is that server instead, with the key
    of ``--weaver-api-key`` or ``WEAVER_API_KEY``: the same tests then run
    against a real Weaver. It is sent one request, without retries, when the
    fixture is set up; without a reply (within 10 s, or the seconds of
    ``--weaver-setup-timeout``), each test that uses it fails at once, in one line.
    ``--weaver-emulator-port N`` has the emulator listen on 127.0.0.1:N rather than on
    a free port; a port in use fails each test that uses it, in one line (under
    pytest-xdist, each worker starts an emulator of its own: one port serves one).
``weaver_client`` (function scope)
    A ``ServiceClient`` connected to ``weaver_server``, closed after the test.
``weaver_async_client`` (function scope)
    An ``AsyncServiceClient`` connected to ``weaver_server``, closed after
    the test; for ``async def`` tests (needs pytest-asyncio 0.24 or newer).
    It is made, used and closed on the loop the test runs on, whatever its
    loop scope.
``weaver_emulator_options`` (session scope)
    Extra ``EmulatorConfig`` fields for the emulator, ``{}`` by default, as
    plain data (all but ``data_dir`` and ``api_keys``, which the plugin sets:
    ``weaver_server`` gives them). Override it in the root ``conftest.py`` (the rootdir's, or that
    of the folder holding every ``testpaths`` entry; for a folder outside
    ``testpaths``, run on its own, that at its top; for a module above them, run as
    ``pytest test_top.py``, that of its folder) to add latency or faults
    (the emulator starts once per session, or per xdist worker: a test that
    sees other options, from a folder's conftest.py, fails saying so,
    whichever tests are selected)::

        @pytest.fixture(scope="session")
        def weaver_emulator_options():
            return {
                "latency": {"save_checkpoint": 0.5},
                "faults": [{"kind": "unavailable", "rate": 0.2}],
            }

    A fault rule has ``kind`` (``unavailable``, ``rate_limited``, ``drop``,
    ``ignore_range``),
    ``rate`` (0 to 1) and optionally ``when``, ``method``, ``route`` and
    ``retry_after`` (whole seconds; see ``weaver_facade.emulator.FaultRule``); ``faults`` may
    also be ``{"rules": [...], "seed": N}``. A wrong option fails the tests
    that use the server, with one line naming it.

    ``{"extensions": "none"}`` gives an emulator without the spec's extensions,
    like today's Weaver; ``pytest --weaver-extensions LIST`` (``all``, ``none``
    or names) does the same for a whole run, unless the fixture sets
    ``extensions`` itself; a name the spec does not know is a usage error
    before any test runs.

The plugin is not installed as an entry point, so it never loads into test
suites that did not ask for it. Importing it does not import the emulator
(numpy, uvicorn): that happens when ``weaver_server`` first starts one.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import glob
import inspect
import itertools
import logging
import math
import os
import secrets
import sys
import urllib.parse
import warnings
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast
from xml.etree import ElementTree

import httpx
import pytest

from weaver_facade._redact import hide, holds, spelled

if TYPE_CHECKING:
    from weaver_facade import AsyncServiceClient, ServiceClient

__all__ = [
    "WeaverServer",
    "weaver_async_client",
    "weaver_client",
    "weaver_emulator_options",
    "weaver_server",
]


# Options the plugin sets itself, never taken from weaver_emulator_options: what each is.
_SET_BY_THE_PLUGIN = {
    "data_dir": "a pytest temporary directory (weaver_server.data_dir)",
    "api_keys": "a fresh key each session (weaver_server.api_key)",
}
# The weaver_emulator_options the session's emulator was started with.
_STARTED_WITH = pytest.StashKey[object]()
# Test id -> where the weaver_emulator_options it sees are overridden below the root
# conftest.py.
_OVERRIDDEN = pytest.StashKey[dict[str, str]]()
# The fixtures that start the session's emulator.
_USERS = frozenset({"weaver_server", "weaver_client", "weaver_async_client"})
# How long weaver_server waits for the reply of --weaver-base-url's server to its first
# request, unless --weaver-setup-timeout says; the connection has the client's default 5 s.
_SETUP_SECONDS = 10.0
_CONNECT_SECONDS = 5.0
# The fixtures of a scope above the function's that got weaver_server by name while they
# were set up.
_ASKED_BY = pytest.StashKey[set[object]]()
# The key, the URL's user info and its password of the session's weaver_server, taken out
# of reports: those of --weaver-base-url from pytest_configure on, the emulator's once it
# starts.
_SECRETS = pytest.StashKey[list[str]]()
# Puts back the sys.stderr that _HidingStream stands for.
_UNHIDE_STDERR = pytest.StashKey[Callable[[], None]]()
_SHORTEST_HIDDEN = 4


@dataclasses.dataclass(frozen=True)
class WeaverServer:
    """The server the fixtures talk to.

    Attributes:
        base_url: The server root, such as ``http://127.0.0.1:41237`` (its user info,
            if any, shown as ``***`` by its repr).
        api_key: The key to send, or ``None`` (its repr is ``'***'``, and the server's
            leaves it out).
        data_dir: The emulator's state directory; ``None`` for an external server.
    """

    base_url: str
    api_key: str | None = dataclasses.field(repr=False)
    data_dir: Path | None = None

    def __post_init__(self) -> None:
        # Hidden also where a test passes them on: a local shown by --showlocals, a diff.
        if _shown_url(self.base_url) != self.base_url:
            object.__setattr__(self, "base_url", _HiddenUrl(self.base_url))
        if self.api_key is not None:
            object.__setattr__(self, "api_key", _HiddenKey(self.api_key))
        _written_whole_by_yaml()

    def __repr__(self) -> str:
        return f"WeaverServer(base_url={_shown_url(self.base_url)!r}, data_dir={self.data_dir!r})"

    @property
    def is_emulator(self) -> bool:
        """Whether this is the local emulator started for the session."""
        return self.data_dir is not None

    def env(self) -> dict[str, str]:
        """``WEAVER_BASE_URL`` and ``WEAVER_API_KEY`` for a subprocess (add ``os.environ``).

        The values are strings whose repr leaves the key (and the URL's user info) out,
        also in a dict they are merged into, as pytest shows them (``--showlocals``, an
        assertion's message); the subprocess gets them whole.
        """
        env = {"WEAVER_BASE_URL": self.base_url}
        if self.api_key is not None:
            env["WEAVER_API_KEY"] = self.api_key
        return env


def _shown_url(url: str) -> str:
    """``url`` without its user info: either half of it, or a lone user name, may be the
    credential."""
    parts = urllib.parse.urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"***@{host}").geturl() if "@" in parts.netloc else url


class _HiddenKey(str):
    """The API key, left out of its repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


class _HiddenUrl(str):
    """A URL, its user info left out of its repr."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(_shown_url(str(self)))


def _written_whole_by_yaml() -> None:
    """Have PyYAML write the key and the URL as the strings they are, as ``str()`` and
    ``json.dumps`` do, for a config file a test writes: ``safe_dump`` refused them, and
    ``dump`` wrote a ``!!python/object`` tag that ``safe_load`` refuses."""
    try:
        from yaml.representer import SafeRepresenter
    except ImportError:
        return

    def plain(dumper: SafeRepresenter, data: str) -> Any:
        return dumper.represent_str(str(data))  # libyaml's emitter takes a str alone

    # A class that was given a representer (Representer; yaml.Dumper by yaml.add_representer;
    # a project's SafeDumper) has a table of its own, copied from its base's then: each such
    # table gets them; the other classes read their base's, and one given a representer
    # later copies a table that has them.
    found = [SafeRepresenter]
    while found:
        representer = found.pop()
        found.extend(representer.__subclasses__())
        if representer is SafeRepresenter or "yaml_representers" in vars(representer):
            for hidden in (_HiddenKey, _HiddenUrl):
                representer.add_representer(hidden, plain)


@pytest.hookimpl(tryfirst=True)
def pytest_assertrepr_compare(op: str, left: object, right: object) -> list[str] | None:
    """Compare the key or a URL with user info by their reprs alone: pytest's diff of two
    strings, and its ``not in`` context, show the text itself, the secret."""
    hidden = (_HiddenKey, _HiddenUrl)
    if not isinstance(left, hidden) and not isinstance(right, hidden):
        return None
    # The other side may hold the secret too: `assert key not in logged`, failing.
    secrets = [
        secret
        for side in (left, right)
        if isinstance(side, hidden)
        for secret in ([str(side)] if isinstance(side, _HiddenKey) else _url_secrets(side))
    ]
    return [
        f"{_masked(left, secrets)} {op} {_masked(right, secrets)}",
        "(the API key and the URL's user info are hidden: no diff of their text)",
    ]


def _user_info(url: str) -> str:
    """``url``'s user info, ``""`` if none."""
    return urllib.parse.urlsplit(url).netloc.rpartition("@")[0]


def _url_secrets(url: str) -> list[str]:
    """``url``'s user info and its password alone, as written and percent-decoded (as a
    client sends it), longest first: a password taken out of the URL is as secret."""
    password = urllib.parse.urlsplit(url).password or ""
    found = {_user_info(url), password, urllib.parse.unquote(password)}
    return sorted(filter(None, found), key=len, reverse=True)


def _masked(side: object, secrets: list[str]) -> str:
    """``side``'s repr, each of ``secrets`` in it shown as ``***``."""
    if isinstance(side, (_HiddenKey, _HiddenUrl)):
        return repr(side)
    if isinstance(side, str):
        return repr(_without(side, secrets))
    return _without(repr(side), secrets)


def _without(text: str, secrets: list[str]) -> str:
    """``text`` with each of ``secrets``, in any spelling (as written, or as a repr, a JSON
    text or a URL escapes it: the facade's ``spelled``), as ``***``."""
    for secret in filter(None, secrets):
        if holds(text, [secret]):
            text = hide(text, spelled(secret), "***")
    return text


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, Any]:
    """Take the key and the URL's user info out of what pytest shows of a test: the
    comparison hook above hides them in an assertion's comparison alone, not in the lines
    it is given (the "where" of ``caplog.text``), the captured log and output, nor locals."""
    report = yield
    secrets = item.config.stash.get(_SECRETS, [])
    if secrets:
        _hide_in_report(report, secrets)
        if isinstance(getattr(report, "wasxfail", None), str):  # -rA's XFAIL line, JUnit XML
            report.wasxfail = _without(report.wasxfail, secrets)
        # The JUnit XML's properties; the list is the item's own, so a copy is changed.
        report.user_properties = [
            (name, hidden)
            if (hidden := _without(str(value), secrets)) != str(value)
            else (name, value)
            for name, value in report.user_properties
        ]
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, Any]:
    """The same for a module's import (a check of the key it reads that fails, a skip):
    the key of ``--weaver-base-url`` is known before collection."""
    report = yield
    secrets = collector.config.stash.get(_SECRETS, [])
    if secrets:
        _hide_in_report(report, secrets)
    return report


def _hide_in_report(report: pytest.TestReport | pytest.CollectReport, secrets: list[str]) -> None:
    report.longrepr = _scrubbed(report.longrepr, secrets, set())
    report.sections = _scrubbed(report.sections, secrets, set())
    shown = str(report.longrepr)
    if (hidden := _without(shown, secrets)) != shown:  # a shape not walked
        report.longrepr = hidden


# pytest's escapes of the ASCII characters that are not printable, in an id.
_ASCII_ESCAPES = {i: f"\\x{i:02x}" for i in (*range(32), 127)} | {
    ord("\t"): "\\t",
    ord("\r"): "\\r",
    ord("\n"): "\\n",
}


def pytest_make_parametrize_id(config: pytest.Config, val: object) -> str | None:
    """A string (or bytes) parameter that holds the key of ``--weaver-base-url`` (or its
    user info) as the test's id, with them as ``***``: pytest names a test by its id in
    every line, the JUnit XML and its cache (``lastfailed``), where ``--lf`` finds it by
    that id again."""
    secrets = config.stash.get(_SECRETS, [])
    if not secrets or not isinstance(val, str | bytes):
        return None
    # Escaped as pytest escapes the id it makes of them (its ``ascii_escaped``).
    if isinstance(val, bytes):
        shown = val.decode("ascii", "backslashreplace")
    else:
        shown = val.encode("unicode_escape").decode("ascii")
    shown = shown.translate(_ASCII_ESCAPES)
    hidden = _without(shown, secrets)
    return hidden if hidden != shown else None


@pytest.hookimpl(wrapper=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> Generator[None, None, None]:
    """The same for an id given by hand (``ids=``, ``pytest.param(id=...)``, a fixture's
    ``ids=``), which ``pytest_make_parametrize_id`` is not asked for: changed in the calls
    pytest has made of the parameters, before it names the tests by them. Another shape
    than that of pytest 7.3 to 9 (dataclasses that hold the ids as ``_idlist``) is left."""
    yield
    secrets = metafunc.config.stash.get(_SECRETS, [])
    calls = getattr(metafunc, "_calls", None)
    if not secrets or not isinstance(calls, list):
        return
    # pytest escapes an id given by hand as the one it makes: ``_without`` finds them so.
    hidden: dict[int, list[str]] = {}
    for i, call in enumerate(calls):
        ids = getattr(call, "_idlist", None)
        if not dataclasses.is_dataclass(call) or isinstance(call, type) or ids is None:
            continue
        hidden[i] = [_without(str(id_), secrets) for id_ in ids]
    # Ids that differ only by a secret would name two tests alike (which --lf and reports
    # take for one): numbered where hidden, as pytest numbers the ids it makes alike.
    alike = collections.Counter("-".join(ids) for ids in hidden.values())
    taken = set(alike)
    numbers: collections.Counter[str] = collections.Counter()
    for i, ids in hidden.items():
        was = list(calls[i]._idlist)
        if ids == was:
            continue
        name = "-".join(ids)
        if alike[name] > 1:
            at = next(j for j, (old, new) in enumerate(zip(was, ids, strict=True)) if old != new)
            stem = ids[at] + ("_" if ids[at][-1:].isdigit() else "")
            while "-".join(ids) in taken:
                ids = [*ids[:at], f"{stem}{numbers[name]}", *ids[at + 1 :]]
                numbers[name] += 1
            taken.add("-".join(ids))
        calls[i] = dataclasses.replace(calls[i], _idlist=ids)


def _scrubbed(value: Any, secrets: list[str], seen: set[int]) -> Any:
    """``value`` with each of ``secrets`` in its strings as ``***``: pytest's reprs of a
    failure (dataclasses of lists, tuples and strings) changed in place."""
    if isinstance(value, str):
        return _without(value, secrets)
    if type(value) is tuple:
        return tuple(_scrubbed(v, secrets, seen) for v in value)
    if id(value) in seen:  # changed in place already
        return value
    seen.add(id(value))
    if isinstance(value, list):
        value[:] = [_scrubbed(v, secrets, seen) for v in value]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            # A frozen one is left whole: str() of the report is checked afterwards.
            with contextlib.suppress(AttributeError):
                setattr(value, field.name, _scrubbed(getattr(value, field.name), secrets, seen))
    return value


class _HidingOutsideReports:
    """Takes the key and the URL's user info out of what pytest shows outside a test's
    reports (which ``pytest_runtest_makereport`` hides them in), in hooks that are given
    no config."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    # First, so that the summary (and xdist, which sends it on) gets it changed: the hook
    # is historic, which takes no wrapper.
    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage) -> None:
        """The text of a warning a test raised, in the warnings summary."""
        secrets = self._config.stash.get(_SECRETS, [])
        text = str(warning_message.message)
        if (hidden := _without(text, secrets)) != text:
            # Its text alone, which is what the summary shows: its args would keep them.
            warning_message.message = hidden

    # First, so that the terminal's summary, which reads it here, gets it changed.
    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """The reason of ``pytest.exit()``, which ends the run without a report of the test,
        in the line that closes the run."""
        _hide_in_exit(excinfo.value, self._config.stash.get(_SECRETS, []))


def _hide_in_exit(exc: BaseException, secrets: list[str]) -> None:
    """The reason of a ``pytest.exit()``, its secrets as ``***``."""
    if isinstance(exc, pytest.exit.Exception) and secrets:
        exc.msg = _without(exc.msg, secrets)
        exc.args = (exc.msg,)  # what pytest's lines show, the exception's str()


class _HidingStream:
    """``sys.stderr``, the secrets of what is written to it as ``***``: from the plugin's
    ``pytest_configure`` until ``pytest_sessionstart`` has run, pytest writes the reason of a
    ``pytest.exit()`` there itself, before any hook that could change it (pluggy takes no
    wrapper of ``pytest_configure``, a historic hook)."""

    def __init__(self, stream: TextIO, secrets: list[str]) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        return self._stream.write(_without(text, self._secrets))

    def writelines(self, lines: Iterable[str]) -> None:
        # Else __getattr__ hands it the stream's own, which would write them whole.
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _hide_in_stderr(config: pytest.Config) -> None:
    """Have ``sys.stderr`` hide the secrets until ``pytest_sessionstart`` has run, or until
    the end of the run that a ``pytest.exit()`` ended before."""
    hiding = _HidingStream(sys.stderr, config.stash[_SECRETS])
    sys.stderr = cast(TextIO, hiding)

    def unhide() -> None:
        if sys.stderr is hiding:  # not if another has been put in its place since
            sys.stderr = hiding._stream

    config.stash[_UNHIDE_STDERR] = unhide
    config.add_cleanup(unhide)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    """Take the key and the URL's user info out of the JUnit XML that pytest has just
    written: a test writes some of it itself (``record_xml_attribute``,
    ``record_testsuite_property``), and a CI job keeps the file. And the reason of a
    ``pytest.exit()`` of that hook, which pytest writes to stderr itself."""
    secrets = session.config.stash.get(_SECRETS, [])
    try:
        yield
    except pytest.exit.Exception as exc:
        _hide_in_exit(exc, secrets)
        raise
    finally:
        _hide_in_junit_xml(session.config, secrets)


def _hide_in_junit_xml(config: pytest.Config, secrets: list[str]) -> None:
    path = _junit_xml_of(config)
    if not secrets or path is None or not os.path.isfile(path):
        return
    # In the values alone, as parsed: a secret may be a word of the markup too ("test",
    # as in <testcase>), and XML escapes some of its characters.
    try:
        root = ElementTree.parse(path).getroot()  # noqa: S314 (pytest wrote it)
    except ElementTree.ParseError:  # not as pytest writes it: left alone
        return
    changed = False
    for element in root.iter():
        for name, value in element.attrib.items():
            if value != (hidden := _without(value, secrets)):
                element.set(name, hidden)
                changed = True
        for end in ("text", "tail"):
            value = getattr(element, end)
            if value and value != (hidden := _without(value, secrets)):
                setattr(element, end, hidden)
                changed = True
    if changed:  # written as pytest writes it
        with open(path, "w", encoding="utf-8") as file:
            file.write('<?xml version="1.0" encoding="utf-8"?>')
            file.write(ElementTree.tostring(root, encoding="unicode"))


def _junit_xml_of(config: pytest.Config) -> str | None:
    """The file ``--junitxml`` wrote, or ``None`` (an xdist worker writes none)."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # not where pytest 7 to 9 keep it
        return None
    path = getattr(config.stash.get(xml_key, None), "logfile", None)
    return path if isinstance(path, str) else None


@pytest.hookimpl(wrapper=True)
def pytest_sessionstart(session: pytest.Session) -> Generator[None, None, None]:
    """Have pytest's live logging (``log_cli``) and ``--log-file`` write the records with the
    key and the URL's user info as ``***``: pytest prints and writes them as they come, not
    from a report. A test's own ``caplog`` still gets them whole. Then stop hiding them in
    stderr (``_HidingStream``)."""
    plugin = session.config.pluginmanager.get_plugin("logging-plugin")
    for name in ("log_cli_handler", "log_file_handler"):
        handler = getattr(plugin, name, None)
        if isinstance(handler, logging.Handler) and handler.formatter is not None:
            handler.setFormatter(_HidingFormatter(handler.formatter, session.config))
    yield
    session.config.stash.get(_UNHIDE_STDERR, lambda: None)()


class _HidingFormatter(logging.Formatter):
    """A handler's formatter, whose text has the secrets as ``***``."""

    def __init__(self, formatter: logging.Formatter, config: pytest.Config) -> None:
        super().__init__()
        self._formatter = formatter
        self._config = config

    def format(self, record: logging.LogRecord) -> str:
        return _without(self._formatter.format(record), self._config.stash.get(_SECRETS, []))


def _secrets_of(key: str | None, url: str) -> list[str]:
    """The key, the URL's user info and its password, to take out of what pytest shows,
    longest first (the user info whole, not as ``user:***``): shorter ones would match
    ordinary words of a report (a lone user name "u"), and pytest_configure warns of those
    of --weaver-base-url (the emulator's key is long)."""
    found = [key or "", *_url_secrets(url)]
    kept = [secret for secret in found if len(secret) >= _SHORTEST_HIDDEN]
    return sorted(kept, key=len, reverse=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--weaver-base-url``, ``--weaver-api-key``, ``--weaver-setup-timeout``,
    ``--weaver-extensions`` and ``--weaver-emulator-port``."""
    group = parser.getgroup("weaver", "weaver-facade fixtures")
    group.addoption(
        "--weaver-base-url",
        metavar="URL",
        default=None,
        help="Run the weaver_server/weaver_client fixtures against this server instead of "
        "a local emulator.",
    )
    group.addoption(
        "--weaver-api-key",
        metavar="KEY",
        default=None,
        help="The key for --weaver-base-url (default: $WEAVER_API_KEY).",
    )
    group.addoption(
        "--weaver-setup-timeout",
        metavar="SECONDS",
        default=None,
        help="How long weaver_server waits for the reply of --weaver-base-url's server to "
        f"its first request (default: {_SETUP_SECONDS:g}).",
    )
    group.addoption(
        "--weaver-extensions",
        metavar="LIST",
        default=None,
        help="The extensions the local emulator offers: all (default), none, or a "
        "comma-separated list of openapi.yaml's extension names.",
    )
    group.addoption(
        "--weaver-emulator-port",
        metavar="N",
        default=None,
        help="The port the local emulator listens on, on 127.0.0.1 (default: 0, a free one).",
    )


@pytest.hookimpl(tryfirst=True)  # before the others, for _HidingStream
def pytest_configure(config: pytest.Config) -> None:
    """Refuse ``--weaver-extensions`` or ``--weaver-emulator-port`` with
    ``--weaver-base-url``, and ``--weaver-api-key`` or ``--weaver-setup-timeout`` without
    it: each would be ignored. And a ``--weaver-extensions`` the emulator would refuse, a
    ``--weaver-emulator-port`` that is no port, a ``--weaver-setup-timeout`` that is no
    number of seconds above 0, or a ``--weaver-base-url`` (or its key) the client would
    refuse, once, rather than in every test."""
    config.pluginmanager.register(_HidingOutsideReports(config))
    # Given empty too (`--weaver-base-url "$URL"` with URL unset): refused, not the emulator.
    base_url = config.getoption("--weaver-base-url")
    extensions = config.getoption("--weaver-extensions")
    if base_url is not None and extensions is not None:
        raise pytest.UsageError(
            "--weaver-extensions chooses the local emulator's extensions; the server of "
            "--weaver-base-url offers its own"
        )
    if extensions is not None:
        try:  # without the extra, weaver_server says what to install when a test needs it
            from weaver_facade.emulator import EmulatorConfig
        except ImportError:
            pass
        else:
            try:
                EmulatorConfig(data_dir=Path(), extensions=extensions)
            except ValueError as exc:
                raise pytest.UsageError(f"--weaver-extensions: {exc}") from None
    port = config.getoption("--weaver-emulator-port")
    if port is not None:
        if base_url is not None:
            raise pytest.UsageError(
                "--weaver-emulator-port is the local emulator's port; with "
                "--weaver-base-url, the tests run against that server"
            )
        if _port(port) is None:
            raise pytest.UsageError(
                f"--weaver-emulator-port must be a port number from 0 to 65535, not {port!r}"
            )
    setup_timeout = config.getoption("--weaver-setup-timeout")
    if setup_timeout is not None:
        if base_url is None:
            raise pytest.UsageError(
                "--weaver-setup-timeout bounds the first request to --weaver-base-url's "
                "server; without that, the tests run against a local emulator"
            )
        if _seconds(setup_timeout) is None:
            raise pytest.UsageError(
                f"--weaver-setup-timeout must be a number of seconds above 0, not {setup_timeout!r}"
            )
    if base_url is None and config.getoption("--weaver-api-key") is not None:
        raise pytest.UsageError(
            "--weaver-api-key is the key of --weaver-base-url's server; without that, the "
            "tests run against a local emulator, which has its own"
        )
    if base_url is not None:
        from weaver_facade import InvalidArgumentError, ServiceClient

        option = config.getoption("--weaver-api-key")
        key = option or os.environ.get("WEAVER_API_KEY") or ""
        named = "--weaver-api-key" if option else "WEAVER_API_KEY"
        try:  # a client opens nothing until it is used
            ServiceClient(str(base_url), key, heartbeat_interval=0).close()
        except InvalidArgumentError as exc:  # its words never show a password, nor the key
            if str(exc).startswith(prefix := "api_key (or WEAVER_API_KEY)"):
                raise pytest.UsageError(named + str(exc).removeprefix(prefix)) from None
            words = str(exc).removeprefix("base_url")
            if str(exc).startswith("no Weaver server given"):  # a blank URL
                words = " is blank: give the server root, such as http://127.0.0.1:8080"
            elif words == str(exc):  # not the URL's fault (the environment's proxy, say)
                raise pytest.UsageError(str(exc)) from None
            raise pytest.UsageError("--weaver-base-url" + words) from None
        # Known now: hidden also in the ids of tests and in a module's import.
        config.stash[_SECRETS] = _secrets_of(key, str(base_url))
        if config.stash[_SECRETS]:
            _hide_in_stderr(config)
        user_info = _user_info(str(base_url))
        found = {named: key, "the user info of --weaver-base-url": user_info}
        if len(user_info) >= _SHORTEST_HIDDEN:  # else that is warned of
            password = urllib.parse.urlsplit(str(base_url)).password or ""
            found["the password of --weaver-base-url, shown alone,"] = password
            # As the client sends it, it may be short where the written one is not
            # ("%70%77%21" is "pw!"); where the written one is short, that is warned of.
            if len(password) >= _SHORTEST_HIDDEN:
                decoded = urllib.parse.unquote(password)
                found["the password of --weaver-base-url, percent-decoded,"] = decoded
        for name, secret in found.items():
            # Once: by the xdist controller, not by each of its workers too.
            if 0 < len(secret) < _SHORTEST_HIDDEN and not hasattr(config, "workerinput"):
                # Hidden, each such text of a report (a word, a number) would be *** too.
                config.issue_config_time_warning(
                    pytest.PytestConfigWarning(
                        f"{name} is shorter than {_SHORTEST_HIDDEN} characters: not hidden in "
                        "what pytest shows, where every such text would be *** as well"
                    ),
                    stacklevel=2,
                )


def _seconds(given: str) -> float | None:
    """``given`` as a number of seconds above 0, or ``None``."""
    try:
        seconds = float(given)
    except ValueError:
        return None
    return seconds if 0 < seconds < math.inf else None


def _port(given: str) -> int | None:
    """``given`` as a port number (0: a free one), or ``None``."""
    return int(given) if given.isascii() and given.isdigit() and int(given) <= 65535 else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Find the tests that see ``weaver_emulator_options`` from a folder's conftest.py (or a
    module) below the root one. Those fail, whichever test starts the emulator. Each test is
    judged by where it lies alone, not by the tests selected with it, so that its outcome
    does not depend on how the run was chosen (a folder, a file, ``-k``) nor on order."""
    root = _tests_root(config)
    overridden: dict[str, str] = {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or not _USERS.intersection(info.names_closure):
            continue  # the clients ask for the server only when they run
        where = _overridden_at(item, root)
        if where is not None:
            overridden[item.nodeid] = where
    config.stash[_OVERRIDDEN] = overridden


def _overridden_at(item: pytest.Item, root: str) -> str | None:
    """Where the ``weaver_emulator_options`` this test sees are overridden below the root
    conftest.py (a folder's conftest.py, or a module or class of tests), or ``None``."""
    manager = item.session._fixturemanager
    # pytest before 8.1 takes the node's id: given the node, every run was an INTERNALERROR.
    by_node = "node" in inspect.signature(manager.getfixturedefs).parameters
    node: Any = item if by_node else item.nodeid
    chain = manager.getfixturedefs("weaver_emulator_options", node)
    where = chain[-1].baseid if chain else ""
    if _within(_root_of(item.nodeid, root), where):
        return None
    in_tests = where.endswith(".py") or "::" in where
    return where if in_tests else f"{where}/conftest.py"


def _tests_root(config: pytest.Config) -> str:
    """The node id of the folder of the root conftest.py: the rootdir, or the folder that
    holds every ``testpaths`` entry (up to its first glob)."""
    folders = []
    for entry in config.getini("testpaths"):
        parts = itertools.takewhile(lambda part: not glob.has_magic(part), Path(entry).parts)
        folder = Path(os.path.normpath(config.rootpath.joinpath(*parts)))
        if not folder.is_relative_to(config.rootpath):
            return ""
        folders.append(folder.relative_to(config.rootpath))
    common = Path(os.path.commonpath(folders)).as_posix() if folders else "."
    return "" if common == "." else common


def _root_of(nodeid: str, tests_root: str) -> str:
    """The node id of the folder whose conftest.py gives this test its options: the tests
    root, or, for a test outside it (outside ``testpaths``, run only when named), the
    topmost folder holding it and no ``testpaths`` entry, whose conftest.py every run of
    the test loads and the runs of ``testpaths`` do not; for a module in a folder above the
    tests root (the rootdir, say), that folder, the deepest of the conftest.py files pytest
    gives the module, which the tests of ``testpaths`` see too."""
    if _within(nodeid, tests_root):
        return tests_root
    folder = Path(nodeid.partition("::")[0]).parent.parts
    shared = itertools.takewhile(
        lambda pair: pair[0] == pair[1], zip(folder, Path(tests_root).parts, strict=False)
    )
    common = len(list(shared))
    return "/".join(folder[: common + 1])


def _conftest_of(root: str) -> str:
    return f"{root}/conftest.py" if root else "the rootdir's conftest.py"


def _run_alone(nodeid: str, tests_root: str) -> tuple[str, str]:
    """The tests that share this test's root conftest.py, and what to run to run them
    alone: its root's folder, or, for a module in a folder above the tests root (the
    rootdir, say), whose run would collect the tests of ``testpaths`` too, the module."""
    root = _root_of(nodeid, tests_root)
    if root != tests_root and _within(tests_root, root):
        module = nodeid.partition("::")[0]
        return module, module
    return f"the tests under {_conftest_of(root)}", root or "."


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail an overriding test before its fixtures are set up: else it could be the one
    that starts the session's emulator, with its own options."""
    _refuse_overridden(item, item.config.stash.get(_OVERRIDDEN, {}).get(item.nodeid))


@pytest.hookimpl(wrapper=True, specname="pytest_runtest_setup")
def pytest_runtest_setup_then_refuse(item: pytest.Item) -> Iterator[None]:
    """See ``pytest_runtest_call``: for a fixture of the test that asked."""
    yield
    _refuse_server_asked_by_name(item)


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> None:
    """Fail a test that starts the session's emulator by asking for ``weaver_server`` with
    ``request.getfixturevalue`` (which collection does not see) where the options are
    overridden, before it starts with them: raised here, before pytest runs the fixture,
    the failure is not kept as the fixture's for every later test."""
    ours = getattr(fixturedef.func, "__module__", None) == __name__
    if fixturedef.argname == "weaver_server" and ours:
        item = getattr(request, "_pyfuncitem", None)
        if isinstance(item, pytest.Item):
            try:
                _refuse_overridden(item, _overridden_at(item, _tests_root(item.config)))
            except pytest.fail.Exception as exc:
                # Kept under a key no later request has, as pytest keeps a fixture of
                # another parameter: the next test that asks sets the server up anew
                # (pytest's own bookkeeping of this setup needs a result kept).
                fixturedef.cached_result = (None, object(), (exc, exc.__traceback__))
                raise


@pytest.hookimpl(wrapper=True, specname="pytest_fixture_setup")
def pytest_fixture_setup_note_asking(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Note a fixture that gets ``weaver_server`` by name: one of a module's scope, say, is
    set up for its first test alone, and the later tests that use it must be judged too."""
    # A fixture of function scope is set up anew for each test, which then asks itself.
    had = fixturedef.scope == "function" or "weaver_server" in request.fixturenames
    result = yield
    if not had and "weaver_server" in request.fixturenames:
        request.config.stash.setdefault(_ASKED_BY, set()).add(fixturedef)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test that got the session's emulator, started already, by asking for
    ``weaver_server`` with ``request.getfixturevalue`` where the options are overridden:
    pytest gives a fixture it has made without a hook, so this is known only afterwards."""
    try:
        yield
    except (Exception, pytest.fail.Exception):  # a failure it may owe to that emulator
        _refuse_server_asked_by_name(item)
        raise
    _refuse_server_asked_by_name(item)


def _refuse_server_asked_by_name(item: pytest.Item) -> None:
    request = getattr(item, "_request", None)  # the test's, which knows what it got by name
    if request is None or _USERS.intersection(getattr(item, "fixturenames", ())):
        return  # asked for as an argument: judged when collected
    asked_by = item.config.stash.get(_ASKED_BY, set())
    used = getattr(request, "_fixture_defs", {}).values()  # those set up for this test
    if "weaver_server" in request.fixturenames or any(d in asked_by for d in used):
        _refuse_overridden(item, _overridden_at(item, _tests_root(item.config)))


def _refuse_overridden(item: pytest.Item, where: str | None) -> None:
    if where is not None and not item.config.getoption("--weaver-base-url"):
        tests_root = _tests_root(item.config)
        root = _root_of(item.nodeid, tests_root)
        selection = _run_alone(item.nodeid, tests_root)[1]
        outside = f"outside testpaths: its tests run alone, as pytest {selection}"
        if _within(tests_root, root):  # a module above testpaths: its conftest.py is theirs
            outside += (
                "; the tests of testpaths see that override too, unless "
                f"{_conftest_of(tests_root)} sets theirs"
            )
        outside = f" ({outside})"
        pytest.fail(
            f"weaver_emulator_options is overridden for this test (in {where}), but the "
            "session's emulator starts once, with the options of the root conftest.py: "
            f"override the fixture in {_conftest_of(root)}"
            f"{outside if root != tests_root else ''}, or start another with "
            "weaver_facade.emulator.run_emulator()",
            pytrace=False,
        )


def _within(place: str, outer: str) -> bool:
    return not outer or place == outer or place.startswith((f"{outer}/", f"{outer}::"))


@pytest.fixture(scope="session")
def weaver_emulator_options() -> dict[str, Any]:
    """Extra ``EmulatorConfig`` fields for ``weaver_server``'s emulator (override to change)."""
    return {}


@pytest.fixture(scope="session")
def weaver_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    weaver_emulator_options: dict[str, Any],
) -> Iterator[WeaverServer]:
    """A Weaver server for the session: a local emulator, or ``--weaver-base-url``."""
    base_url = request.config.getoption("--weaver-base-url")
    if base_url:
        key = request.config.getoption("--weaver-api-key") or os.environ.get("WEAVER_API_KEY")
        server = WeaverServer(base_url=str(base_url).rstrip("/"), api_key=key or None)
        given = request.config.getoption("--weaver-setup-timeout")  # checked by pytest_configure
        _refuse_unreachable(server, _seconds(given) if given is not None else None)
        yield server
        return
    try:  # the app too: it is what needs numpy, which a project may lack on its own
        from weaver_facade.emulator import create_app, run_emulator  # noqa: F401
    except ImportError as exc:
        missing = exc.name
    else:
        missing = None
    if missing is not None:  # failed outside the except block: no chained traceback
        pytest.fail(
            "weaver_server needs the emulator: install 'weaver-facade[emulator]', or pass "
            f"--weaver-base-url URL (cannot import {missing})",
            pytrace=False,
        )
    # A fresh key per session: the emulator refuses requests without it, like a real server.
    key = f"weaver-test-{secrets.token_hex(8)}"
    data_dir = tmp_path_factory.mktemp("weaver-emulator")
    options = weaver_emulator_options
    extensions = request.config.getoption("--weaver-extensions")  # checked by pytest_configure
    if extensions is not None and isinstance(options, Mapping) and "extensions" not in options:
        options = {"extensions": extensions, **options}
    problem = _options_problem(options, data_dir, key)
    if problem is not None:
        pytest.fail(f"weaver_emulator_options: {problem}", pytrace=False)
    request.config.stash[_STARTED_WITH] = weaver_emulator_options
    given_port = request.config.getoption("--weaver-emulator-port")  # checked by pytest_configure
    port = 0 if given_port is None else _port(given_port) or 0
    with contextlib.ExitStack() as stack:
        failure: str | None = None
        try:
            emulator = stack.enter_context(
                run_emulator(data_dir, api_keys=(key,), port=port, **options)
            )
        except RuntimeError as exc:  # the port is in use, or the server failed to start
            failure = str(exc)
        if failure is not None:  # failed outside the except block: no chained traceback
            if given_port is not None:
                failure = f"--weaver-emulator-port {port}: {failure}"
                if hasattr(request.config, "workerinput"):  # one port serves one emulator
                    failure += " (under pytest-xdist, each worker starts an emulator of its own)"
            pytest.fail(f"weaver_server: {failure}", pytrace=False)
        server = WeaverServer(base_url=emulator.base_url, api_key=key, data_dir=data_dir)
        request.config.stash[_SECRETS] = _secrets_of(key, emulator.base_url)
        yield server


def _refuse_unreachable(server: WeaverServer, reply_seconds: float | None) -> None:
    """Fail when ``--weaver-base-url`` gives no reply to one request without retries, in
    one line: each test that used it retried for seconds, then failed with the package's
    traceback. Failed here, in the session's fixture, every later test fails at once."""
    from weaver_facade import APIConnectionError, ServiceClient, WeaverError

    __tracebackhide__ = True
    reply_seconds = reply_seconds or _SETUP_SECONDS
    shown = _shown_url(server.base_url)
    try:
        # Any reply (a refusal too) is a server's; bounded, so that a host that drops
        # packets, or a server that hangs, costs the run that once.
        with ServiceClient(
            server.base_url,
            server.api_key,
            heartbeat_interval=0,
            max_retries=0,
            timeout=httpx.Timeout(reply_seconds, connect=_CONNECT_SECONDS),
        ) as client:
            client.supported_models()
    except APIConnectionError as exc:  # its words hold neither the key nor a password
        timeout = exc.__cause__
        slower = "(a slower server needs a longer --weaver-setup-timeout)"
        # The facade's subclass of ReadTimeout: the headers came, the body was too slow.
        if isinstance(timeout, httpx.ReadTimeout) and type(timeout) is not httpx.ReadTimeout:
            words = (
                f"the reply of --weaver-base-url {shown} to its first request was still "
                f"arriving after {reply_seconds:g} s {slower}"
            )
        elif isinstance(timeout, httpx.ReadTimeout):  # reached, but slower than the bound
            words = (
                f"no reply within {reply_seconds:g} s from --weaver-base-url {shown} to its "
                f"first request {slower}"
            )
        elif isinstance(timeout, httpx.ConnectTimeout):
            words = f"no connection within {_CONNECT_SECONDS:g} s to --weaver-base-url {shown}"
        else:  # without the call's name, which is ours
            words = f"no reply from --weaver-base-url {shown}: {str(exc).partition(': ')[2]}"
    except WeaverError:
        return
    else:
        return
    # Failed outside the except block: no chained traceback.
    pytest.fail(f"weaver_server: {words}", pytrace=False)


@pytest.fixture(autouse=True)
def _weaver_emulator_options_agree(request: pytest.FixtureRequest) -> None:
    """Fail a test whose ``weaver_emulator_options`` are not those the session's emulator
    was started with. It starts once, for the first test that needs it: an override in a
    folder's conftest.py would apply to whichever tests ran first, or to none."""
    if not _USERS.intersection(request.fixturenames):
        return
    item = request.node
    assert isinstance(item, pytest.Item)
    tests_root = _tests_root(request.config)
    # Set up after a fixture of a higher scope that got the server by name: an override
    # below the root conftest.py is what to name.
    _refuse_overridden(item, _overridden_at(item, tests_root))
    request.getfixturevalue("weaver_server")
    if _STARTED_WITH not in request.config.stash:  # --weaver-base-url: no emulator
        return
    if request.getfixturevalue("weaver_emulator_options") != request.config.stash[_STARTED_WITH]:
        # Past the check above, only tests of another root conftest.py (a folder outside
        # testpaths, run beside them) see other options: each is right on its own.
        tests, selection = _run_alone(item.nodeid, tests_root)
        pytest.fail(
            "weaver_emulator_options differ here from those the session's emulator was "
            "started with (it starts once, for the first test that uses it, and this run "
            f"holds tests of more than one root conftest.py): run {tests} in a run of its "
            f"own (pytest {selection}), or start another with "
            "weaver_facade.emulator.run_emulator()",
            pytrace=False,
        )


def _server_for(request: pytest.FixtureRequest) -> WeaverServer:
    """``weaver_server``, for a client asked for by a test that may have been asked for
    with ``request.getfixturevalue``, which collection does not see: judged here, before
    the server starts, else it would start with this test's options."""
    item = request.node
    assert isinstance(item, pytest.Item)
    _refuse_overridden(item, _overridden_at(item, _tests_root(request.config)))
    server: WeaverServer = request.getfixturevalue("weaver_server")
    return server


@pytest.fixture
def weaver_client(request: pytest.FixtureRequest) -> Iterator[ServiceClient]:
    """A ``ServiceClient`` connected to ``weaver_server``; closed after the test."""
    from weaver_facade import ServiceClient

    weaver_server = _server_for(request)
    with ServiceClient(weaver_server.base_url, weaver_server.api_key) as client:
        yield client


def _options_problem(options: object, data_dir: Path, key: str) -> str | None:
    """What is wrong with ``weaver_emulator_options``, in one line, or ``None``."""
    from weaver_facade._plural import plural
    from weaver_facade.emulator import EmulatorConfig

    if not isinstance(options, Mapping):
        return f"expected a dict of EmulatorConfig fields, got {options!r}"
    fields = dataclasses.fields(EmulatorConfig)
    allowed = [f.name for f in fields if f.name not in _SET_BY_THE_PLUGIN]
    unknown = sorted(str(name) for name in options if name not in allowed)
    # Fields of EmulatorConfig, but not the user's to give: "unknown" would send them
    # looking for a misspelling.
    own = [name for name in unknown if name in _SET_BY_THE_PLUGIN]
    if unknown != own:
        unknown = [name for name in unknown if name not in own]
        noun = plural(len(unknown), "option")
        return f"unknown {noun} {', '.join(unknown)}; the options are {', '.join(allowed)}"
    if own:
        return (
            f"{own[0]} is the plugin's own: {_SET_BY_THE_PLUGIN[own[0]]}; for another, start "
            f"an emulator with weaver_facade.emulator.run_emulator({own[0]}=...)"
        )
    try:
        EmulatorConfig(data_dir=data_dir, api_keys=(key,), **options)
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def _on_loop(scope: str) -> Callable[..., Any]:
    """The async client as a pytest-asyncio fixture run on the event loop of ``scope``."""
    import pytest_asyncio

    # A function of its own per scope: pytest-asyncio marks the function with its loop.
    # The function loop comes first, so that it closes after the client: a fixture of the
    # test may use the client there first (its default loop), and the connections made on
    # a closed loop could no longer be closed.
    async def client_on_loop(
        weaver_server: WeaverServer, _weaver_function_loop: None
    ) -> AsyncIterator[AsyncServiceClient]:
        from weaver_facade import AsyncServiceClient

        async with AsyncServiceClient(weaver_server.base_url, weaver_server.api_key) as client:
            yield client

    return pytest_asyncio.fixture(  # type: ignore[no-any-return,call-overload]
        client_on_loop, loop_scope=scope, name=f"_weaver_async_client_on_{scope}_loop"
    )


def _function_loop() -> Callable[..., Any]:
    """A pytest-asyncio fixture that only sets up the test's function loop."""
    import pytest_asyncio

    async def function_loop() -> None:
        return None

    fixture: Callable[..., Any] = pytest_asyncio.fixture(
        function_loop, loop_scope="function", name="_weaver_function_loop"
    )
    return fixture


def _without_async_client() -> str | None:
    """Why the pytest-asyncio at hand (if any) cannot run ``weaver_async_client``."""
    try:
        import pytest_asyncio
    except ImportError:
        return "weaver_async_client needs pytest-asyncio (pip install pytest-asyncio)"
    # loop_scope= came in 0.24; before, fixture() passed it on to pytest.fixture, whose
    # TypeError failed the loading of this plugin, and with it every test, sync ones too.
    if "loop_scope" not in inspect.signature(pytest_asyncio.fixture).parameters:
        version = getattr(pytest_asyncio, "__version__", "?")
        return (
            "weaver_async_client needs pytest-asyncio 0.24 or newer, for its loop scopes "
            f"(this is {version}): pip install -U pytest-asyncio"
        )
    return None


_WITHOUT_ASYNC_CLIENT = _without_async_client()
if _WITHOUT_ASYNC_CLIENT is None:
    # One per loop scope: the client must be made, used and closed on the test's loop. Its
    # connections and heartbeat belong to the loop they were made on, so a client closed
    # on another loop hung for ever (a test on a session loop) or failed.
    _weaver_function_loop = _function_loop()
    _weaver_async_client_on_function_loop = _on_loop("function")
    _weaver_async_client_on_class_loop = _on_loop("class")
    _weaver_async_client_on_module_loop = _on_loop("module")
    _weaver_async_client_on_package_loop = _on_loop("package")
    _weaver_async_client_on_session_loop = _on_loop("session")


def _loop_running() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _test_loop_scope(request: pytest.FixtureRequest) -> str:
    """The scope of the event loop pytest-asyncio runs this test on."""
    marker = request.node.get_closest_marker("asyncio")
    scope = marker and (marker.kwargs.get("loop_scope") or marker.kwargs.get("scope"))
    if not scope:
        try:
            scope = request.config.getini("asyncio_default_test_loop_scope")
        except ValueError:  # no such option
            scope = None
    return str(scope or "function")


@pytest.fixture
def weaver_async_client(request: pytest.FixtureRequest) -> AsyncServiceClient:
    """An ``AsyncServiceClient`` connected to ``weaver_server``; closed after the test.

    It is made and closed on the test's own event loop, whatever the loop scope of the
    test (``@pytest.mark.asyncio(loop_scope=...)``, ``asyncio_default_test_loop_scope``)
    or the default of fixtures (``asyncio_default_fixture_loop_scope``).
    """
    if _WITHOUT_ASYNC_CLIENT is not None:
        pytest.fail(_WITHOUT_ASYNC_CLIENT, pytrace=False)
    if _loop_running():
        # pytest-asyncio runs the client's fixture on a loop of its own, which it cannot
        # from within another: it failed with words of asyncio's, and left a coroutine.
        pytest.fail(
            "weaver_async_client cannot be set up on a running event loop (by "
            "request.getfixturevalue in an async test or fixture): ask for it as an "
            "argument of the test or of a fixture",
            pytrace=False,
        )
    _server_for(request)
    client: AsyncServiceClient = request.getfixturevalue(
        f"_weaver_async_client_on_{_test_loop_scope(request)}_loop"
    )
    return client
