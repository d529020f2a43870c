"""Part 2: the checkpoint lifecycle through the facade, made exact.

A watcher on the facade's HTTP client checks every reply against the spec (and the result of
every done operation against the schema of its kind), so a wire problem is named where it
happens; each step then checks what the facade returned. Steps that need what an earlier step
could not make are skipped, with the reason.

The steps create their own session, models and checkpoints (named after the run), and clean
up what they can at the end: every checkpoint of theirs by its name, as its model lists it.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx
from weaver_client import limits

from .. import (
    APIConnectionError,
    APIError,
    Checkpoint,
    CheckpointPath,
    CheckpointStatus,
    CheckpointType,
    OperationFailedError,
    OperationTimeoutError,
    PollSettings,
    ResponseValidationError,
    RetrySettings,
    ServiceClient,
    TrainingClient,
    WeaverError,
    datum_from_tokens,
)
from .._plural import counted
from .._storage_errors import hide_signature
from ._artifact_steps import ARTIFACT_STEPS, LONG_POLL, ArtifactSteps
from ._clients import kit_client
from ._findings import (
    API_KEY_HEADER,
    AVAILABILITY,
    PYTHON_NAMES,
    RETRIES,
    Finding,
    curl_for_request,
    plain_seconds,
    redact,
    waited_words,
)
from ._ownership import Left, Sweep, SweepBound, is_artifact_kind, time_up_worded
from ._patience import (
    RETRIED,
    UNWAITED,
    PatientHTTPTransport,
    Within,
    copy_with,
    lost_replies,
    raw_body,
    retry_after,
    sending_transport,
)
from ._spec import OperationResults, OperationSpec, Problem, Spec

__all__ = ["LifecycleOutcome", "StepResult", "Watcher", "run_lifecycle"]

STEPS_TRAINED = 6
STEPS_CONTINUED = 3
STEP_CREATE = "create a session and a model"
STEP_TRAIN = f"train {STEPS_TRAINED} steps; the loss decreases"
STEP_SAVE = "save the state; the checkpoint has its type and path"
STEP_CONTINUE = f"train {STEPS_CONTINUED} more steps (the continuation to reproduce)"
STEP_LIST = "the list shows the checkpoint with its type and path"
STEP_LOAD = "load_state finishes within the deadline and restores the weights"
STEP_RESUME = "load_state_with_optimizer reproduces the continuation exactly"
STEP_TTL = "a TTL change takes effect, and so does permanent again"
# An hour: long enough for the rest of the run, short enough to be a real expiry.
TTL_PROBE = 3600
STEP_DUPLICATE = "a duplicate name gets 409"
# The first pause before a checkpoint listing is asked again for a save it lacks, and how
# many times it is asked again (doubling the pause: 6.2 s in all), so that a list that
# never shows the save costs seconds, not the step's deadline.
_RELIST_PAUSE = 0.2
_RELISTS = 5
STEP_MALFORMED = "a malformed path gets 400 (or 422) invalid_request"
STEP_UNKNOWN = "a load of an unknown checkpoint is refused"
STEP_WEIGHT_ONLY = "an optimizer load of a weight-only checkpoint is refused"
STEP_NO_KEY = "no key gets 401"
STEP_HEADERS = "every reply carries the headers the spec requires"
HEADERS_CHECK = "response_headers_conformance"
PART = "lifecycle"


@dataclass
class StepResult:
    """One step of the scenario, for the report and JUnit."""

    name: str
    status: str  # passed | failed | skipped
    seconds: float = 0.0
    detail: str = ""
    findings: list[Finding] = field(default_factory=list)


@dataclass
class LifecycleOutcome:
    steps: list[StepResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: The checkpoints its clean-up could not delete.
    left: list[Left] = field(default_factory=list)


@dataclass
class Exchange:
    request: httpx.Request
    response: httpx.Response
    op: OperationSpec | None

    @property
    def label(self) -> str:
        if self.op is not None:
            return self.op.label
        return f"{self.request.method} {self.request.url.path}"


class Watcher:
    """Checks every reply the scenario receives; the findings it makes are wire findings."""

    def __init__(self, spec: Spec, base_path: str, secret: str | None) -> None:
        self.spec = spec
        self.base_path = base_path.rstrip("/")
        self.secret = secret
        self.exchanges: list[Exchange] = []
        self.findings: list[Finding] = []
        self.results = OperationResults(spec)
        # Exchanges (by index) whose reply the watcher found fault with.
        self.flagged: set[int] = set()
        # A missing header is the server's, not a step's: the first reply without it, by name.
        self.missing_headers: dict[str, Finding] = {}
        # What the sheet leaves open and a client may trip on: a note each, once.
        self.notes: list[str] = []
        self.enabled = True
        #: Each operation seen in a terminal status, with that status.
        self.finished: dict[str, str] = {}

    def see(self, response: httpx.Response) -> None:
        """Check one reply (already read)."""
        if not self.enabled:
            return
        request = response.request
        path = request.url.path
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path) :]
        op = self.spec.match(request.method, path)
        exchange = Exchange(request, response, op)
        self.exchanges.append(exchange)
        if op is None:
            return
        problems = self.spec.check_reply(
            op, response.status_code, dict(response.headers), response.content
        )
        problems.extend(self.results.check(op, response.status_code, response.content))
        problems.extend(self._still_finished(exchange))
        self._note_done_without_result(exchange)
        for problem in problems:
            if problem.check == HEADERS_CHECK:
                if problem.expected not in self.missing_headers:
                    self.missing_headers[problem.expected] = self.finding(exchange, problem)
                continue
            self.add(exchange, problem)
            self.flagged.add(len(self.exchanges) - 1)

    def _still_finished(self, exchange: Exchange) -> list[Problem]:
        """An operation seen `done` or `error` must stay so: a client stops polling at a
        terminal status, and one that reads the operation again must see the same."""
        op = exchange.op
        if op is None or not exchange.response.is_success:
            return []
        if op.operation_id != "get_operation" and op.operation_id not in self.results.results:
            return []
        try:
            data = exchange.response.json()
        except ValueError:
            return []
        if not isinstance(data, dict) or is_artifact_kind(data.get("kind")):
            return []
        op_id, status = data.get("id"), data.get("status")
        if not isinstance(op_id, str) or not isinstance(status, str):
            return []
        before = self.finished.get(op_id)
        if before is None:
            if status in limits.OPERATION_STATUS_TERMINAL:
                self.finished[op_id] = status
            return []
        if status == before:
            return []
        terminal = ", ".join(f"`{s}`" for s in sorted(limits.OPERATION_STATUS_TERMINAL))
        return [
            Problem(
                "operation_terminal",
                f"operation `{op_id}` is `{status}` after `{before}`: {terminal} are terminal, "
                "and an operation that reached one never changes (clients stop polling there)",
                expected=f"`{before}` for good",
                got=f"`{status}`",
            )
        ]

    def _note_done_without_result(self, exchange: Exchange) -> None:
        """An operation's POST answered ``done`` without ``response``: the sheet's reply is
        ``{"id", "status", "response"?}``, but its official SDK does not poll a reply that
        is done, so it would have no result (the facade asks the operation once more)."""
        response = exchange.response
        if exchange.request.method != "POST" or not response.is_success:
            return
        try:
            data = response.json()
        except ValueError:
            return
        done = isinstance(data, dict) and data.get("status") == "done" and "id" in data
        if done and data.get("response") is None and not is_artifact_kind(data.get("kind")):
            note = (
                f"{exchange.label}: answered `done` without `response`; the official SDK does "
                "not poll a reply that is done, so it gets no result (this kit's facade asks "
                "the operation for it)"
            )
            if note not in self.notes:
                self.notes.append(note)

    def add(self, exchange: Exchange, problem: Problem) -> None:
        self.findings.append(self.finding(exchange, problem))

    def finding(self, exchange: Exchange, problem: Problem) -> Finding:
        return Finding(
            part=PART,
            operation=exchange.label,
            check=problem.check,
            message=redact(problem.message, self.secret),
            expected=redact(problem.expected, self.secret),
            got=redact(problem.got, self.secret),
            curl=curl_for_request(exchange.request, self.secret),
        )

    def last(self, operation_id: str) -> Exchange | None:
        for exchange in reversed(self.exchanges):
            if exchange.op is not None and exchange.op.operation_id == operation_id:
                return exchange
        return None

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True


class WatchingTransport(httpx.BaseTransport):
    """Hands every reply to the watcher before the facade sees it.

    A transport rather than an event hook: a hook that reads the body would consume the
    stream the facade's own client then reads.
    """

    def __init__(self, watcher: Watcher, inner: httpx.BaseTransport | None = None) -> None:
        self._watcher = watcher
        self._inner = inner or sending_transport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        raw = raw_body(response)
        seen = copy_with(response, raw, request)
        seen.read()
        self._watcher.see(seen)
        return copy_with(response, raw)

    def close(self) -> None:
        self._inner.close()


_KIND_WORD = {
    "load_checkpoint": "load",
    "save_checkpoint": "save",
    "forward_backward": "forward-backward",
    "forward": "forward",
    "optim_step": "optimizer step",
    "export_checkpoint": "export",
}


class StepFailed(Exception):
    """A step's expectation was not met; its findings are already recorded."""


class StepSkipped(Exception):
    """A step cannot run because an earlier one did not produce what it needs."""


@dataclass
class Settings:
    base_url: str
    api_key: str | None
    base_model: str
    vocab_size: int
    deadline: float
    run_id: str
    #: What the user calls the deadline (``--deadline`` on the command line).
    deadline_name: str = PYTHON_NAMES.deadline

    def within(self) -> str:
        """The deadline of an operation's wait, as the user gave it and named."""
        return f"`done` within {plain_seconds(self.deadline)} s ({self.deadline_name})"

    @property
    def request_time(self) -> float:
        """The time of one of the kit's own requests, its retries included: the deadline,
        as the facade's calls, and a second more (a long-poll may ask for all of it)."""
        return self.deadline + 1.0


def batch(vocab_size: int) -> list[Any]:
    """Four next-token sequences of 16 tokens within the vocabulary."""
    size = max(2, min(vocab_size, 256))
    return [datum_from_tokens([(7 * i + 3 * j) % size for j in range(16)]) for i in range(4)]


class Scenario:
    def __init__(self, spec: Spec, settings: Settings, progress: Callable[[str], None]) -> None:
        self.spec = spec
        self.s = settings
        self.progress = progress
        base_path = httpx.URL(settings.base_url).path
        self.watcher = Watcher(spec, base_path, settings.api_key)
        # The facade's client: the facade retries by itself. Its requests and waits are
        # held to the clean-up's budget during it, for the facade's close.
        self.bound = SweepBound(WatchingTransport(self.watcher))
        self.http = kit_client(transport=self.bound, timeout=httpx.Timeout(30.0))
        # The kit's own requests, tried again while the server asks to try later (the
        # watcher sees the last reply only) and after a reply lost on the way, all within
        # their time.
        watched = lost_replies(WatchingTransport(self.watcher, PatientHTTPTransport()))
        self.raw = kit_client(
            transport=Within(watched, settings.request_time),
            timeout=httpx.Timeout(30.0),
        )
        self.outcome = LifecycleOutcome()
        #: The facade's client, closed by the clean-up; ``service``, a copy, makes the calls.
        self.owner: ServiceClient | None = None
        self.service: ServiceClient | None = None
        self.models: list[TrainingClient] = []
        self.checkpoint_ids: list[uuid.UUID] = []
        #: The names of the checkpoints the run saved (or may have), for the clean-up.
        self.names: set[str] = set()
        self.artifacts = ArtifactSteps(self)
        self._wire_seen = 0

    def _merge_wire(self, step: StepResult) -> None:
        """The watcher's findings since the last merge belong to the running step."""
        fresh = self.watcher.findings[self._wire_seen :]
        self._wire_seen = len(self.watcher.findings)
        step.findings[:0] = fresh

    # -- findings -------------------------------------------------------------------------------

    def finding(
        self,
        operation: str,
        check: str,
        message: str,
        expected: str,
        got: str,
        exchange: Exchange | None = None,
    ) -> Finding:
        secret = self.s.api_key
        return Finding(
            part=PART,
            operation=operation,
            check=check,
            message=redact(message, secret),
            expected=redact(expected, secret),
            got=redact(got, secret),
            curl=curl_for_request(exchange.request, secret) if exchange is not None else None,
        )

    def from_error(self, error: BaseException, operation_id: str, step: StepResult) -> None:
        """A facade exception where success was expected, as findings."""
        self._merge_wire(step)
        exchange = self.watcher.last(operation_id)
        if isinstance(error, ResponseValidationError) and self.watcher.exchanges:
            # The reply the facade refused was its last: a poll, say, not the request
            # that started the operation.
            exchange = self.watcher.exchanges[-1]
        label = exchange.label if exchange is not None else operation_id
        if isinstance(error, ResponseValidationError):
            # The watcher names the wire problem where it happened; the facade's text is the
            # finding only when the watcher saw nothing wrong with the reply it refused (a
            # rule the schema cannot hold).
            if (len(self.watcher.exchanges) - 1) not in self.watcher.flagged:
                step.findings.append(
                    self.finding(
                        label,
                        "response_schema_conformance",
                        str(error),
                        "a reply the facade can parse",
                        "ResponseValidationError",
                        exchange,
                    )
                )
        elif isinstance(error, OperationTimeoutError):
            step.findings.append(
                self.finding(
                    label,
                    "operation_completes",
                    f"the {_KIND_WORD.get(operation_id, operation_id)} operation "
                    f"`{error.operation_id}` is still `{error.status}` after "
                    f"{error.waited:.1f} s (last status seen: `{error.status}`)",
                    self.s.within(),
                    f"`{error.status}`",
                    self._poll_exchange(error.operation_id),
                )
            )
        elif isinstance(error, OperationFailedError):
            step.findings.append(
                self.finding(
                    label,
                    "operation_completes",
                    f"the {_KIND_WORD.get(operation_id, operation_id)} operation "
                    f"`{error.operation_id}` ended in `error` "
                    f"[{error.code}]: {error.message}",
                    "`done`",
                    f"`error` {error.code}",
                    self._poll_exchange(error.operation_id),
                )
            )
        elif isinstance(error, APIError) and error.retryable and error.status_code in (429, 503):
            # The server still asked to try later: an availability problem, named at the
            # request that got it (a load's optimizer step, say), not the step's own.
            last = self.watcher.exchanges[-1] if self.watcher.exchanges else exchange
            step.findings.append(
                self.finding(
                    last.label if last is not None else label,
                    AVAILABILITY,
                    _not_answered(error, _retries_seen(self.watcher.exchanges), self.s.deadline),
                    "an answer after the wait the server asked for",
                    f"{error.status_code} with Retry-After or `retryable: true`",
                    last,
                )
            )
        elif isinstance(error, APIConnectionError):
            step.findings.append(
                self.finding(label, "server_answers", f"no reply: {error}", "a reply", "none")
            )
        elif isinstance(error, APIError) and exchange is not None and exchange.op is not None:
            if exchange.response.status_code >= 400:
                problem = self.spec.describe_refusal(
                    exchange.op,
                    _json_body(exchange.request),
                    exchange.response.status_code,
                    exchange.response.content,
                )
                step.findings.append(
                    self.finding(
                        label,
                        problem.check,
                        problem.message,
                        problem.expected,
                        problem.got,
                        exchange,
                    )
                )
            else:
                step.findings.append(
                    self.finding(
                        label, "facade", str(error), "success", type(error).__name__, exchange
                    )
                )
        else:
            step.findings.append(
                self.finding(
                    label, "facade", f"{type(error).__name__}: {error}", "success", "an error"
                )
            )

    def _poll_exchange(self, operation_id: str) -> Exchange:
        """A plain GET of the operation (no long-poll), to see where it stands."""
        request = httpx.Request(
            "GET",
            f"{self.s.base_url}/api/v1/operations/{operation_id}",
            headers=self._key_header(),
        )
        op = self.spec.by_id("get_operation")
        return Exchange(request, httpx.Response(200, request=request), op)

    # -- steps ----------------------------------------------------------------------------------

    def step(self, name: str, operation_id: str) -> _Step:
        """A step: ``with scenario.step(name, operation_id) as result: ...``."""
        self.progress(f"lifecycle: {name}")
        return _Step(self, StepResult(name=name, status="passed"), operation_id)

    def skip(self, name: str, reason: str) -> None:
        self.outcome.steps.append(StepResult(name=name, status="skipped", detail=reason))

    def expect(self, result: StepResult, ok: bool, finding: Finding) -> None:
        if not ok:
            result.findings.append(finding)
            raise StepFailed

    def expect_refusal(
        self,
        result: StepResult,
        operation_id: str,
        call: Callable[[], object],
        statuses: tuple[int, ...],
        code: str,
        what: str,
        *,
        or_failed_operation: bool = False,
    ) -> None:
        """``call`` must be refused with one of ``statuses`` (a load may instead start an
        operation that ends in `error`, with any code: the wire's load "returns an
        Operation", and operations may end so). The wire names no error code for these
        refusals: another code than the usual ``code`` is a note, not a finding."""
        refused: APIError | OperationFailedError | None = None
        try:
            call()
        except (APIError, OperationFailedError) as exc:
            refused = exc
        exchange = self.watcher.last(operation_id)
        label = exchange.label if exchange is not None else operation_id
        got = "no request" if exchange is None else _status_and_code(exchange.response)
        if isinstance(refused, OperationFailedError):
            if or_failed_operation:
                return
            got = f"{got}, then an operation that ended in `error` [{refused.code}]"
        elif isinstance(refused, APIError) and refused.status_code in statuses:
            # No code at all: an Error body that breaks the spec, the watcher's finding.
            if code and refused.code is not None and refused.code != code:
                self.outcome.notes.append(
                    f"{what}: {refused.status_code} {refused.code}, where {code} is usual"
                )
            return
        elif exchange is not None and exchange.response.status_code in statuses:
            # The right refusal in an Error body that breaks the spec (the facade then
            # reads no code from it): the watcher names that break once, for every reply.
            # Or a retry's: after a 503 the facade takes a save's 409 for its own first
            # attempt's checkpoint and returns it, though the server answered rightly.
            return
        elif refused is None and or_failed_operation and got.startswith("2"):
            got = f"{got}, then an operation that ended `done`"
        later = still_later(self, exchange)
        if later is not None:
            self.expect(result, False, later)
        expected = " or ".join(map(str, statuses))
        if or_failed_operation:
            expected += " or an operation that ends in `error`"
        self.expect(
            result,
            False,
            self.finding(
                label,
                "error_case",
                f"{what}: expected {expected}, got {got}",
                expected,
                got,
                exchange,
            ),
        )

    def expect_status(
        self,
        result: StepResult,
        operation_id: str,
        label: str,
        status: int,
        code: str,
        what: str,
        *,
        or_coded: int | None = None,
    ) -> None:
        """The last raw request of ``operation_id`` must have been answered with ``status``
        (or with ``or_coded`` and ``code``)."""
        exchange = self.watcher.last(operation_id)
        got = "no reply" if exchange is None else _status_and_code(exchange.response)
        passed = exchange is not None and (
            exchange.response.status_code == status or got == f"{or_coded} {code}"
        )
        later = still_later(self, exchange)
        if later is not None and not passed:
            self.expect(result, False, later)
        wanted = f"{status} {code}" if or_coded is None else f"{status} or {or_coded} {code}"
        self.expect(
            result,
            passed,
            self.finding(
                label,
                "error_case",
                f"{what}: expected {wanted}, got {got}",
                wanted,
                got,
                exchange,
            ),
        )

    def run(self) -> LifecycleOutcome:
        started = time.monotonic()
        try:
            self._run()
        finally:
            self._cleanup()
            self.http.close()
            self.raw.close()
            # Once for the whole run, so that the other steps still check what they are for.
            headers = list(self.watcher.missing_headers.values())
            self.outcome.steps.append(
                StepResult(
                    name=STEP_HEADERS,
                    status="failed" if headers else "passed",
                    detail=headers[0].message if headers else "",
                    findings=headers,
                )
            )
            self.outcome.notes.extend(self.watcher.notes)
            self.outcome.seconds = time.monotonic() - started
            self.outcome.findings = [f for step in self.outcome.steps for f in step.findings]
        return self.outcome

    def _run(self) -> None:
        s = self.s
        self.owner = ServiceClient(
            s.base_url,
            s.api_key or "",
            http_client=self.http,
            sleep=self.bound.sleep,
            poll=PollSettings(timeout=s.deadline, long_poll=min(LONG_POLL, s.deadline)),
            heartbeat_interval=0,
            max_retries=RETRIES,
        )
        # Each call within the deadline, retries included, as each operation's wait: a
        # request the server never answers was sent 4 times, each held its read timeout.
        self.service = self.owner.with_options(timeout=s.deadline)
        data = batch(s.vocab_size)
        name = f"contract-{s.run_id}"
        trainer: TrainingClient | None = None
        with self.step(STEP_CREATE, "create_model"):
            trainer = self.service.create_training_client(s.base_model, seed=1)
            self.models.append(trainer)
        if trainer is None:
            for rest in _LATER_STEPS:
                self.skip(rest, "no model could be created")
            return
        path = CheckpointPath(model_id=trainer.model_id, name=name)

        losses: list[float] = []
        with self.step(STEP_TRAIN, "forward_backward") as trained:
            for _ in range(STEPS_TRAINED):
                losses.append(trainer.forward_backward(data).loss)
                trainer.optim_step()
            self.expect(
                trained,
                all(b < a for a, b in itertools.pairwise(losses)),
                self.finding(
                    "POST /api/v1/models/{model_id}/forward-backward-passes",
                    "training",
                    f"the loss did not decrease at every step: {losses}",
                    "a decreasing loss",
                    ", ".join(f"{x:.6g}" for x in losses),
                ),
            )

        saved: Checkpoint | None = None
        with self.step(STEP_SAVE, "save_checkpoint") as r:
            saved = self._save(trainer, name, include_optimizer=True, result=r)
            if saved is not None:
                self._check_checkpoint(r, saved, path, CheckpointType.WEIGHT_AND_OPTIMIZER, "save")
                self._read_again("save_checkpoint")

        # What the model does next from the saved state: the loads must reproduce it.
        continuation: list[float] = []
        if any(f.check == "server_answers" for f in trained.findings):
            # It would only wait out the deadline again.
            self.skip(STEP_CONTINUE, "the server did not answer the training step")
        else:
            with self.step(STEP_CONTINUE, "forward_backward"):
                for _ in range(STEPS_CONTINUED):
                    continuation.append(trainer.forward_backward(data).loss)
                    trainer.optim_step()

        refused = self._save_refused(saved)
        shown: Checkpoint | None = None  # the checkpoint as the list shows it
        if refused is not None:  # nothing was saved: the steps that need it say so, once
            self.skip(STEP_LIST, refused)
            listed = False
        else:
            listed, shown = self._listed(trainer, path, CheckpointType.WEIGHT_AND_OPTIMIZER)
        if not listed and saved is None:
            for rest in _LOAD_STEPS:
                self.skip(rest, f"the checkpoint {path} was neither saved nor listed")
        elif len(continuation) < STEPS_CONTINUED:
            for rest in _LOAD_STEPS:
                self.skip(rest, "the model could not continue training, so there is no reference")
        else:
            self._loads(data, path, continuation)
        if listed or saved is not None:
            self._ttl(trainer, path)
        else:
            self.skip(STEP_TTL, f"the checkpoint {path} was neither saved nor listed")
        # A save whose reply broke the spec still made the checkpoint the list shows.
        self.artifacts.run(
            saved or shown,
            refused
            or f"neither the save nor the list gave the checkpoint {path} in the "
            "spec's shape, so it cannot be exported",
        )
        self._errors(trainer, name, path, refused)

    def _read_again(self, operation_id: str) -> None:
        """Read the last finished operation that ``operation_id`` started once more: the
        facade stops at `done`, so only a second read shows one that does not stay so
        (the watcher's ``_still_finished``)."""
        started = self.watcher.last(operation_id)
        try:
            data = started.response.json() if started is not None else None
        except ValueError:
            return
        op_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(op_id, str) and op_id in self.watcher.finished:
            url = f"{self.s.base_url}/api/v1/operations/{quote(op_id, safe='')}"
            self.raw.get(url, headers=self._key_header())

    def _save(
        self, trainer: TrainingClient, name: str, *, include_optimizer: bool, result: StepResult
    ) -> Checkpoint | None:
        self.names.add(name)
        try:
            checkpoint = trainer.save_state(name, include_optimizer=include_optimizer)
        except WeaverError as exc:
            self.from_error(exc, "save_checkpoint", result)
            return None
        self.checkpoint_ids.append(checkpoint.id)
        return checkpoint

    def _check_checkpoint(
        self,
        r: StepResult,
        checkpoint: Checkpoint,
        path: CheckpointPath,
        kind: CheckpointType,
        where: str,
    ) -> None:
        label = (
            "POST /api/v1/models/{model_id}/checkpoints"
            if where == "save"
            else "GET /api/v1/models/{model_id}/checkpoints"
        )
        exchange = self.watcher.last("save_checkpoint" if where == "save" else "list_checkpoints")
        got = (
            f"type `{checkpoint.type.value}`, path `{checkpoint.path}`, "
            f"status `{checkpoint.status.value}`"
        )
        self.expect(
            r,
            checkpoint.type is kind and checkpoint.path == path,
            self.finding(
                label,
                "checkpoint_fields",
                f"the {where} reports {got}; expected type `{kind.value}` and path `{path}`",
                f"type `{kind.value}`, path `{path}`",
                got,
                exchange,
            ),
        )
        if where == "save":
            self.expect(
                r,
                checkpoint.status is CheckpointStatus.COMPLETED,
                self.finding(
                    label,
                    "checkpoint_fields",
                    f"a done save reports status `{checkpoint.status.value}`",
                    "status `completed`",
                    f"`{checkpoint.status.value}`",
                    exchange,
                ),
            )

    def _list_until(self, trainer: TrainingClient, name: str) -> tuple[list[Checkpoint], int]:
        """The model's checkpoints, listed again with a backoff until ``name`` shows or the
        deadline passes (a server may list a save late); and how many listings it took."""
        listed, listings, pause = trainer.list_checkpoints(), 1, _RELIST_PAUSE
        ends = time.monotonic() + self.s.deadline
        while (
            all(c.name != name for c in listed)
            and listings <= _RELISTS
            and time.monotonic() + pause < ends
        ):
            time.sleep(pause)
            listed, listings, pause = trainer.list_checkpoints(), listings + 1, pause * 2
        return listed, listings

    def _listed(
        self, trainer: TrainingClient, path: CheckpointPath, kind: CheckpointType
    ) -> tuple[bool, Checkpoint | None]:
        """The list shows the checkpoint; True if the server listed it (even malformed),
        and the checkpoint when the list shows it once in the spec's shape."""
        shown: Checkpoint | None = None
        with self.step(STEP_LIST, "list_checkpoints") as r:
            try:
                listed, listings = self._list_until(trainer, path.name)
            finally:
                raw = _raw_listing(self.watcher.last("list_checkpoints"))
            found = [c for c in listed if c.name == path.name]
            shown = found[0] if len(found) == 1 else None
            if found and listings > 1:
                self.watcher.notes.append(
                    f"the saved checkpoint `{path.name}` was listed only by listing {listings} "
                    "after its save; the wire sheet does not say a list shows it at once"
                )
            exchange = self.watcher.last("list_checkpoints")
            self.expect(
                r,
                len(found) == 1,
                self.finding(
                    "GET /api/v1/models/{model_id}/checkpoints",
                    "checkpoint_listed",
                    (
                        f"the list shows the saved checkpoint `{path.name}` {len(found)} times"
                        if found
                        else f"the list does not show the saved checkpoint `{path.name}`"
                    )
                    + f" (listed: {', '.join(c.name for c in listed) or 'nothing'})",
                    f"`{path.name}` listed once",
                    f"{len(found)} times",
                    exchange,
                ),
            )
            self._check_checkpoint(r, found[0], path, kind, "list")
        return path.name in raw, shown

    def _loads(self, data: list[Any], path: CheckpointPath, continuation: list[float]) -> None:
        assert self.service is not None
        with self.step(STEP_LOAD, "load_checkpoint") as r:
            weights = self.service.create_training_client(self.s.base_model, seed=2)
            self.models.append(weights)
            loaded = weights.load_state(str(path))
            self.expect(
                r,
                loaded.path == path and loaded.include_optimizer is False,
                self.finding(
                    "POST /api/v1/models/{model_id}/load",
                    "load_result",
                    f"the load reports path `{loaded.path}` and include_optimizer "
                    f"{loaded.include_optimizer}",
                    f"path `{path}`, include_optimizer false",
                    f"`{loaded.path}`, {loaded.include_optimizer}",
                    self.watcher.last("load_checkpoint"),
                ),
            )
            # The weights are the saved ones: the next loss is the continuation's first.
            loss = weights.forward_backward(data).loss
            self.expect(
                r,
                loss == continuation[0],
                self.finding(
                    "POST /api/v1/models/{model_id}/load",
                    "weights_restored",
                    f"after load_state the loss is {loss!r}, not the saved weights' "
                    f"{continuation[0]!r}",
                    repr(continuation[0]),
                    repr(loss),
                    self.watcher.last("load_checkpoint"),
                ),
            )
        with self.step(STEP_RESUME, "load_checkpoint") as r:
            resumed = self.service.create_training_client(self.s.base_model, seed=3)
            self.models.append(resumed)
            resumed.load_state_with_optimizer(str(path))
            replayed = []
            for _ in range(STEPS_CONTINUED):
                replayed.append(resumed.forward_backward(data).loss)
                resumed.optim_step()
            self.expect(
                r,
                replayed == continuation,
                self.finding(
                    "POST /api/v1/models/{model_id}/load",
                    "resume_exact",
                    f"after load_state_with_optimizer the losses are {replayed}, "
                    f"not the continuation's {continuation}",
                    ", ".join(map(repr, continuation)),
                    ", ".join(map(repr, replayed)),
                    self.watcher.last("load_checkpoint"),
                ),
            )

    def _ttl(self, trainer: TrainingClient, path: CheckpointPath) -> None:
        """Set a TTL, then none: schemathesis reaches this route only with made-up paths
        (no link leads to it), so this is where a real checkpoint's TTL is changed."""
        with self.step(STEP_TTL, "set_checkpoint_ttl") as r:
            for ttl in (TTL_PROBE, None):
                changed = trainer.set_checkpoint_ttl(path, ttl)
                got = f"ttl_seconds {changed.ttl_seconds}, expires_at {changed.expires_at}"
                wanted = "permanent" if ttl is None else f"{ttl} s"
                permanent = ttl is None
                self.expect(
                    r,
                    (changed.ttl_seconds is None) is permanent
                    and (changed.expires_at is None) is permanent,
                    self.finding(
                        "PATCH /api/v1/models/{model_id}/checkpoints/ttl",
                        "checkpoint_ttl",
                        f"after a TTL change to {wanted} the checkpoint has {got}",
                        "no ttl_seconds and no expires_at"
                        if ttl is None
                        else "a ttl_seconds and an expires_at",
                        got,
                        self.watcher.last("set_checkpoint_ttl"),
                    ),
                )

    def _save_refused(self, saved: Checkpoint | None) -> str | None:
        """Why nothing was saved, when the server refused the save (a 4xx, the save step's
        finding); ``None`` when it may have saved (a reply the facade could not read)."""
        if saved is not None:
            return None
        exchange = self.watcher.last("save_checkpoint")
        status = exchange.response.status_code if exchange is not None else None
        if status is None or not 400 <= status < 500:
            return None
        return f"the save was refused ({status}), so there is no checkpoint"

    def _errors(
        self, trainer: TrainingClient, name: str, path: CheckpointPath, refused: str | None
    ) -> None:
        s = self.s
        if refused is not None:
            self.skip(STEP_DUPLICATE, refused)
        else:
            with self.step(STEP_DUPLICATE, "save_checkpoint") as r:
                self.expect_refusal(
                    r,
                    "save_checkpoint",
                    lambda: trainer.save_state(name, include_optimizer=True),
                    (409,),
                    "checkpoint_exists",
                    f"saving `{name}` again",
                )
        with self.step(STEP_MALFORMED, "load_checkpoint") as r:
            # The facade refuses a malformed path before sending it; the kit sends it raw.
            bad = f"s3://{trainer.model_id}/checkpoints/{name}"
            self.raw.post(
                f"{s.base_url}/api/v1/models/{trainer.model_id}/load",
                json={"path": bad, "include_optimizer": False},
                headers=self._key_header(),
            )
            self.expect_status(
                r,
                "load_checkpoint",
                "POST /api/v1/models/{model_id}/load",
                400,
                "invalid_request",
                f"loading the malformed path `{bad}`",
                # The wire states no status for a refused request; FastAPI's is 422.
                or_coded=422,
            )
        with self.step(STEP_UNKNOWN, "load_checkpoint") as r:
            missing = f"weaver://{trainer.model_id}/checkpoints/missing-{s.run_id}"
            self.expect_refusal(
                r,
                "load_checkpoint",
                lambda: trainer.load_state(missing),
                (404,),
                "not_found",
                f"loading `{missing}`",
                or_failed_operation=True,
            )
        with self.step(STEP_WEIGHT_ONLY, "load_checkpoint") as r:
            weight_only = self._save(trainer, f"{name}-weights", include_optimizer=False, result=r)
            if weight_only is None:
                raise StepFailed
            self.expect(
                r,
                weight_only.type is CheckpointType.WEIGHT,
                self.finding(
                    "POST /api/v1/models/{model_id}/checkpoints",
                    "checkpoint_fields",
                    f"a weight-only save reports type `{weight_only.type.value}`",
                    "type `weight`",
                    f"`{weight_only.type.value}`",
                    self.watcher.last("save_checkpoint"),
                ),
            )
            # A path string, so that the server (not the facade) decides.
            self.expect_refusal(
                r,
                "load_checkpoint",
                lambda: trainer.load_state_with_optimizer(str(weight_only.path)),
                (422, 400, 409),
                "optimizer_state_unavailable",
                f"load_state_with_optimizer of the weight-only `{weight_only.path}`",
                or_failed_operation=True,
            )
        if not s.api_key:
            self.skip(STEP_NO_KEY, "no API key was given, so none can be left out")
            return
        with self.step(STEP_NO_KEY, "get_model") as r:
            self.raw.get(f"{s.base_url}/api/v1/models/{trainer.model_id}")
            self.expect_status(
                r,
                "get_model",
                "GET /api/v1/models/{model_id}",
                401,
                "unauthorized",
                f"a request without {API_KEY_HEADER}",
            )

    def _key_header(self) -> dict[str, str]:
        return {API_KEY_HEADER: self.s.api_key} if self.s.api_key else {}

    def _cleanup(self) -> None:
        """Best effort: the checkpoints and models this run made. Not checked."""
        with self.watcher.paused():
            sweep = Sweep(
                self.http, self.s.deadline, root=self.s.base_url, headers=self._key_header()
            )
            self.bound.sweep = sweep
            models = [model.model_id for model in self.models]
            # Every checkpoint the run may have saved, by the name it gave it (a save
            # answered in another shape than the spec's gave the facade no id), looked up
            # before the models go: a server may no longer find a terminated model.
            found = sweep.find(models, self._named)
            # The facade's close first: it terminates the models it created, which a server
            # that forgets terminated models would answer 404 (a logged warning) after ours.
            if self.owner is not None:
                with suppress(Exception), time_up_worded(self.s.deadline):
                    self.owner.close()
            base_path = httpx.URL(self.s.base_url).path.rstrip("/")
            for model in self.models:
                path = f"/api/v1/models/{model.model_id}/terminate"
                if base_path + path not in self.bound.done:  # else the close's did it
                    sweep.send("POST", path)
            self.artifacts.cleanup(sweep)
            for checkpoint_id in self.checkpoint_ids:
                sweep.delete(str(checkpoint_id))
            self.outcome.left = sweep.checkpoints(models, self._named, found)

    def _named(self, checkpoint: Mapping[str, Any]) -> bool:
        """Whether the run gave ``checkpoint`` (a listed one) its name."""
        return checkpoint.get("name") in self.names


class _Step:
    """Runs one step: its findings, its status, and whatever it raised, recorded."""

    def __init__(self, scenario: Scenario, result: StepResult, operation_id: str) -> None:
        self.scenario = scenario
        self.result = result
        self.operation_id = operation_id
        self.started = 0.0

    def __enter__(self) -> StepResult:
        self.scenario._wire_seen = len(self.scenario.watcher.findings)
        self.started = time.monotonic()
        return self.result

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> bool:
        scenario, result = self.scenario, self.result
        if isinstance(exc, StepFailed):
            result.status = "failed"
        elif isinstance(exc, StepSkipped):
            result.status = "skipped"
            result.detail = str(exc)
        elif isinstance(exc, APIConnectionError) and isinstance(exc.__cause__, httpx.HTTPError):
            # A facade call that got no reply within the deadline: its request, by route.
            said = str(exc).partition(": ")[2] or str(exc)
            result.findings.append(self._no_reply(exc.__cause__, said=said))
        elif isinstance(exc, WeaverError):
            scenario.from_error(exc, self.operation_id, result)
        elif isinstance(exc, httpx.HTTPError):
            result.findings.append(self._no_reply(exc))
        elif isinstance(exc, Exception):
            # A reply so odd that the kit itself tripped over it: still a finding, not a crash.
            result.findings.append(
                scenario.finding(
                    self.operation_id,
                    "kit_error",
                    f"the step stopped on {type(exc).__name__}: {exc}",
                    "the step to complete",
                    type(exc).__name__,
                )
            )
        result.seconds = time.monotonic() - self.started
        scenario._merge_wire(result)
        if result.findings:
            result.status = "failed"
            result.detail = result.findings[0].message
        scenario.outcome.steps.append(result)
        return exc is None or isinstance(exc, Exception)

    def _no_reply(self, exc: httpx.HTTPError, *, said: str | None = None) -> Finding:
        """The request that got no reply, by the spec's route, and how long the step
        waited: retries of a held request can take minutes. ``said``: the facade's words
        for it, whose call had the deadline."""
        scenario = self.scenario
        took = waited_words(time.monotonic() - self.started)
        waited = f"the step gave up after {took} s, retries included"
        if said is not None:
            waited += f" (each call's deadline: {plain_seconds(scenario.s.deadline)} s)"
        try:
            request: httpx.Request | None = exc.request
        except RuntimeError:  # raised before a request was built
            request = None
        if request is None:
            message = f"no reply ({said or type(exc).__name__}); {waited}"
            return scenario.finding(self.operation_id, "server_answers", message, "a reply", "none")
        path = request.url.path
        base = scenario.watcher.base_path
        op = scenario.spec.match(request.method, path[len(base) :] if base else path)
        # The failure's words say what came instead; storage may echo its URL's signature.
        hide_signature(exc, str(request.url))
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        what = said or what
        message = f"no reply to {request.method} {path} ({what}); {waited}"
        label = self.operation_id if op is None else op.label
        found = scenario.finding(label, "server_answers", message, "a reply", "none")
        if op is None:  # a storage URL, whose query is a credential: no command to repeat it
            return found
        return replace(found, curl=curl_for_request(request, scenario.s.api_key))


_LOAD_STEPS = (STEP_LOAD, STEP_RESUME)
_LATER_STEPS = (
    STEP_TRAIN,
    STEP_SAVE,
    STEP_CONTINUE,
    STEP_LIST,
    *_LOAD_STEPS,
    STEP_TTL,
    *ARTIFACT_STEPS,
    STEP_DUPLICATE,
    STEP_MALFORMED,
    STEP_UNKNOWN,
    STEP_WEIGHT_ONLY,
    STEP_NO_KEY,
)


def _json_body(request: httpx.Request) -> Any:
    try:
        return json.loads(request.content) if request.content else None
    except ValueError:
        return None


def still_later(sc: Any, exchange: Exchange | None) -> Finding | None:
    """An availability finding when ``exchange``'s reply still asked to try later (a 429
    or 503 after the retries): not the answer a step checks, as for the facade's own
    errors (``Scenario.from_error``), so one availability finding for the run, not one
    each. ``sc``: the ``Scenario``."""
    if exchange is None:
        return None
    reply = exchange.response
    if retry_after(reply.status_code, reply.headers, reply.content) is None:
        return None
    said = _status_and_code(reply)
    retried = reply.extensions.get(RETRIED)
    why = " (an earlier request used its retries)"  # the kit's own, retried beneath the watcher
    if retried is None:  # a facade call's, whose every attempt the watcher saw
        seen: list[Exchange] = sc.watcher.exchanges
        upto = next((i + 1 for i, e in enumerate(seen) if e is exchange), 0)
        retried, why = _retries_seen(seen[:upto] if upto else [exchange]), ""
    how = f"still {said} after {counted(retried, 'retry', 'retries')}" if retried else said
    rest = "and the step could not be checked"
    unwaited = reply.extensions.get(UNWAITED)
    if unwaited is not None:  # the kit's own, whose wait would have outlasted its time
        s: Settings = sc.s
        asked = (
            f"the server asked to try again in {plain_seconds(unwaited)} s, and the "
            f"request's time ({plain_seconds(s.request_time)} s: {s.deadline_name} and a "
            f"second) came first, {rest}"
        )
        message = f"{how}: then {asked}" if retried else f"{said}, not retried: {asked}"
    else:
        how = how if retried else f"{said}, not retried{why}"
        message = f"{how}: the server asked to try again later, {rest}"
    finding: Finding = sc.finding(
        exchange.label,
        AVAILABILITY,
        message,
        "an answer after the wait the server asked for",
        f"{reply.status_code} with Retry-After or `retryable: true`",
        exchange,
    )
    return finding


def _retries_seen(exchanges: list[Exchange]) -> int:
    """How many times the facade sent the last request of ``exchanges`` again while the
    server asked to try later: it sends the very same request, and the watcher sees each
    attempt."""
    if not exchanges:
        return 0
    last = exchanges[-1].request
    asked = 0
    for exchange in reversed(exchanges):
        reply = exchange.response
        if exchange.request is not last:
            break
        if retry_after(reply.status_code, reply.headers, reply.content) is None:
            break
        asked += 1
    return max(asked - 1, 0)


def _not_answered(error: APIError, retries: int, deadline: float) -> str:
    """What became of a facade call the server kept asking to try later, ``retries`` times
    sent again: the facade does not wait out a ``Retry-After`` longer than it waits for one
    call, nor a wait (its backoff's, if longer) beyond the call's ``deadline``, and then
    makes fewer retries, or none."""
    said = f"{error.status_code} {error.code}"
    rest = "and the step could not be checked"
    wait = error.retry_after
    if retries < RETRIES and wait is not None:
        # The lifecycle's client has the default settings: 30 s of sleep in all per call.
        waits = RetrySettings()
        asked = f"the server asked to try again in {plain_seconds(wait)} s, " + (
            f"and the call's deadline ({plain_seconds(deadline)} s) came first"
            if wait < deadline and wait <= min(waits.max_retry_wait, waits.max_retry_after)
            else "longer than the facade waits for one call"
        )
        if retries == 0:
            return f"{said}, not retried: {asked}, {rest}"
        return f"still {said} after {counted(retries, 'retry', 'retries')}: then {asked}, {rest}"
    return (
        f"still {said} after {counted(retries, 'retry', 'retries')}: the server asked to "
        f"try again later, {rest}"
    )


def _status_and_code(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    code = data.get("error") if isinstance(data, dict) else None
    return f"{response.status_code}" + (f" {code}" if isinstance(code, str) else "")


def _raw_listing(exchange: Exchange | None) -> set[str]:
    """Names in a listing reply, however it is shaped otherwise."""
    if exchange is None or exchange.response.status_code != 200:
        return set()
    try:
        data = exchange.response.json()
    except ValueError:
        return set()
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return set()
    return {str(item.get("name")) for item in items if isinstance(item, dict)}


def run_lifecycle(
    spec: Spec,
    *,
    base_url: str,
    api_key: str | None,
    base_model: str,
    vocab_size: int,
    deadline: float,
    run_id: str,
    progress: Callable[[str], None] = lambda _: None,
    deadline_name: str = PYTHON_NAMES.deadline,
) -> LifecycleOutcome:
    """Run the scenario against ``base_url``; every problem becomes a finding."""
    settings = Settings(base_url, api_key, base_model, vocab_size, deadline, run_id, deadline_name)
    return Scenario(spec, settings, progress).run()
