"""The kit's run: reach the server, pick a base model, run both parts, collect one report."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from weaver_client import limits

from weaver_facade import InvalidArgumentError, ServiceClient

from .._causes import (
    causes,
    environment_mounts,
    named_proxy,
    proxy_refusal,
    proxy_taken,
    proxy_words,
)
from .._extensions import CHECKPOINT_BY_ID, restrict_fields, restrict_spec
from .._extras import check_extra
from .._help import seconds_limit
from .._plural import counted
from .._redact import basic, credentials, replace_key, shown_url
from .._socket_deadline import bound_client, ends
from .._spec_schema import spec_path
from ._clients import kit_client
from ._conformance import ConformanceOutcome, auth_refused, missing_auth, run_conformance
from ._extensions import ExtensionProbe, probe_extensions
from ._findings import (
    API_KEY_HEADER,
    AVAILABILITY,
    PYTHON_NAMES,
    RETRIES,
    Finding,
    SettingNames,
    curl_for_request,
    dedupe,
    fold_server_wide,
    plain_seconds,
    redact,
)
from ._lifecycle import LifecycleOutcome, run_lifecycle
from ._ownership import left_note
from ._patience import RETRIED, UNWAITED, patient_client, retry_after
from ._spec import Spec, UnusableSpec, load_spec

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_EXAMPLES",
    "DEFAULT_TIME_LIMIT",
    "QUICK_MAX_EXAMPLES",
    "ContractReport",
    "ContractSettings",
    "ServerUnreachable",
    "UnknownBaseModel",
    "run_contract_test",
]

DEFAULT_MAX_EXAMPLES = 25
QUICK_MAX_EXAMPLES = 5
DEFAULT_STATEFUL_STEPS = 12
QUICK_STATEFUL_STEPS = 6
# Part 1 stops here whatever is left: a user asked for minutes, not for a complete search.
DEFAULT_TIME_LIMIT = 150.0
QUICK_TIME_LIMIT = 45.0
# How long the lifecycle waits for any one operation (a load that stays pending is a finding).
DEFAULT_DEADLINE = 60.0
FALLBACK_BASE_MODEL = "weaver-tiny"
FALLBACK_VOCAB = 256
_READY = frozenset({"available", "healthy", "ready", "active"})
# Statuses that say a model cannot be trained now: the last resort, after any other.
_DOWN = frozenset({"unavailable", "offline", "disabled", "down", "error", "failed", "retired"})
PARTS = ("conformance", "lifecycle")


def seconds_refusal(value: object, shown: str) -> str | None:
    """Why ``value`` (given as ``shown``) is no time in seconds for a setting, else None:
    the one check of ``ContractSettings`` and of the command line's options."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number of seconds, got {shown}"
    limit = seconds_limit(value)
    if limit is None and not value > 0:
        limit = "positive"
    return None if limit is None else f"must be {limit}, got {shown}"


def count_refusal(value: object, shown: str) -> str | None:
    """Why ``value`` (given as ``shown``) is no count of examples or steps, else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an int, got {shown}"
    if value < 1:
        return f"must be at least 1, got {shown}"
    return None


class ServerUnreachable(Exception):
    """No Weaver API at the base URL: not a finding, a usage problem (exit 2).

    Either no HTTP reply, or 404 from both routes every Weaver server has (a wrong path
    in the base URL, or another web server).
    """


class UnknownBaseModel(ValueError):
    """``base_model`` is none of the base models the server lists: a usage problem (exit 2),
    not the server's refusal to train it."""


def _shown_base_url(url: str) -> str:
    """``url`` with its user info as ``***@`` (``shown_url``), also where httpx reads none in
    a mistyped one (`` http://user:password@host``, ``http:/...``, ``user:password@host``),
    as the run's refusal of it shows it: all up to its last ``@`` but a scheme's ``://``."""
    shown = shown_url(url)
    if shown != url or "@" not in url:
        return shown
    return re.sub(r"^((?:[^:/]*://)?).*@", r"\1***@", url, flags=re.DOTALL)


@dataclass(frozen=True)
class ContractSettings:
    """What to test and how hard.

    Attributes:
        base_url: The server root, such as ``http://127.0.0.1:8080`` (no ``/api/v1``).
        api_key: Sent as ``X-WEAVER-API-KEY``; never printed.
        max_examples: Examples per operation and phase (and stateful scenarios).
        stateful_steps: Most steps of one stateful scenario.
        time_limit: Seconds part 1 may run.
        deadline: Seconds the extension probe and the lifecycle wait for any one
            operation, API request (its retries included) or clean-up, and the run for
            the reply to its first request, and storage downloads for bytes that do
            not come (a large file is not cut while its bytes come); not conformance's
            requests.
        base_model: The base model to train; by default the smallest the server lists.
        parts: Which parts to run (``conformance``, ``lifecycle``).
        spec_file: The spec to hold the server to; by default the checked-in openapi.yaml.

    Raises:
        InvalidArgumentError: A count below 1 or not an int, or a time that is not a
            positive, finite number of seconds of at most a year (as the command line).
    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    max_examples: int = DEFAULT_MAX_EXAMPLES
    stateful_steps: int = DEFAULT_STATEFUL_STEPS
    time_limit: float = DEFAULT_TIME_LIMIT
    deadline: float = DEFAULT_DEADLINE
    base_model: str | None = None
    parts: tuple[str, ...] = PARTS
    spec_file: Path | None = None

    def __repr__(self) -> str:
        # The base URL's user info may be credentials, which a traceback's locals and a
        # print show: hidden as the facade hides it.
        url: object = self.base_url
        try:
            url = _shown_base_url(url) if isinstance(url, str) else url
        except httpx.InvalidURL:
            url = "<a base URL httpx cannot read>"
        rest = (
            f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)[1:] if f.repr
        )
        return f"ContractSettings(base_url={url!r}, {', '.join(rest)})"

    def __post_init__(self) -> None:
        checks = (
            ("max_examples", count_refusal),
            ("stateful_steps", count_refusal),
            ("time_limit", seconds_refusal),
            ("deadline", seconds_refusal),
        )
        for name, refusal in checks:
            value = getattr(self, name)
            shown = repr(value) if isinstance(value, int | float) else type(value).__name__
            why = refusal(value, shown)
            if why is not None:
                raise InvalidArgumentError(f"ContractSettings.{name} {why}")


@dataclass
class ContractReport:
    """Everything a run found."""

    base_url: str
    spec_file: Path
    started_at: str
    base_model: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    conformance: ConformanceOutcome | None = None
    lifecycle: LifecycleOutcome | None = None
    extensions: ExtensionProbe | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def complete(self) -> bool:
        """Whether every part ran to its end: conformance stopped at its time limit did not."""
        return self.conformance is None or not self.conformance.cut_short


_NONE: frozenset[str] = frozenset()


class _Listing(NamedTuple):
    name: str | None
    vocab: int | None
    why: str | None
    names: frozenset[str]
    #: The listing's reply when it still asked to try later after its retries.
    later: httpx.Response | None = None


def _probe(
    base_url: str,
    api_key: str | None,
    *,
    deadline: float = DEFAULT_DEADLINE,
    named: SettingNames = PYTHON_NAMES,
) -> _Listing:
    """Reach the server; the smallest ready base model it lists (name, vocab), else the
    smallest it lists, or why none; and the names of all it lists. The wire names two
    statuses of a ready model ("available", "healthy") and leaves the others open.

    Its reply, its retries included, is waited for as long as ``deadline`` gives one
    request, however slowly it comes: a slow server is no missing one."""
    headers = {API_KEY_HEADER: api_key} if api_key else {}
    tunnelled: list[str] = []  # httpcore's trace: the proxy opened its tunnel
    headed = [False]  # and the last attempt's reply had come as far as its body

    def trace(event: str, info: Any) -> None:
        if event == "proxy.start_tls.started":
            tunnelled.append(event)
        elif event.endswith(".send_request_headers.started"):
            headed[0] = False
        elif event.endswith(".receive_response_headers.complete"):
            headed[0] = True

    mounts = environment_mounts()  # as its client reads them, once: not as they are later
    try:
        with (
            patient_client(timeout=httpx.Timeout(deadline, connect=min(deadline, 15.0))) as http,
            ends(time.monotonic() + deadline),
        ):
            reply = http.get(
                f"{base_url}{_LISTING}",
                params={"limit": limits.LIST_SUPPORTED_MODELS_LIMIT_MAXIMUM},
                headers=headers,
                extensions={"trace": trace},
            )
    except httpx.HTTPError as exc:
        proxy = proxy_taken(base_url, mounts)  # as its client's httpx decided
        if isinstance(exc, httpx.ReadTimeout):
            # A read that timed out was sent on a connection taken: the server's, or, short
            # of a tunnel, a proxy's, which holds the request while it cannot reach it.
            whole, coming = ("whole ", "the reply was still coming; ") if headed[0] else ("", "")
            what = (
                f"no {whole}reply from {base_url} within {plain_seconds(deadline)} s to GET "
                f"{_LISTING} ({coming}the time {named.deadline} gives one request)"
            )
            if proxy and not tunnelled:
                what += (
                    f" (through {named_proxy(proxy)}, which took the request: it may not "
                    "reach the server; see *_PROXY and NO_PROXY)"
                )
        else:
            what = f"cannot reach {base_url}: {type(exc).__name__}: {exc or 'no reply'}"
        raise ServerUnreachable(
            _hidden(
                what
                + proxy_words(
                    exc,
                    proxy,
                    tunnelled=bool(tunnelled),
                    refused=_tunnel_refused(proxy_refusal(exc)),
                ),
                _url_secrets(base_url),
            )
        ) from None
    if reply.status_code == 404:
        _not_the_api(base_url, headers, deadline)
    if reply.status_code != 200:
        answered = f"GET {_LISTING} answered {reply.status_code}"
        later = retry_after(reply.status_code, reply.headers, reply.content) is not None
        return _Listing(None, None, answered, _NONE, reply if later else None)
    try:
        items: Any = reply.json().get("items")
    except (ValueError, AttributeError):
        items = None
    if not isinstance(items, list):
        return _Listing(None, None, f"GET {_LISTING} did not list models", _NONE)
    names: set[str] = set()
    best: tuple[int, float, str, int | None, str] | None = None
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        names.add(item["name"])
        status = str(item.get("status", ""))
        config = item.get("config") if isinstance(item.get("config"), dict) else {}
        vocab = config.get("vocab_size") if isinstance(config, dict) else None
        size = vocab if isinstance(vocab, int) and vocab > 1 else None
        readiness = 0 if status.lower() in _READY else 2 if status.lower() in _DOWN else 1
        rank = (readiness, float(size) if size is not None else float("inf"), item["name"], size)
        if best is None or rank < best[:4]:
            best = (*rank, status)
    if best is None:
        return _Listing(None, None, "the server lists no base model", frozenset(names))
    readiness, _, name, size, status = best
    said = f"is {status!r}" if status else "has no status"
    why = f"the server lists no ready base model ({name!r} {said})" if readiness else None
    return _Listing(name, size, why, frozenset(names))


def _listing_unavailable(
    reply: httpx.Response, part: str, api_key: str | None, deadline: float, named: SettingNames
) -> Finding:
    """The availability finding of a base-model listing that still asked to try later."""
    status = reply.status_code
    retried = reply.extensions.get(RETRIED, RETRIES)
    how = f"still {status} after {counted(retried, 'retry', 'retries')}"
    unwaited = reply.extensions.get(UNWAITED)
    if unwaited is None:
        why = f"{how}: the server asked to try again later"
    else:  # a wait that would have outlasted the request's time
        said = f"{how}: then" if retried else f"{status}, not retried:"
        why = (
            f"{said} the server asked to try again in {plain_seconds(unwaited)} s, and the "
            f"time {named.deadline} gives one request ({plain_seconds(deadline)} s) came first"
        )
    return Finding(
        part=part,
        operation=f"GET {_LISTING}",
        check=AVAILABILITY,
        message=f"{why}, so the base models it trains could not be read",
        expected="an answer after the wait the server asked for",
        got=f"{reply.status_code} with Retry-After or `retryable: true`",
        curl=curl_for_request(reply.request, api_key),
    )


# The routes every Weaver server has, neither of which the spec lets answer 404.
_LISTING = "/api/v1/supported-models"
_SESSIONS = "/api/v1/sessions"
# What a server says of a route it does not have: 404, or (a static file server) no POST.
_NO_SUCH_ROUTE = frozenset({404, 405, 501})


@contextlib.contextmanager
def _client_within(headers: dict[str, str], seconds: float) -> Iterator[httpx.Client]:
    """A client whose requests, their replies read, all end within ``seconds`` from now
    (and by an end its caller set): httpx's timeouts bound each wait for bytes alone."""
    with (
        bound_client(kit_client(headers=headers, timeout=seconds)) as client,
        ends(time.monotonic() + seconds),
    ):
        yield client


def _not_the_api(base_url: str, headers: dict[str, str], deadline: float) -> None:
    """Raise ``ServerUnreachable`` when ``POST /api/v1/sessions`` has no route either: then
    the base URL is not a Weaver API's root, and every check would only find that again.

    The POST's body is not an object, so that an API which has the route refuses it
    (400 or 422) and makes nothing. Its requests, their replies read, end within 15 s in
    all at most, and no longer than ``deadline``: a server that never answers them, or
    answers a byte at a time, costs a run no more.
    """
    url = httpx.URL(base_url)
    found: httpx.Response | None = None
    with _client_within(headers, min(deadline, 15.0)) as client:
        try:
            status = client.post(f"{base_url}{_SESSIONS}", json=[]).status_code
        except httpx.HTTPError:
            return  # the run will say what became of the server
        if status not in _NO_SUCH_ROUTE:
            return
        root = str(url.copy_with(path="/", query=None, fragment=None)).rstrip("/")
        if url.path.strip("/"):
            with contextlib.suppress(httpx.HTTPError):
                found = client.get(f"{root}{_LISTING}")
    hint = ""
    if found is not None and found.status_code in (200, 401, 403):
        hint = f"; the API answers at {root}"
    secrets = _url_secrets(base_url)
    raise ServerUnreachable(
        _hidden(
            f"no Weaver API at {base_url}: GET {_LISTING} answered 404 and POST {_SESSIONS} "
            f"{status}, and every Weaver server has them (the kit adds /api/v1 to the base "
            f"URL, which is the server's root){hint}",
            secrets,
        )
    )


def _listed_checkpoint(
    base_url: str, api_key: str | None, *, within: float
) -> Callable[[Any], str | None]:
    """The path of a model's newest listed checkpoint, or None; each look-up, its reply
    read, ends within ``within`` seconds (and by an end its caller set, ``ends``)."""
    headers = {API_KEY_HEADER: api_key} if api_key else {}

    def newest(model_id: Any) -> str | None:
        if not isinstance(model_id, str):
            return None
        try:
            with _client_within(headers, within) as client:
                reply = client.get(f"{base_url}/api/v1/models/{model_id}/checkpoints")
            items = reply.json().get("items") if reply.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        if not isinstance(items, list) or not items or not isinstance(items[-1], dict):
            return None
        path = items[-1].get("path")
        return path if isinstance(path, str) else None

    return newest


def run_contract_test(
    settings: ContractSettings, progress: Callable[[str], None] = lambda _: None
) -> ContractReport:
    """Hold the server at ``settings.base_url`` to the spec.

    Raises:
        UnusableSpec: ``settings.spec_file`` cannot be used (before any request).
        ServerUnreachable: Nothing answers at the base URL, or no Weaver API does (the
            routes every server has answer 404).
        UnknownBaseModel: ``settings.base_model`` is none the server lists.
        InvalidArgumentError: The base URL is empty, or it or the key is not a str, or one
            the facade refuses (a key that no HTTP header can carry, say), before any request.
        ModuleNotFoundError: The ``contract`` extra is not installed (before any request).

    The others, and a ``KeyboardInterrupt``, come without the kit's frames behind this one.
    """
    callers = sys.exception()  # one the caller is handling, behind the kit's: its own frames
    try:
        return run_named(settings, progress, PYTHON_NAMES)
    except (
        UnusableSpec,
        ServerUnreachable,
        UnknownBaseModel,
        InvalidArgumentError,
        KeyboardInterrupt,
    ) as exc:
        # The kit's frames, and those of the errors behind it, hold the key and the base
        # URL in their arguments, which pytest shows, and locals (-l, rich, an error
        # tracker): its words say what happened without them.
        for each in causes(exc):
            if each is callers:
                break
            each.__traceback__ = None
        raise exc  # from this frame, whose arguments hold the settings, shown hidden


def run_named(
    settings: ContractSettings, progress: Callable[[str], None], named: SettingNames
) -> ContractReport:
    """``run_contract_test``, whose words call the settings ``named`` (the command line's
    options, where the user gave them so)."""
    check_extra("contract", "run_contract_test")
    url: object = settings.base_url  # None too: the facade's words name WEAVER_BASE_URL, unread
    if url is None or (isinstance(url, str) and not url.strip()):
        raise InvalidArgumentError(
            f"{named.base_url} is empty: give the server root, such as http://127.0.0.1:8080"
        )
    # Not a str: the facade's words offer None for its variable, which the kit never reads.
    for name, value in ((named.base_url, url), (named.api_key, settings.api_key)):
        if value is not None and not isinstance(value, str):
            raise InvalidArgumentError(
                f"{name} must be a str; got a value of type {type(value).__name__} (not shown)"
            )
    # The facade's own checks of the URL and the key; a client opens nothing until it is used.
    try:
        ServiceClient(settings.base_url, settings.api_key or "", heartbeat_interval=0).close()
    except InvalidArgumentError as exc:  # it names its own parameters, and their variables
        words = str(exc)
        for prefix, name in (
            ("base_url", named.base_url),
            ("api_key (or WEAVER_API_KEY)", named.api_key),
        ):
            if words.startswith(prefix):
                raise InvalidArgumentError(name + words.removeprefix(prefix)) from None
        raise
    # Sent as the facade sends them, without the blanks its checks drop (a key read from a
    # file ends in a line break, which no header can carry).
    settings = dataclasses.replace(
        settings,
        base_url=settings.base_url.strip(),
        api_key=(settings.api_key or "").strip() or None,
    )
    started = time.monotonic()
    base_url = settings.base_url.rstrip("/")
    spec_file = spec_path() if settings.spec_file is None else settings.spec_file
    spec = load_spec(spec_file)
    listed, vocab, why, names, later = _probe(
        base_url, settings.api_key, deadline=settings.deadline, named=named
    )
    if settings.base_model is not None and names and settings.base_model not in names:
        # The names are the server's: a hostile one may list the key, or the base URL's
        # credentials, as a model's.
        said = redact(f"({', '.join(sorted(names))})", settings.api_key)
        raise UnknownBaseModel(
            f"base model {settings.base_model!r} is not one the server lists "
            + _hidden(said, _url_secrets(base_url))
        )
    report = ContractReport(
        base_url=base_url,
        spec_file=spec_file,
        started_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        base_model=settings.base_model or listed or FALLBACK_BASE_MODEL,
    )
    if settings.base_model is None and why is not None:
        uses = listed or FALLBACK_BASE_MODEL
        report.notes.append(f"{why}; training uses {uses!r} (set {named.base_model})")
    vocab_size = vocab or FALLBACK_VOCAB
    findings: list[Finding] = []
    if later is not None:  # in the first part that runs
        findings.append(
            _listing_unavailable(
                later, settings.parts[0], settings.api_key, settings.deadline, named
            )
        )
    progress("extensions: probing which extensions the server offers")
    probe = probe_extensions(
        spec.document,
        base_url=base_url,
        api_key=settings.api_key,
        base_model=report.base_model,
        deadline=settings.deadline,
        deadline_name=named.deadline,
    )
    report.extensions = probe
    report.notes += [probe.note] if probe.note else []
    # Held only to the extensions seen offered: without one, its parameters are ignored,
    # and a field of the same name is the server's own.
    unseen = frozenset(probe.missing + probe.undetermined)
    if "conformance" in settings.parts:
        document = restrict_spec(spec.document, unseen)
        if not settings.api_key:
            _without_auth(document)
            report.notes.append(
                f"no API key was given ({named.api_key}), so conformance does not "
                "check that requests without one, or with a wrong one, are refused"
            )
        tested = Spec(document, secret=settings.api_key)
        progress(f"conformance: schemathesis over {len(tested.operations)} operations")
        report.conformance = run_conformance(
            document=document,
            spec=tested,
            spec_file=spec_file,
            base_url=base_url,
            api_key=settings.api_key,
            max_examples=settings.max_examples,
            stateful_steps=settings.stateful_steps,
            time_limit=settings.time_limit,
            base_model=report.base_model,
            vocab_size=vocab_size,
            # Only an aim for its TTL changes: a run's own request, within --deadline, and
            # 15 s at most, as before.
            checkpoint_path=_listed_checkpoint(
                base_url, settings.api_key, within=min(settings.deadline, 15.0)
            ),
            progress=progress,
            named=named,
        )
        findings += report.conformance.findings
        report.notes += report.conformance.notes
    refused = report.conformance.key_refused if report.conformance is not None else None
    if "lifecycle" in settings.parts and report.conformance is None:
        # The lifecycle's requests, each within --deadline: these three together too.
        refused = auth_refused(
            base_url, settings.api_key, until=time.monotonic() + settings.deadline
        )
        if refused is not None:  # the one finding that conformance gives when it runs
            findings.append(missing_auth(refused, settings.api_key, "every operation", named))
    if "lifecycle" in settings.parts and refused is not None:
        # Its first request would get the same: a second finding for one cause.
        report.notes.append(
            f"lifecycle: not run: the server refuses the API key ({refused} to every probe)"
        )
    elif "lifecycle" in settings.parts:
        report.lifecycle = run_lifecycle(
            # Every route kept: the facade calls one the server may lack, and reads its 404.
            Spec(restrict_fields(spec.document, unseen), secret=settings.api_key),
            base_url=base_url,
            api_key=settings.api_key,
            base_model=report.base_model,
            vocab_size=vocab_size,
            deadline=settings.deadline,
            run_id=uuid.uuid4().hex[:8],
            progress=progress,
            deadline_name=named.deadline,
        )
        findings += report.lifecycle.findings
        report.notes += report.lifecycle.notes
    left = {
        name: part.left
        for name, part in (
            ("probe", probe),
            ("conformance", report.conformance),
            ("lifecycle", report.lifecycle),
        )
        if part is not None
    }
    # One note for the run: each part's clean-up would repeat it, on every run against a
    # server without the delete.
    note = left_note(left, deletable=CHECKPOINT_BY_ID not in probe.missing)
    if note is not None:  # a name conformance generated may hold the key
        report.notes.append(redact(note, settings.api_key))
    report.findings = fold_server_wide(dedupe(findings))
    report.seconds = time.monotonic() - started
    # The base model may be a name the server lists, which a hostile one may make the
    # key: the report shows it, and the note of its choice quotes it.
    report.base_model = redact(report.base_model, settings.api_key)
    report.notes = [redact(note, settings.api_key) for note in report.notes]
    return _without_url_secrets(report)


def _tunnel_refused(status: int | None) -> bool:
    """A proxy's answer to the probe's CONNECT that no retry changes: a 4xx of its rules
    or its credentials, not its own load (408, 429) nor a gateway's 5xx."""
    return status is not None and status < 500 and status not in (408, 429)


def _url_secrets(base_url: str) -> list[str]:
    """The base URL's user info as written, and the secrets of the Basic credentials made
    of it (in UTF-8, as the kit sends them, schemathesis' requests too), by the facade's
    rule (``credentials``): either half may be the secret."""
    url = httpx.URL(base_url)
    if not url.userinfo:
        return []
    return [url.userinfo.decode("ascii"), *credentials(basic(url))]


def _hidden(text: str, secrets: list[str]) -> str:
    for secret in secrets:  # by the key's rule: a short one only where it stands alone
        text = replace_key(text, secret, "***")
    return text


def _without_url_secrets(report: ContractReport) -> ContractReport:
    """The report with the base URL's user info shown as ``***``: it reaches the
    report's URL and every curl line, whose Basic credentials would give it away too."""
    secrets = _url_secrets(report.base_url)
    if not secrets:
        return report

    def hide(f: Finding) -> Finding:
        curl = None if f.curl is None else _hidden(f.curl, secrets)
        return dataclasses.replace(
            f,
            message=_hidden(f.message, secrets),
            expected=_hidden(f.expected, secrets),
            got=_hidden(f.got, secrets),
            curl=curl,
        )

    report.base_url = _hidden(report.base_url, secrets)
    report.base_model = _hidden(report.base_model, secrets)
    report.findings = [hide(f) for f in report.findings]
    report.notes = [_hidden(n, secrets) for n in report.notes]
    for step in report.lifecycle.steps if report.lifecycle is not None else ():
        step.detail = _hidden(step.detail, secrets)
        step.findings = [hide(f) for f in step.findings]
    for part in (report.conformance, report.lifecycle):
        if part is not None:
            part.findings = [hide(f) for f in part.findings]
    if report.extensions is not None:  # its evidence quotes the server's replies too
        probe = report.extensions
        probe.note = None if probe.note is None else _hidden(probe.note, secrets)
        probe.evidence = {name: _hidden(why, secrets) for name, why in probe.evidence.items()}
    return report


def _without_auth(document: dict[str, Any]) -> None:
    """Drop the spec's security requirements: a run without a key cannot tell a server
    without auth (a local emulator) from one that ignores it, and would name every
    operation for it."""
    document.pop("security", None)
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
