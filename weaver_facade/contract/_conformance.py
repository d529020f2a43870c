"""Part 1: schemathesis holds a live server to openapi.yaml, every operation, phase and check.

What the spec cannot express, and schemathesis 4.32.5 does not guess, is configured here once,
for the kit and for the emulator's own schemathesis test:

* ``SEMANTIC_STATUSES``: the 4xx a schema-valid request may still get, per operation, because
  the rule behind them is semantic (a token outside the model's vocabulary...).
* ``adapt_workflow``: the stateful phase never starts a scenario with ``POST /sessions``
  (the dependency analysis reads the optional ``organization_id``/``project_id`` as references
  nothing produces), so each scenario opens with a generated session of its own; and a few
  random values are made valid so that the links reach training, checkpoints and operations
  that really run, and an operation is read with a long-poll so that, on a slow server too,
  it is over before its links are followed. On a remote server nothing can be reset between
  scenarios, so every scenario works on the session and models it created.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from weaver_client import limits

from .. import RetryPolicy
from .._causes import causes
from .._plural import counted
from .._sigterm import interrupted
from .._socket_deadline import bound_client, ends
from .._spec_schema import SCHEMA_REF
from ._clients import kit_client, schemathesis_target
from ._ends import Ends, bound_session
from ._findings import (
    AVAILABILITY,
    PYTHON_NAMES,
    RETRIES,
    Finding,
    SettingNames,
    clip,
    curl_for_request,
    plain_seconds,
    redact,
    redact_curl,
)
from ._ownership import Left, Ownership
from ._patience import resend_delay, retry_after, sending_transport
from ._spec import (
    NO_SUCH_RULE,
    BeyondRule,
    OperationResults,
    Problem,
    Spec,
    TakenKey,
    beyond_in_words,
    taken_keys,
)

if TYPE_CHECKING:
    from hypothesis.internal.constants_ast import Constants

__all__ = [
    "DEFAULT_POSITIVE",
    "SEMANTIC_STATUSES",
    "ConformanceOutcome",
    "adapt_workflow",
    "run_conformance",
    "schemathesis_config",
    "trainable",
]

# Answers that data valid by the schema may still get, because the schema cannot express the
# rule behind them. Each entry is narrow: one operation, and only the statuses it needs.
#   400: a payload.model_id that differs from the path's model; a token or target outside
#        the model's vocabulary, or targets/weights not one per input token (named by field);
#        a sequence or batch beyond the server's capacity (the wire bounds neither);
#        an opaque cursor this server did not issue; a lora_config.rank above the base model's
#        max_lora_rank, or lora_config with training_mode full_ft; a TTL path naming another
#        model than the path's; merge_adapter for a full_ft model (the wire sheet says it
#        is refused, not how).
#   422: on every POST, an Idempotency-Key reused with another body (generated keys repeat);
#        an unknown base_model; a checkpoint without optimizer state loaded with
#        include_optimizer; an incompatible checkpoint; merge_adapter for a full_ft model.
SEMANTIC_STATUSES: Mapping[str, tuple[str, ...]] = {
    "create_session": ("422",),
    "send_heartbeat": ("422",),
    "create_model": ("400", "422"),
    "terminate_model": ("422",),
    "forward_backward": ("400", "422"),
    "forward": ("400", "422"),
    "optim_step": ("400", "422"),
    "save_checkpoint": ("422",),
    "load_checkpoint": ("422",),
    "export_checkpoint": ("400", "422"),
    "export_model_weights": ("400", "422"),
    "list_checkpoints": ("400",),
    "set_checkpoint_ttl": ("400",),
}
DEFAULT_POSITIVE = ("2xx", "3xx", "401", "403", "404", "409", "429", "5xx")
API_KEY_HEADER = "X-WEAVER-API-KEY"

CREATE_SESSION = "POST /api/v1/sessions"
CREATE_MODEL = "POST /api/v1/sessions/{session_id}/models"
LIST_CHECKPOINTS = "GET /api/v1/models/{model_id}/checkpoints"
SET_TTL = "PATCH /api/v1/models/{model_id}/checkpoints/ttl"
GET_OPERATION = "GET /api/v1/operations/{operation_id}"
# The long-poll a workflow's operation reads use: an operation reached through a link is
# then over before its links onwards (a save's checkpoint) are followed, however slow the
# server, and a server that ignores `wait` answers at once as before.
LINK_WAIT = 10
# The longest a request of the part may take, its whole reply read: requests' timeouts bound
# each wait for bytes, and a reply sent a byte at a time none. A long-poll (``LINK_WAIT``)
# ends well within it.
REQUEST_LIMIT = 30.0
# schemathesis' wait for each of a request's bytes (its DEFAULT_RESPONSE_TIMEOUT).
_CASE_TIMEOUT = 10.0
# Why a request was cut that was not the server's doing: no finding, a note.
TIME_LIMIT = "the part's time limit came"
STOPPED = "the run was stopped"
TRAINING = (
    "POST /api/v1/models/{model_id}/forward-backward-passes",
    "POST /api/v1/models/{model_id}/forward-passes",
    "POST /api/v1/models/{model_id}/optimizer-steps",
)


class PatientTransport:
    """schemathesis' transport, sending a request again while the server asks to try later
    (``retry_after``), at most ``RETRIES`` times, within the part's time limit.

    An operation that still asks after ``RETRIES`` retries is not retried again, so that a
    route that is down does not use up the part's time.

    ``seen`` gets every request and its last reply: some are sent by schemathesis' checks
    past the ``after_call`` hook (the auth checks' probes without the key, say), and a
    server may create a session for one of them, whose id then comes back in generated
    cases. ``ran_out`` tells a reply that asked for a wait beyond the time limit.

    ``auth`` (requests') is the base URL's Basic credentials for every request, the auth
    checks' probes without the key too, as the kit's own requests carry them.

    A request whose reply was lost on the way (the connection closed after it was sent) is
    sent again as the kit's own requests are (``resend_delay``), if it is safe to repeat;
    ``unsafe_loss`` tells the error of one that is not: a transport fault, no finding.

    Each request, whole reply included, ends within ``REQUEST_LIMIT`` (a timeout, in those
    words), and by the part's deadline or at ``ends.stop`` (``_ends``), each then a timeout
    that ``cut_off`` tells: the part's end, no finding.
    """

    def __init__(
        self,
        inner: Any,
        deadline: float,
        seen: Callable[[Any, Any], None] = lambda c, r: None,
        auth: Any = None,
    ) -> None:
        self._inner = inner
        self._auth = auth
        self._deadline = deadline
        self._seen = seen
        self._lock = threading.Lock()
        self.retried = 0
        self.resent = 0
        self.down: set[str] = set()
        self._unsafe_losses: dict[int, BaseException] = {}
        # Kept, not marked: schemathesis' Response has __slots__. Holding them keeps their
        # ids from being reused.
        self._out_of_time: dict[int, Any] = {}
        self._retries: dict[int, tuple[Any, int]] = {}
        self.ends = Ends()
        self._cut_off: dict[int, BaseException] = {}
        #: The operations of the requests ``cut_off`` tells: on their way, not yet connected
        #: (``unconnected``: a name's lookup held them), or (``unsent``) their replies lost
        #: and not sent again, the wait before it ended by the stop.
        self.cut: set[str] = set()
        self.unconnected: set[str] = set()
        self.unsent: set[str] = set()

    def cut_off(self, error: BaseException) -> bool:
        """Whether ``error`` is a request cut at the part's time limit or stop."""
        with self._lock:
            return any(self._cut_off.get(id(e)) is e for e in causes(error))

    def retries_of(self, response: Any) -> int:
        """How many times the request of ``response``, which asked to try later, was sent
        again: none once its operation had used its retries (``down``)."""
        with self._lock:
            kept, retries = self._retries.get(id(response), (None, 0))
            return retries if kept is response else 0

    def ran_out(self, response: Any) -> bool:
        """Whether ``response`` asked for a wait beyond the part's time limit."""
        with self._lock:
            return self._out_of_time.get(id(response)) is response

    def unsafe_loss(self, error: BaseException) -> bool:
        """Whether ``error`` is a lost reply to a request not safe to send again."""
        with self._lock:
            return any(self._unsafe_losses.get(id(e)) is e for e in causes(error))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def send(self, case: Any, *, session: Any = None, **kwargs: Any) -> Any:
        if self._auth is not None:
            kwargs["auth"] = self._auth
        own = session is None  # schemathesis would send with a session of its own
        if own:
            from schemathesis.transport.requests import SameHostRedirectsSession

            session = SameHostRedirectsSession()
        try:
            response = self._send(case, session=bound_session(session), **kwargs)
        finally:
            if own:
                session.close()
        self._seen(case, response)
        return response

    def _bounded(self, case: Any, **kwargs: Any) -> Any:
        """schemathesis' send of ``case``, ended within ``REQUEST_LIMIT`` and the part."""
        ends = time.monotonic() + REQUEST_LIMIT
        why = f"no whole reply within {REQUEST_LIMIT:g} s"
        if ends >= self._deadline:
            ends, why = self._deadline, TIME_LIMIT
        with self.ends.sending(ends, why) as sending:
            try:
                return self._inner.send(case, **kwargs)
            except OSError as error:  # requests' errors are OSErrors
                if sending.cut is None:
                    raise
                from requests.exceptions import Timeout

                connected = sending.connected
                where = "the reply was still coming" if connected else "it was not yet connected"
                # Not a ReadTimeout, whose message schemathesis parses for urllib3's words.
                timeout = Timeout(f"{sending.cut} ({where})")
                if sending.cut != why or why == TIME_LIMIT:
                    with self._lock:
                        self._cut_off[id(timeout)] = timeout
                        (self.cut if connected else self.unconnected).add(case.operation.label)
                raise timeout from error

    def _send(self, case: Any, **kwargs: Any) -> Any:
        label = case.operation.label
        attempt = lost = 0
        slept = 0.0
        while True:
            try:
                response = self._bounded(case, **kwargs)
            except OSError as error:  # requests' errors are OSErrors
                if not _reply_lost(error):
                    raise
                request = _as_sent(self._inner.serialize_case(case, **kwargs))
                remaining = self._deadline - time.monotonic()
                delay = resend_delay(request, lost, slept=slept, remaining=remaining)
                if delay is None:
                    if not RetryPolicy.is_replayable(request):
                        with self._lock:
                            self._unsafe_losses[id(error)] = error
                    raise
                if self.ends.pause(delay):  # the part's end or a Ctrl-C: cut, not sent again
                    with self._lock:
                        self._cut_off[id(error)] = error
                        self.unsent.add(label)
                    raise
                with self._lock:
                    self.resent += 1
                lost += 1
                slept += delay
                continue
            wait = retry_after(response.status_code, response.headers, response.content)
            if wait is None:
                return response
            with self._lock:
                self._retries[id(response)] = (response, attempt)
            if label in self.down:
                return response
            if time.monotonic() + wait > self._deadline:
                # Not the server's failing: the wait it asked for is beyond the time limit.
                with self._lock:
                    self._out_of_time[id(response)] = response
                return response
            if attempt == RETRIES:
                with self._lock:
                    self.down.add(label)
                return response
            if self.ends.pause(wait):  # the part's end or a Ctrl-C: not checked
                with self._lock:
                    self._out_of_time[id(response)] = response
                return response
            with self._lock:
                self.retried += 1
            attempt += 1


def stopped_notes(patient: PatientTransport) -> list[str]:
    """A note for each operation a request of which the part's end or a stop cut."""
    said = (
        (patient.cut, "a reply was still coming when the part stopped"),
        (patient.unconnected, "a request was not yet connected when the part stopped"),
        (
            patient.unsent,
            "a reply was lost on the way and the part stopped before the request was sent again",
        ),
    )
    return [f"{label}: {what}: not checked" for labels, what in said for label in sorted(labels)]


def _reply_lost(error: BaseException) -> bool:
    """Whether ``error``, schemathesis' (requests'), is a connection closed after the
    request could have reached the server: not one refused, timed out or TLS's."""
    from requests import exceptions
    from urllib3.exceptions import ConnectTimeoutError

    if isinstance(error, exceptions.ChunkedEncodingError):
        return True
    unsent = (exceptions.ConnectTimeout, exceptions.SSLError, exceptions.ProxyError)
    if not isinstance(error, exceptions.ConnectionError) or isinstance(error, unsent):
        return False
    return not any(
        isinstance(getattr(e, "reason", None), ConnectTimeoutError) for e in (error, *error.args)
    )


def _as_sent(data: Mapping[str, Any]) -> httpx.Request:
    """The request (its method and headers: what makes it safe to repeat) that
    schemathesis sends for ``data`` (a serialized case)."""
    headers = data.get("headers") or {}
    return httpx.Request(
        str(data["method"]),
        "/",  # a generated path need not make a valid URL
        headers={k: v for k, v in headers.items() if str(k).isascii() and str(v).isascii()},
    )


# schemathesis' share of 401/403 replies that makes a `missing_auth` warning.
_REFUSED_SHARE = 0.9


class _KeyedReplies:
    """The statuses of the requests that carried the run's key, per operation.

    schemathesis' ``missing_auth`` counts every reply of a scenario, its own requests
    without the key too, and leaves out only a scenario that omits an ``Authorization``
    header; the kit's key is ``X-WEAVER-API-KEY``. A scenario cut short after its request
    without the key (a check failed at the TRACE after it) was "almost every request got
    401" for an operation whose keyed requests all got 404. Only the keyed requests tell
    whether the key was refused.
    """

    def __init__(self, api_key: str | None) -> None:
        self._key = api_key
        self._lock = threading.Lock()
        self._statuses: dict[str, Counter[int]] = {}

    def record(self, case: Any, response: Any) -> None:
        request = getattr(response, "request", None)
        headers = getattr(request, "headers", None) or {}
        sent = next((v for k, v in headers.items() if k.lower() == API_KEY_HEADER.lower()), None)
        if self._key is not None and sent != self._key:
            return
        with self._lock:
            counts = self._statuses.setdefault(case.operation.label, Counter())
            counts[response.status_code] += 1

    def refused(self, label: str, status_code: int) -> bool:
        """Whether almost every request of ``label`` with the key got ``status_code``."""
        counts = self._statuses.get(label, Counter())
        total = sum(counts.values())
        return total > 0 and counts[status_code] / total >= _REFUSED_SHARE


def _patient(schema: Any, transport: PatientTransport) -> None:
    """Give ``schema`` (and the clones the engine makes of it) ``transport``."""
    cls = type(schema)
    schema.__class__ = type(
        f"Patient{cls.__name__}", (cls,), {"transport": property(lambda _: transport)}
    )


def schemathesis_config(
    *,
    api_key: str | None,
    base_url: str | None = None,
    max_examples: int = 25,
    stateful_steps: int = 12,
    seed: int = 20261129,
) -> Any:
    """A SchemathesisConfig: all phases, all checks, auth for every request, semantic statuses."""
    from schemathesis.config import SchemathesisConfig

    operations: list[dict[str, Any]] = [
        {
            "include-operation-id": operation_id,
            "checks": {
                "positive_data_acceptance": {"expected-statuses": [*DEFAULT_POSITIVE, *statuses]}
            },
        }
        for operation_id, statuses in SEMANTIC_STATUSES.items()
    ]
    # Every case waits as long as schemathesis' default for each of its bytes; the project's
    # own timeout is then its opening probes' alone (``probe_timeout``).
    operations.append({"include-path-regex": "", "request-timeout": _CASE_TIMEOUT})
    settings: dict[str, Any] = {
        "seed": seed,
        # No example database: a run depends on its seed alone, not on what earlier runs,
        # perhaps against another server, left in .hypothesis/.
        "generation": {"max-examples": max_examples, "mode": "all", "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True, "max-steps": stateful_steps},
        },
        "checks": {"enabled": True},
        "warnings": {"fail-on": ["missing_auth"]},
        # Only the key is masked in code samples; the kit then points the header at
        # $WEAVER_API_KEY. The default would also mask Idempotency-Key values, and a
        # reproduction with a masked key is refused.
        "output": {
            "sanitization": {
                "keys-to-sanitize": [API_KEY_HEADER.lower()],
                "sensitive-markers": [API_KEY_HEADER.lower()],
            }
        },
        "operations": operations,
    }
    # schemathesis sends with requests, which trusts REQUESTS_CA_BUNDLE, not httpx's
    # SSL_CERT_FILE or SSL_CERT_DIR: every other request of the kit trusts those.
    ca = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
    if ca and not os.environ.get("REQUESTS_CA_BUNDLE"):
        settings["tls-verify"] = ca
    if api_key:
        settings["auth"] = {"openapi": {"ApiKeyAuth": {"api_key": api_key}}}
    if base_url:
        settings["base-url"] = base_url
    return SchemathesisConfig.from_dict(settings)


class _ProbesAuth:
    """``auth`` (requests', or None) as the basic auth of schemathesis' ``config`` until
    ``end``: the session of each opening probe takes it (``auth_for``) as its auth, whose
    URL, which schemathesis shows, has no user info. Not past them: a case's request has the
    transport's (``PatientTransport``), and the config's basic auth, put in a case's
    ``Authorization`` header, would take the place of the key's header."""

    def __init__(self, config: Any, auth: Any) -> None:
        self._config = config
        self._kept = config.auth.basic
        if auth is not None:
            config.auth.basic = auth

    def end(self) -> None:
        self._config.auth.basic = self._kept


def probe_timeout(remaining: float) -> float:
    """The wait for bytes of schemathesis' two opening probes (a NUL byte in a header, a
    backslash in a path): its own requests, sent past the transport and its ends, which
    wait ``_CASE_TIMEOUT`` for each connect and read by default. A quarter of the part's
    time left each, so that both end within it against a server that holds them."""
    return min(_CASE_TIMEOUT, max(remaining / 4, 0.05))


def trainable(body: Any, model_id: Any, vocab_size: int = 256) -> dict[str, Any] | None:
    """A training body aimed at the path's model, with tokens in the model's vocabulary.

    None when the body does not have the schema's shape (a negative case: left alone).
    """
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict) or not isinstance(model_id, str):
        return None
    payload = {**payload, "model_id": model_id}
    key = "forward_input" if "forward_input" in payload else "forward_backward_input"
    fb_input = payload.get(key)
    if isinstance(fb_input, dict) and isinstance(fb_input.get("data"), list):
        data = []
        for item in fb_input["data"]:
            model_input = item.get("model_input") if isinstance(item, dict) else None
            chunks = model_input.get("chunks") if isinstance(model_input, dict) else None
            if not isinstance(chunks, list):
                return None
            tokens = [
                t % vocab_size
                for c in chunks
                if isinstance(c, dict) and isinstance(c.get("tokens"), list)
                for t in c["tokens"]
                if isinstance(t, int)
            ]
            if not tokens:
                return None
            data.append(
                {
                    **item,
                    "model_input": {"chunks": [{"type": "encoded_text", "tokens": tokens}]},
                    "loss_fn_inputs": {
                        "target_tokens": {
                            "data": [(t + 1) % vocab_size for t in tokens],
                            "dtype": "int64",
                        },
                        "weights": {"data": [1.0] * len(tokens), "dtype": "float32"},
                    },
                }
            )
        payload[key] = {**fb_input, "data": data}
    return {**body, "payload": payload}


def _valid_wait(value: Any) -> bool:
    """Absent or in the spec's range: a negative case's bad `wait` is left alone."""
    if value is None:
        return True
    low, high = limits.GET_OPERATION_WAIT_MINIMUM, limits.GET_OPERATION_WAIT_MAXIMUM
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


def adapt_workflow(
    machine: type[Any],
    *,
    create_session: Any,
    base_model: str,
    vocab_size: int,
    checkpoint_path: Callable[[Any], str | None],
    stand_in: Callable[[Any], None] = lambda case: None,
) -> type[Any]:
    """The schema's state machine, with scenarios that start with a session of their own.

    Args:
        machine: ``schema.as_state_machine()`` or what the engine builds.
        create_session: The schema's ``POST /api/v1/sessions`` operation.
        base_model: A base model the server supports (models get it instead of a random one).
        vocab_size: Its vocabulary size (training tokens are taken modulo it).
        checkpoint_path: A listed checkpoint's path for a model id, or None; TTL changes aim
            at it (schemathesis reads the TTL route as a sub-resource of a save's URL and
            flags a 404 for a generated path that names no checkpoint).
        stand_in: Replaces, in a step's case, the ids the run must not act on
            (``Ownership.stand_in``), before the rest is adapted to them.
    """
    from hypothesis.stateful import Bundle, initialize
    from schemathesis.generation.stateful.state_machine import StepInput

    class Workflow(machine):  # type: ignore[misc]
        @initialize(target=Bundle("catch_all"), case=create_session.as_strategy())
        def start_with_a_session(self, case: Any) -> Any:
            # The same bookkeeping as schemathesis' own root steps, so that later steps find
            # their parent (links, use-after-free and resource-availability checks).
            step = StepInput.initial(case)
            self.recorder.record_case(case=case)
            self.control.record_step(step, self.recorder)
            return self.step(step)

        def before_call(self, case: Any) -> None:
            # Random values for the rules the schema cannot express are refused (400/422, as
            # the stateless phases check); fixing them here lets the links reach training,
            # checkpoints and operations that really run.
            stand_in(case)
            label = case.operation.label
            if label == CREATE_MODEL and isinstance(case.body, dict):
                case.body = {**case.body, "base_model": base_model}
            elif label in TRAINING and case.path_parameters:
                body = trainable(case.body, case.path_parameters.get("model_id"), vocab_size)
                if body is not None:
                    case.body = body
            elif label == LIST_CHECKPOINTS and case.query and "cursor" in case.query:
                # Only cursors this server issued are valid; without one the listing (and the
                # link to its first checkpoint: get, then delete) goes through.
                case.query = {k: v for k, v in case.query.items() if k != "cursor"}
            elif label == SET_TTL and isinstance(case.body, dict) and case.path_parameters:
                # With no checkpoint, the generated path names another model: a 400 the
                # semantic statuses allow.
                existing = checkpoint_path(case.path_parameters.get("model_id"))
                if existing is not None:
                    case.body = {**case.body, "path": existing}
            elif label == GET_OPERATION and _valid_wait((case.query or {}).get("wait")):
                case.query = {**(case.query or {}), "wait": LINK_WAIT}
            super().before_call(case)

    return Workflow


# -- running the engine -------------------------------------------------------------------------


@dataclass
class ConformanceOutcome:
    """What part 1 found, and how much it exercised."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (operation label, status) -> requests; the JUnit report has one case per operation.
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    operations: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stop_reason: str = ""
    #: Stopped at its time limit: its later phases may not have run.
    cut_short: bool = False
    #: The checkpoints its clean-up could not delete.
    left: list[Left] = field(default_factory=list)
    #: Requests sent again because the server asked to try later.
    retried: int = 0
    #: Requests sent again because their reply was lost on the way.
    resent: int = 0
    #: (operation, status, curl, retries made) of each reply that still asked to try
    #: later: not checked.
    later: list[tuple[str, int, str, int]] = field(default_factory=list)
    #: Operations of the replies that asked for a wait beyond the time limit: not checked.
    unchecked: list[str] = field(default_factory=list)
    #: (operation, check) of the failures the wire sheet leaves open: notes, not findings.
    left_open: set[tuple[str, str]] = field(default_factory=set)
    #: (field, value as JSON, rule) of each value beyond an open rule that the server took.
    taken_beyond: set[TakenKey] = field(default_factory=set)
    #: The status (401 or 403) every probe of the key got: the server refuses the key.
    key_refused: int | None = None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


def _head_and_listed(text: str) -> tuple[str, str]:
    """``text``'s first line, and the lines it announces when it ends with ':', one a line:
    the requests sent last before a server stopped responding, as curl commands, which
    schemathesis lists below that line (else the finding ended at "went away:")."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].endswith(":"):
        return _first_line(text), ""
    return f"{lines[0].removesuffix(':')} (the reproduction sends them again)", "\n".join(lines[1:])


def _problems_for(
    spec: Spec,
    check: str,
    failure: Any,
    case: Any,
    response: Any,
    taken: AbstractSet[TakenKey] = frozenset(),
) -> list[Problem] | None:
    """Re-check a failing reply with the kit's checker, so both parts use the same words;
    ``None`` when it has none to add (schemathesis' words then stand), ``[]`` when the
    reply conforms after all (a body the spec lets be absent, which schemathesis wants, or
    one that breaks only rules of the spec's own with values the run set: ``taken``)."""
    from schemathesis.openapi.checks import RejectedPositiveData

    op = spec.operations.get(failure.operation)
    if op is None or response is None:
        return None
    headers = {k: v[0] for k, v in response.headers.items() if v}
    if check == "not_a_server_error":  # schemathesis' own has a title and no message
        return [_server_error(response.status_code, headers, response.content or b"", spec.secret)]
    if isinstance(failure, RejectedPositiveData):
        return [spec.describe_refusal(op, case.body, response.status_code, response.content)]
    if check in (
        "status_code_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "content_type_conformance",
    ):
        body = response.content or b""
        found = spec.check_reply(op, response.status_code, headers, body, taken)
        # A body that is no JSON is the schema check's (the HTML page of a proxy, say).
        wanted = (
            {check, "response_schema_conformance"}
            if check == "content_type_conformance"
            else {check}
        )
        mine = [p for p in found if p.check in wanted]
        if mine or spec.without_body(op, response.status_code, body):
            return mine
        if taken and any(
            p.check in wanted for p in spec.check_reply(op, response.status_code, headers, body)
        ):
            return []  # only values the run set: a note (``_taken_note``)
    return None


def _server_error(
    status: int, headers: Mapping[str, str], body: bytes, secret: str | None
) -> Problem:
    """A 5xx reply in words: the Error body's code and message, else what the body was."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        said = f"`{data['error']}`: {clip(str(data.get('message', '')), 200, secret)}"
    elif not body.strip():
        said = "no body"
    else:
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "untyped")
        said = f"a {ctype} body"
    return Problem(
        "not_a_server_error",
        f"the server failed with {status} ({said})",
        expected="a reply below 500 (503 only to ask to try later)",
        got=str(status),
    )


_REJECTED = "negative_data_rejection"


def _what_was_invalid(case: Any) -> str | None:
    """What broke the spec in a negative case ("Missing request body"), on one line: a
    fuzzed case's description has a line per mutation, and a coverage case's may not name
    its parameter (schemathesis' own message says both on lines the finding leaves out)."""
    meta = getattr(case, "meta", None)
    data = None if meta is None else meta.phase.data
    description = getattr(data, "description", None)
    if not description:
        return None
    lines = (line.strip().removeprefix("- ") for line in str(description).splitlines())
    text = "; ".join(line for line in lines if line)
    parameter = getattr(data, "parameter", None)
    location = getattr(data, "parameter_location", None)
    where = getattr(location, "value", None)
    if parameter and where and where != "body" and str(parameter) not in text:
        text = f"{where} parameter `{parameter}`: {text}"
    return text


def _findings_for_failure(
    spec: Spec,
    check: str,
    failure: Any,
    case: Any,
    response: Any,
    curl: str,
    secret: str | None,
    taken: AbstractSet[TakenKey] = frozenset(),
) -> list[Finding]:
    """``taken``: values the run set beyond rules of the spec's own, which a reply may show
    (``ConformanceOutcome.taken_beyond``): notes, not findings, whatever else it breaks."""
    problems = _problems_for(spec, check, failure, case, response, taken)
    got = str(response.status_code) if response is not None else "no reply"
    if problems is None:
        invalid = _what_was_invalid(case) if check == _REJECTED else None
        problems = [
            Problem(
                check,
                f"{failure.title}: {_first_line(str(failure.message))}"
                + (f" ({invalid})" if invalid else ""),
                expected=f"{check} to pass",
                got=got,
            )
        ]
    return [
        Finding(
            part="conformance",
            operation=failure.operation,
            check=check if problem.check == "positive_data_acceptance" else problem.check,
            message=redact(problem.message, secret),
            expected=redact(problem.expected, secret),
            got=redact(problem.got, secret),
            curl=redact_curl(curl, secret, wrong_key=problem.check == "ignored_auth"),
        )
        for problem in problems
    ]


class _Context:
    """What schemathesis' warning collector asks of the CLI's execution context."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    def find_operation(self, label: str) -> Any:
        return self._schema.find_operation_by_label(label)


# Cheap reads of things that do not exist: 404 with a good key, 401/403 with a refused one.
_AUTH_PROBES = (
    ("GET /api/v1/models/{model_id}", "/api/v1/models/{}"),
    ("GET /api/v1/operations/{operation_id}", "/api/v1/operations/{}"),
    ("GET /api/v1/checkpoints/{checkpoint_id}", "/api/v1/checkpoints/{}"),
)


def auth_refused(
    base_url: str,
    api_key: str | None,
    counts: Counter[tuple[str, int]] | None = None,
    *,
    until: float | None = None,
) -> int | None:
    """The status every probe got when the server refuses our key (or its absence), else
    None; each probe's status is counted in ``counts``. The probes, replies read, end
    within 15 s, or by ``until`` (``time.monotonic``), if sooner.

    Without it a refused key costs a thousand requests and one finding per operation.
    """
    headers = {API_KEY_HEADER: api_key} if api_key else {}
    statuses = set()
    ends_at = time.monotonic() + 15.0
    client = bound_client(kit_client(base_url=base_url, headers=headers, timeout=15.0))
    with client, ends(ends_at if until is None else min(ends_at, until)):
        for label, path in _AUTH_PROBES:
            try:
                reply = client.get(path.format(uuid.uuid4()))
            except httpx.HTTPError:
                return None  # unreachable now: let the run report it
            if counts is not None:
                counts[(label, reply.status_code)] += 1
            statuses.add(reply.status_code)
    (status,) = statuses if len(statuses) == 1 else (None,)
    return status if status in (401, 403) else None


def _limit_ignored(case: Any, response: Any, api_key: str | None) -> Finding | None:
    """A page longer than the ``limit`` asked for: no schema check sees a server that
    validates ``limit`` and ``offset`` and then ignores them."""
    limit = (case.query or {}).get("limit")
    if isinstance(limit, str) and limit.isdigit():
        limit = int(limit)
    if not isinstance(limit, int) or isinstance(limit, bool) or response.status_code != 200:
        return None
    try:
        items = response.json().get("items")
    except (ValueError, AttributeError):
        return None
    if not isinstance(items, list) or len(items) <= limit:
        return None
    return Finding(
        part="conformance",
        operation=case.operation.label,
        check="paging",
        message=f"{counted(len(items), 'item')} for limit={limit}: the server ignores `limit`",
        expected=f"at most {counted(limit, 'item')}",
        got=counted(len(items), "item"),
        # The headers sent, as schemathesis' own code samples have them: the case alone has
        # no credentials of the base URL's user info, which go as requests auth.
        curl=redact_curl(case.as_curl_command(headers=dict(response.request.headers)), api_key),
    )


def missing_auth(
    status_code: int, api_key: str | None, operations: str, named: SettingNames = PYTHON_NAMES
) -> Finding:
    hint = "the API key was refused" if api_key else f"no API key was given ({named.api_key})"
    return Finding(
        part="conformance",
        operation=operations,
        check="missing_auth",
        message=f"almost every request got {status_code}: {hint}",
        expected="requests with the key accepted",
        got=f"{status_code} for most requests",
    )


def by_part_end(lookup: Callable[[Any], str | None], until: float) -> Callable[[Any], str | None]:
    """``lookup`` (``run_conformance``'s ``checkpoint_path``), its requests ended by
    ``until`` (``time.monotonic``) at their sockets: the part's end."""

    def looked_up(model_id: Any) -> str | None:
        with ends(until):
            return lookup(model_id)

    return looked_up


class _OwnHypothesis:
    """Hypothesis keeps caches in ``.hypothesis/`` of the working directory, whatever the
    database (a Unicode table; the constants of the program's source files, with their
    paths): runs keep them in a folder of their own, removed after them. And it draws now
    and then from the short constants of every local module the process has loaded: runs
    draw from none, so that their cases depend on the seed, not on what the caller
    imported, and send none of its literals to the server. Both are the process's: runs
    that overlap (in threads) share them, and the last gives back what the first found,
    not what another run had set or removed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._found: Path | None = None
        self._own = ""
        self._constants: Callable[[], Constants] | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        from hypothesis.configuration import set_hypothesis_home_dir, storage_directory

        with self._lock:
            if not self._runs:
                self._constants = _local_constants(None)  # first: it may refuse
                try:
                    self._found = storage_directory(intent_to_write=False).home_directory
                    self._own = tempfile.mkdtemp(prefix="weaver-contract-")
                except BaseException:  # no run: the lookup it replaced is given back
                    if self._constants is not None:
                        _local_constants(self._constants)
                    raise
                set_hypothesis_home_dir(self._own)
            self._runs += 1
        try:
            yield
        finally:
            with self._lock:
                self._runs -= 1
                if not self._runs:
                    set_hypothesis_home_dir(self._found)
                    shutil.rmtree(self._own, ignore_errors=True)
                    if self._constants is not None:
                        _local_constants(self._constants)


def _local_constants(lookup: Callable[[], Constants] | None) -> Callable[[], Constants] | None:
    """Put ``lookup`` (``None``: one finding none) in the place of Hypothesis' lookup of
    the local constants, drop what it cached of them, and return the lookup it replaced;
    ``None`` for a Hypothesis older than its drawing of them (no ``constants_ast``):
    nothing to replace. Hypothesis has no setting for it: these are private names of the
    pinned version, and a Hypothesis that draws them through others stops the run, with
    nothing changed, rather than let it draw the caller's constants."""
    import hypothesis

    try:
        from hypothesis.internal.constants_ast import Constants
    except ImportError:
        return None
    from hypothesis.internal.conjecture import providers

    try:
        found, cached = providers._get_local_constants, providers.CONSTANTS_CACHE.cache
    except AttributeError as e:
        raise RuntimeError(
            f"the contract kit cannot keep Hypothesis {hypothesis.__version__} from drawing "
            f"the constants of its caller's source ({e}): use the Hypothesis version of "
            "weaver-facade's constraints.txt"
        ) from e
    none = Constants()
    providers._get_local_constants = (lambda: none) if lookup is None else lookup
    cached.clear()
    return found


_hypothesis_of_its_own = _OwnHypothesis().held


@_hypothesis_of_its_own()
def run_conformance(
    *,
    spec: Spec,
    spec_file: Path,
    base_url: str,
    api_key: str | None,
    max_examples: int,
    stateful_steps: int,
    time_limit: float,
    base_model: str,
    vocab_size: int,
    checkpoint_path: Callable[[Any], str | None],
    progress: Callable[[str], None] = lambda _: None,
    document: Mapping[str, Any] | None = None,
    named: SettingNames = PYTHON_NAMES,
) -> ConformanceOutcome:
    """Run every phase over every operation against ``base_url``; stop at ``time_limit``.

    ``document``, when given, is the spec to test (``spec_file`` restricted to the
    extensions the server offers); ``spec`` must describe the same document. ``named``:
    what its words call the settings.
    """
    import schemathesis
    from schemathesis.cli.commands.run.warnings import WarningCollector
    from schemathesis.engine import events, from_schema
    from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

    target, auth = schemathesis_target(base_url)
    config = schemathesis_config(
        api_key=api_key,
        base_url=target,
        max_examples=max_examples,
        stateful_steps=stateful_steps,
    )
    if document is None:
        schema = schemathesis.openapi.from_path(spec_file, config=config)
    else:
        # A copy of its own: schemathesis inlines `$ref`s of the document it is given in
        # place, where ``spec`` reads them (a 201 save's schema pointer, see reply_pointer).
        schema = schemathesis.openapi.from_dict(copy.deepcopy(dict(document)), config=config)
    build = schema.build_state_machine
    create_session = schema[CREATE_SESSION.split(" ", 1)[1]]["POST"]
    ownership = Ownership(CREATE_SESSION)

    def build_state_machine(**kwargs: Any) -> type[Any]:
        return adapt_workflow(
            build(**kwargs),
            create_session=create_session,
            base_model=base_model,
            vocab_size=vocab_size,
            checkpoint_path=by_part_end(checkpoint_path, deadline),
            stand_in=ownership.stand_in,
        )

    # The engine builds its state machine per stateful pass; adapt each one.
    schema.build_state_machine = build_state_machine  # type: ignore[method-assign]
    keyed = _KeyedReplies(api_key)

    def seen(case: Any, response: Any) -> None:
        ownership.record(case, response)
        keyed.record(case, response)

    deadline = time.monotonic() + time_limit
    patient = PatientTransport(schema.transport, deadline, seen, auth)
    _patient(schema, patient)

    outcome = ConformanceOutcome(operations=sorted(spec.operations))
    refused = auth_refused(base_url, api_key, outcome.statuses, until=deadline)
    if refused is not None:
        outcome.key_refused = refused
        outcome.findings.append(missing_auth(refused, api_key, "every operation", named))
        outcome.notes.append(
            f"conformance stopped after {sum(outcome.statuses.values())} requests: "
            f"every one got {refused}"
        )
        return outcome
    schema.config.request_timeout = probe_timeout(deadline - time.monotonic())
    collector = WarningCollector(schema.config)
    context = _Context(schema)
    started = time.monotonic()
    stream = from_schema(schema).execute()
    # Its two opening probes are sent with a requests session of their own, past the
    # transport, whose auth is the config's: the Basic credentials are that, for them alone
    # (set once the engine's plan, which reads whether auth is given, is made).
    probes_auth = _ProbesAuth(schema.config, auth)
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        patient.ends.stop(TIME_LIMIT)
        stream.stop()

    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), stop)
    timer.daemon = True
    timer.start()

    def on_stop() -> None:
        # Any stop (a Ctrl-C the engine took) waits for the requests on their way.
        stream.stop_event.wait()
        patient.ends.stop(STOPPED)

    stopping = threading.Thread(target=on_stop, name="weaver-contract-stop", daemon=True)
    stopping.start()

    def before_call(context: Any, case: Any, kwargs: Any) -> None:
        ownership.stand_in(case)

    paged: set[str] = set()
    lost: set[str] = set()

    def after_call(context: Any, case: Any, response: Any) -> None:
        finding = _limit_ignored(case, response, api_key)
        if finding is not None and finding.operation not in paged:
            paged.add(finding.operation)
            outcome.findings.append(finding)

    # schemathesis has before_call hooks for the whole process only: this one is in place
    # for this run alone.
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
    schema.hooks.register_hook_with_name(after_call, "after_call")
    try:
        for event in stream:
            if interrupted():  # also one whose KeyboardInterrupt Python dropped
                stream.stop()
            if isinstance(event, events.PhaseFinished) and event.phase.name == "probing":
                probes_auth.end()
            if isinstance(event, events.PhaseStarted):
                progress(f"conformance: {event.phase.name.value} phase")
            elif isinstance(event, events.ScenarioFinished):
                collector.on_scenario_finished(context, event)  # type: ignore[arg-type]
                _collect(
                    spec,
                    event.recorder,
                    outcome,
                    api_key,
                    ownership.stood_in,
                    patient.ran_out,
                    patient.retries_of,
                )
            elif isinstance(event, events.NonFatalError) and patient.unsafe_loss(event.value):
                if event.label not in lost:
                    lost.add(event.label)
                    outcome.notes.append(
                        f"{event.label}: a reply was lost on the way (the connection closed) "
                        "to a request not safe to send again (not a GET, a PATCH, or a POST "
                        "with an Idempotency-Key): a transport fault, not checked"
                    )
            elif isinstance(event, events.NonFatalError) and patient.cut_off(event.value):
                pass  # noted below: the engine may have dropped it
            elif isinstance(event, events.NonFatalError):
                head, listed = _head_and_listed(event.info.message)
                sample = event.info.code_sample or listed
                outcome.findings.append(
                    Finding(
                        part="conformance",
                        operation=event.label,
                        check="run_error",
                        message=redact(f"{event.info.title}: {head}", api_key),
                        expected="every request answered",
                        got=redact(head, api_key),
                        curl=redact_curl(sample, api_key) if sample else None,
                    )
                )
            elif isinstance(event, events.FatalError):
                outcome.findings.append(
                    Finding(
                        part="conformance",
                        operation="schemathesis",
                        check="run_error",
                        message=redact(f"the run stopped: {event.exception!r}", api_key),
                        expected="a complete run",
                        got="a fatal error",
                    )
                )
            elif isinstance(event, events.EngineFinished):
                outcome.stop_reason = str(event.stop_reason)
    finally:
        probes_auth.end()
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)
        timer.cancel()
        stream.stop()
        stopping.join()
        patient.ends.close()
        headers = {API_KEY_HEADER: api_key} if api_key else {}
        with kit_client(
            transport=sending_transport(), base_url=base_url, headers=headers, timeout=15.0
        ) as client:
            outcome.left = ownership.clean_up(client)
    if interrupted() or (outcome.stop_reason == "interrupted" and not timed_out.is_set()):
        # The user's Ctrl-C (or a CI's cancel) stopped the run early, taken by schemathesis
        # or noted above: the run is not a pass, whatever it saw.
        raise KeyboardInterrupt
    outcome.seconds = time.monotonic() - started
    outcome.retried = patient.retried
    outcome.resent = patient.resent
    outcome.notes.extend(_retry_notes(patient.retried, patient.resent, len(outcome.unchecked)))
    outcome.notes.extend(stopped_notes(patient))
    if outcome.later:
        outcome.findings.append(_unavailable(outcome.later))
    if timed_out.is_set():
        outcome.cut_short = True
        outcome.notes.append(
            f"conformance stopped at its time limit ({plain_seconds(time_limit)} s); "
            f"raise {named.time_limit} or lower {named.max_examples}"
        )
    # One finding for a refused key, not one per operation. An operation with a finding is
    # left out: schemathesis stopped testing it at that failure, so what it kept of it is
    # mostly the unauthenticated cases' 401s (a missing header made five such "refusals").
    failed = {f.operation for f in outcome.findings}
    failed |= {label for label, *_ in outcome.later} | set(outcome.unchecked)
    # And so is one whose requests with the key were not refused (see _KeyedReplies).
    for status_code, labels in sorted(collector.data.missing_auth.items()):
        names = sorted(n for n in labels - failed if keyed.refused(n, status_code))
        if not names:
            continue
        shown = names[0] if len(names) == 1 else f"{len(names)} operations ({', '.join(names)})"
        outcome.findings.append(missing_auth(status_code, api_key, shown, named))
    return outcome


def _retry_notes(retried: int, resent: int, unchecked: int) -> list[str]:
    """The notes on requests sent again (``retried``: the server asked to try later;
    ``resent``: their replies lost) and on replies that asked for a wait beyond the time
    limit (``unchecked``)."""
    notes = []
    if retried:
        times = "once" if retried == 1 else f"{retried} times"
        notes.append(
            f"the server asked {times} to try a request again later "
            "(429 or 503); the kit waited as asked and sent it again"
        )
    if resent:
        were, those = ("was", "that request") if resent == 1 else ("were", "those requests")
        notes.append(
            f"{counted(resent, 'reply', 'replies')} {were} lost on the way (the connection "
            f"closed); the kit sent {those} again, as the facade does, being safe to repeat"
        )
    if unchecked:
        notes.append(
            f"{counted(unchecked, 'reply', 'replies')} asked to try again after the time "
            f"limit: {_not_checked(unchecked)}"
        )
    return notes


def _not_checked(requests: int) -> str:
    return f"{'that request was' if requests == 1 else 'those requests were'} not checked"


def _unavailable(later: list[tuple[str, int, str, int]]) -> Finding:
    """One finding for every reply that still asked to try later: an availability problem,
    not one contract finding per operation (``not_a_server_error``, ``ignored_auth``, ...).
    Each says how often its request was sent again: an operation that used its retries is
    not retried again."""
    labels = sorted({label for label, *_ in later})
    shown = labels[0] if len(labels) == 1 else f"{len(labels)} operations ({', '.join(labels)})"
    statuses = ", ".join(str(s) for s in sorted({status for _, status, _, _ in later}))
    by_retries = Counter(retries for *_, retries in later)
    if len(by_retries) == 1:
        (retries,) = by_retries
        each = "" if len(later) == 1 else " each"
        how = f"after {counted(retries, 'retry', 'retries')}{each}" if retries else "not retried"
    else:
        how = ", ".join(
            f"{n} after {counted(r, 'retry', 'retries')}" if r else f"{n} not retried"
            for r, n in sorted(by_retries.items(), reverse=True)
        )
    if by_retries[0]:
        how += " (an operation that used its retries is not retried again)"
    return Finding(
        part="conformance",
        operation=shown,
        check=AVAILABILITY,
        message=f"{counted(len(later), 'reply', 'replies')} still asked to try again later, "
        f"{how}: {_not_checked(len(later))}",
        expected="an answer after the wait the server asked for",
        got=f"{statuses} with Retry-After or `retryable: true`",
        curl=later[0][2],
    )


def _result_findings(
    spec: Spec, exchanges: list[tuple[str, Any]], secret: str | None, outcome: ConformanceOutcome
) -> list[Finding]:
    """Completed operations' results, checked against the schema of their kind."""
    results = OperationResults(spec)
    found: list[Finding] = []
    for label, interaction in exchanges:
        op = spec.operations.get(label)
        response = interaction.response
        if op is None or response is None:
            continue
        content = response.content or b""
        problems = results.check(op, response.status_code, content, outcome.taken_beyond)
        if not problems:
            continue
        request = interaction.request
        curl = curl_for_request(
            httpx.Request(
                request.method,
                request.uri,
                headers={k: v[0] for k, v in request.headers.items() if v},
                content=request.body,  # the request as sent: a save without it is refused
            ),
            secret,
        )
        found.extend(
            Finding(
                part="conformance",
                operation=label,
                check=problem.check,
                message=redact(problem.message, secret),
                expected=redact(problem.expected, secret),
                got=redact(problem.got, secret),
                curl=curl,
            )
            for problem in problems
        )
    for label, note in results.notes:  # one per operation, as the other notes
        if (label, "result") not in outcome.left_open:
            outcome.left_open.add((label, "result"))
            outcome.notes.append(note)
    return found


# RFC 9110's token: what a header's name may be.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


# Headers that frame or route the message: a generated one (an empty Transfer-Encoding
# next to the body's Content-Length) makes a request that is not valid HTTP.
_FRAMING = frozenset({"transfer-encoding", "content-length", "host", "connection", "te"})


def _valid_http(case: Any) -> bool:
    """Whether ``case``'s headers make a valid HTTP request. A server's HTTP layer refuses
    one that does not before its API sees it, in plain text (uvicorn's "Invalid HTTP
    request received."): not the spec's business."""
    return all(
        isinstance(name, str)
        and _TOKEN.fullmatch(name) is not None
        and name.lower() not in _FRAMING
        for name in (case.headers or {})
    )


def _unrecognised_method(spec: Spec, check: str, case: Any, response: Any) -> bool:
    """Whether ``check`` failed only because the server answered a method the spec does
    not declare on the path with 501 and an Error body: right by RFC 9110 (15.6.2) for a
    method it does not recognise, where schemathesis wants 405. A 405 without ``Allow``
    is still the server's."""
    if check not in ("unsupported_method", "not_a_server_error") or response is None:
        return False
    if response.status_code != 501 or str(case.method).upper() == case.operation.method.upper():
        return False
    try:
        body = json.loads(response.content or b"")
    except ValueError:
        return False
    return not spec.check_schema("Error", body)


# What the spec states and the wire sheet (weaver-wire.md, the real service's facts) leaves
# open: a request the spec makes invalid only there may be accepted, and its refusal or
# acceptance is a note, not a finding. Each with the sheet's words.
_OPEN_LIMITS = "the wire sheet gives `GET /supported-models?limit=&offset=` no bounds"
SHEET_LEAVES_OPEN: Mapping[tuple[str, str], str] = {
    # A request without a body (the SDK always sends one).
    ("POST /api/v1/sessions", "body"): "the wire sheet gives the body the SDK sends "
    "(`{tags, user_metadata, sdk_version}`), not that a request without one is refused",
    # The same of an export's body, whose every field a server can default.
    ("POST /api/v1/checkpoints/{checkpoint_id}/export", "body"): "the wire sheet gives "
    "the body the SDK sends (`{format, merge_adapter, ttl_seconds, force}`), not that a "
    "request without one is refused",
    ("POST /api/v1/models/{model_id}/export-hf", "body"): "the wire sheet gives the body "
    "the SDK sends (the export's, without `force`), not that a request without one is refused",
    ("GET /api/v1/supported-models", "query limit"): _OPEN_LIMITS,
    ("GET /api/v1/supported-models", "query offset"): _OPEN_LIMITS,
}


# The session body's fields the sheet does not mark optional.
_SESSION_FIELDS = ("tags", "user_metadata", "sdk_version")


def _negative_left_open(spec: Spec, case: Any, outcome: ConformanceOutcome) -> str | None:
    """Why the sheet leaves open the only thing that makes ``case`` invalid, or None."""
    from schemathesis.core import NotSet
    from schemathesis.core.parameters import ParameterLocation
    from schemathesis.generation import GenerationMode

    meta = getattr(case, "meta", None)
    if meta is None:
        return None
    label = case.operation.label
    data = meta.phase.data
    location = getattr(data, "parameter_location", None)
    parameter = getattr(data, "parameter", None)
    if location is None:
        negative = {
            k for k, info in meta.components.items() if info.mode is GenerationMode.NEGATIVE
        }
        location = next(iter(negative)) if len(negative) == 1 else None
    if location is ParameterLocation.BODY:
        if isinstance(case.body, NotSet):
            return SHEET_LEAVES_OPEN.get((label, "body"))
        op = spec.operations.get(label)
        if op is None or op.request_schema is None:
            return None
        found = spec.beyond_own_rules(SCHEMA_REF + op.request_schema, case.body)
        if not found:
            return None
        outcome.taken_beyond |= taken_keys(found)
        return f"{beyond_in_words(found, spec.secret)}: {NO_SUCH_RULE}"
    if location is ParameterLocation.QUERY:
        names = [parameter] if parameter else list(case.query or {})
        reasons = [SHEET_LEAVES_OPEN.get((label, f"query {name}")) for name in names]
        if reasons and None not in reasons:
            return reasons[0]
    places = {
        ParameterLocation.QUERY: "query",
        ParameterLocation.HEADER: "header",
        ParameterLocation.PATH: "path",
    }
    if location in places:
        return _parameters_left_open(spec, case, places[location], parameter, outcome)
    return None


def _as_typed(schema: Any, value: Any) -> Any:
    """A query parameter's value as its schema's number, when it is one written as text
    (the URL carries `?limit=1001` as text)."""
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(value, str) and kind in ("integer", "number"):
        try:
            return int(value) if kind == "integer" else float(value)
        except ValueError:
            return value
    return value


def _parameters_left_open(
    spec: Spec, case: Any, where: str, parameter: str | None, outcome: ConformanceOutcome
) -> str | None:
    """Why the sheet leaves open what makes ``case``'s ``where`` (``query``, ``header`` or
    ``path``) parameters invalid: bounds or patterns of the spec's own only (the sheet gives
    `?limit=&cursor=`, the `Idempotency-Key` header and ids none); else None."""
    attribute = {"query": "query", "header": "headers", "path": "path_parameters"}[where]
    sent = dict(getattr(case, attribute, None) or {})
    if parameter:
        sent = {k: v for k, v in sent.items() if k.lower() == parameter.lower()}
    found: list[BeyondRule] = []
    for name, value in sent.items():
        pointer = spec.parameter_pointer(case.operation.label, where, name)
        if pointer is None:
            continue
        value = _as_typed(spec.schemas.resolve(pointer), value)
        errors = list(spec.schemas.validator(pointer).iter_errors(value))
        if not errors:
            continue
        beyond = spec.beyond_own_rules(pointer, value, errors)
        if not beyond:
            return None
        found += [BeyondRule(name, b.value, b.rule) for b in beyond]
    if not found:
        return None
    outcome.taken_beyond |= taken_keys(found)
    return f"{beyond_in_words(found, spec.secret)}: {NO_SUCH_RULE}"


def _integral_floats(value: Any, where: str = "") -> list[str]:
    """The places in ``value`` of a number with a fraction of zero (``255.0``)."""
    if isinstance(value, float) and value.is_integer():
        return [f"`{where or 'body'}`: {value!r}"]
    if isinstance(value, dict):
        return [
            p for k, v in value.items() for p in _integral_floats(v, f"{where}.{k}".lstrip("."))
        ]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _integral_floats(v, f"{where}[{i}]")]
    return []


def _left_open(
    spec: Spec, outcome: ConformanceOutcome, check: str, case: Any, response: Any
) -> str | None:
    """A note for a failed check that holds the server to a rule the sheet does not state."""
    label = case.operation.label
    if check == _REJECTED:
        reason = _negative_left_open(spec, case, outcome)
        if reason is None:
            return None
        info = _what_was_invalid(case) or "an invalid request"
        status = response.status_code if response is not None else "no reply"
        return f"{label}: {info} was accepted ({status}), as the spec does not allow; {reason}"
    if check == "positive_data_acceptance" and response is not None:
        # The sheet gives a session's body as the SDK sends it and marks only the others
        # optional, which a server may hold to the letter; the spec makes all optional.
        body = case.body
        missing = [k for k in _SESSION_FIELDS if isinstance(body, dict) and k not in body]
        if label == "POST /api/v1/sessions" and missing:
            fields = ", ".join(f"`{k}`" for k in missing)
            return (
                f"{label}: a body without {fields} refused ({response.status_code}): the "
                "spec makes them optional; the wire sheet gives the body as "
                "`{tags, user_metadata, sdk_version}` and marks only the others optional"
            )
        # A cursor is the server's own: one it never issued (the spec's example) may be
        # refused, as the facade sends back only those it was given.
        cursor = (getattr(case, "query", None) or {}).get("cursor")
        if label == LIST_CHECKPOINTS and cursor is not None and response.status_code < 500:
            return (
                f"{label}: the cursor `{cursor}`, which this server never issued, refused "
                f"({response.status_code}): a server takes back only the cursors it gave"
            )
        # JSON Schema's `integer` takes 255.0; the sheet says int, which a server may hold
        # to the letter.
        places = _integral_floats(case.body)
        if places:
            return (
                f"{label}: {', '.join(places[:3])} refused ({response.status_code}): the spec's "
                "integer allows a number written with a fraction of zero; the wire sheet says "
                "int"
            )
    if check == _REPLY_SCHEMA:
        # The reply shows only values beyond open rules that requests of the run set.
        return _taken_note(spec, outcome, case, response, alone=True)
    return None


_REPLY_SCHEMA = "response_schema_conformance"


def _taken_note(
    spec: Spec, outcome: ConformanceOutcome, case: Any, response: Any, *, alone: bool = False
) -> str | None:
    """A note of the values beyond open rules that requests of the run set and that the
    reply to ``case`` shows, whatever else it breaks (that is a finding); ``alone``: only
    when it breaks nothing else."""
    taken = outcome.taken_beyond
    if response is None or not taken:
        return None
    label = case.operation.label
    op = spec.operations.get(label)
    pointer = None if op is None else spec.reply_pointer(op, response.status_code)
    if pointer is None:
        return None
    try:
        body = json.loads(response.content or b"")
    except (ValueError, RecursionError):
        return None
    words = spec.taken_again(pointer, body, taken)
    if words is None or (alone and spec.check_value(pointer, body, taken=taken)):
        return None
    return f"{label}: the reply holds {words}"


# The check that a resource a POST just created can be reached: schemathesis takes every
# path parameter that differs from the generated one for a link's value, a stand-in too.
_CREATED_REACHABLE = "ensure_resource_availability"


def _as_method_answer(found: list[Finding], check: str, case: Any) -> list[Finding]:
    """A server error for a method the spec does not declare on the path (TRACE) is the
    server's answer to that method, which every route shares: ``unsupported_method``,
    folded into one finding for the whole server (``fold_server_wide``), not one
    ``not_a_server_error`` per operation beside it."""
    method = str(case.method).upper()
    if check != "not_a_server_error" or method == case.operation.method.upper():
        return found
    return [
        replace(f, check="unsupported_method", message=f"{method}, not declared here: {f.message}")
        for f in found
    ]


# What a reply is held to besides its status's class: its status, headers and body.
_REPLY_CHECKS = frozenset(
    {
        "status_code_conformance",
        "response_headers_conformance",
        "content_type_conformance",
        _REPLY_SCHEMA,
    }
)


def _one_per_server_error(found: list[Finding]) -> list[Finding]:
    """``found``, the findings of one reply, with those of its status, headers and body
    folded into its server error, if it is one: a crash's reply is no answer of the
    server's, and its other breaks (an undocumented 500, a header its error handler leaves
    out) are one thing to fix, not three findings with one reproduction."""
    crash = next((f for f in found if f.check == "not_a_server_error"), None)
    if crash is None:
        return found
    also = [f for f in found if f.check in _REPLY_CHECKS]
    if not also:
        return found
    said = "; ".join(f.message for f in also)
    merged = replace(crash, message=f"{crash.message}; the same reply also: {said}")
    return [merged if f is crash else f for f in found if f.check not in _REPLY_CHECKS]


def _collect(
    spec: Spec,
    recorder: Any,
    outcome: ConformanceOutcome,
    secret: str | None,
    stood_in: Callable[[Any], bool] = lambda case: False,
    ran_out: Callable[[Any], bool] = lambda response: False,
    retries_of: Callable[[Any], int] = lambda response: RETRIES,
) -> None:
    """``stood_in``: whether a case's path names an id the kit stood in for
    (``Ownership.stood_in``); ``ran_out``: whether a reply asked for a wait beyond the time
    limit (``PatientTransport.ran_out``); ``retries_of``: how often a request that still
    asked to try later was sent again (``PatientTransport.retries_of``)."""
    exchanges: list[tuple[str, Any]] = []
    for case_id, interaction in recorder.interactions.items():
        node = recorder.cases.get(case_id)
        if node is not None and interaction.response is not None:
            outcome.statuses[(node.value.operation.label, interaction.response.status_code)] += 1
            exchanges.append((node.value.operation.label, interaction))
    for case_id, checks in recorder.checks.items():
        node = recorder.cases.get(case_id)
        if node is None or not _valid_http(node.value):
            continue
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        failed = [check for check in checks if check.failure_info is not None]
        if (
            failed
            and response is not None
            and retry_after(response.status_code, response.headers, response.content) is not None
        ):
            # The server asked to try later, even after the retries: not its answer.
            label = node.value.operation.label
            if ran_out(response):
                outcome.unchecked.append(label)
                continue
            info = failed[0].failure_info
            curl = redact_curl(info.code_sample, secret) if info is not None else ""
            outcome.later.append((label, response.status_code, curl, retries_of(response)))
            continue
        found_here: list[Finding] = []
        for check in checks:
            info = check.failure_info
            if info is None or _unrecognised_method(spec, check.name, node.value, response):
                continue
            note = _left_open(spec, outcome, check.name, node.value, response)
            if note is not None:
                # One note per operation and check: the first example tells.
                key = (node.value.operation.label, check.name)
                if key not in outcome.left_open:
                    outcome.left_open.add(key)
                    outcome.notes.append(note)
                continue
            if check.name == _CREATED_REACHABLE and stood_in(node.value):
                # A step whose link was not followed (schemathesis explores: it generates
                # the id instead) names an id that is not the run's; the kit stood in for
                # it, and schemathesis, seeing the case changed, took the stand-in for the
                # link's value. Its 404 is the one the kit asked for.
                continue
            found = _findings_for_failure(
                spec,
                check.name,
                info.failure,
                node.value,
                response,
                info.code_sample,
                secret,
                outcome.taken_beyond,
            )
            found_here.extend(_as_method_answer(found, check.name, node.value))
            note = (
                _taken_note(spec, outcome, node.value, response)
                if check.name == _REPLY_SCHEMA
                else None
            )
            key = (node.value.operation.label, check.name)
            if note is not None and key not in outcome.left_open:
                # Beside what else the reply breaks: the same note as alone.
                outcome.left_open.add(key)
                outcome.notes.append(note)
        outcome.findings.extend(_one_per_server_error(found_here))
    # After the checks: a result may show a value beyond a rule of the spec's own that a
    # request of this scenario set (``taken_beyond``).
    outcome.findings.extend(_result_findings(spec, exchanges, secret, outcome))
