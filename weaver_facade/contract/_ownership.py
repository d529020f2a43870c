"""Part 1 acts only on what it made.

The key a run uses may hold its owner's models, checkpoints and artifacts, and schemathesis
reaches them through the spec's links (the model listing links to a model, a model to its
checkpoints) or by generating an id that happens to exist. So before each request is sent,
every valid id in its path that this run did not make is replaced by a stand-in that names
nothing, which the server answers with its 404; an invalid id names nothing already and is
left to the negative cases. Valid ``Idempotency-Key`` values are made this run's own too.
What this run made is read from the successful replies to its own requests: the sessions it
opened, and whatever the replies about those name. Every reply is read, also to the requests
schemathesis' checks send past its hooks (``PatientTransport`` hands them over): a server that
opens a session without the key opens one for an auth check's probe, and its id comes back.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import httpx
from weaver_client import limits
from weaver_client.schemas import SCHEMAS

from .._causes import causes
from .._plural import counted
from .._socket_deadline import ends
from ._findings import plain_seconds
from ._patience import RETRIES_OWN, copy_with, raw_body

__all__ = [
    "ARTIFACT_KINDS",
    "ID_PARAMETERS",
    "Left",
    "Ownership",
    "Sweep",
    "SweepBound",
    "is_artifact_kind",
    "is_export_operation",
    "left_note",
    "time_up_worded",
]

_RESOURCE_ID = re.compile(limits.RESOURCE_ID_PATTERN)
_IDEMPOTENCY_KEY = re.compile(limits.IDEMPOTENCY_KEY_PATTERN)
_CHECKPOINT_PATH = re.compile(limits.CHECKPOINT_PATH_PATTERN)
_SCHEME = "weaver://"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# The spec's id path parameters, each with the form its schema gives it.
ID_PARAMETERS = {
    "session_id": _RESOURCE_ID,
    "model_id": _RESOURCE_ID,
    "operation_id": _RESOURCE_ID,
    "checkpoint_id": _UUID,
    "artifact_id": _UUID,
}
_ID_FIELDS = frozenset({"id", *ID_PARAMETERS})
# An Artifact is told by its `kind`, which an Operation never takes (the spec's rule).
ARTIFACT_KINDS: tuple[str, ...] = tuple(SCHEMAS["ArtifactKind"]["enum"])
# The checkpoints a clean-up's note names; it counts the rest.
_NAMED = 5
# The shortest timeout a clean-up request gets, however little of its budget is left:
# one sent with next to none would fail for want of time alone.
_FLOOR = 1.0
# The most of a clean-up's budget one request may take, its retries included: a server
# that holds the first request (a listing) leaves time for the terminates after it.
_SHARE = 0.25


class Ownership:
    """The ids one run made, and a stand-in for every other id a request names."""

    def __init__(self, opening: str) -> None:
        """``opening``: the label of the operation that opens a session, the run's root."""
        self._opening = opening
        self._made: set[str] = set()
        #: This run's models and checkpoints, in the order seen, for ``clean_up``.
        self.models: dict[str, None] = {}
        self.checkpoints: dict[str, None] = {}
        self.artifacts: dict[str, None] = {}
        self._stand_ins: set[str] = set()
        self._salt = uuid.uuid4()

    def stand_in(self, case: Any) -> None:
        """Replace, in place, each id in ``case``'s path that this run did not make, and the
        model of each valid checkpoint path in its body (a load's, a TTL change's) that
        this run did not make, and give each valid ``Idempotency-Key`` a value of this run
        and this body."""
        body = getattr(case, "body", None)
        if isinstance(body, dict | list):
            self._stand_in_paths(body)
        headers = getattr(case, "headers", None) or {}
        for name, value in list(headers.items()):
            # Generated keys repeat (the spec's example most of all): a server with the
            # extension refuses a key it has seen with another body, from this run or an
            # earlier one, and every POST would get that 422.
            valid = isinstance(value, str) and _IDEMPOTENCY_KEY.fullmatch(value)
            if name.lower() == "idempotency-key" and valid:
                headers[name] = str(uuid.uuid5(self._salt, f"{value}:{case.body!r}"))
        parameters = case.path_parameters or {}
        for name, value in list(parameters.items()):
            form = ID_PARAMETERS.get(name)
            if (
                form is None
                or not isinstance(value, str)
                or value in self._made
                or value in self._stand_ins
                or not form.fullmatch(value)
            ):
                continue
            # The same stand-in for the same id, so that a scenario stays consistent.
            derived = uuid.uuid5(self._salt, f"{name}:{value}")
            stand_in = str(derived) if form is _UUID else f"absent-{derived.hex}"
            self._stand_ins.add(stand_in)
            parameters[name] = stand_in

    def _stand_in_paths(self, body: dict[Any, Any] | list[Any]) -> None:
        """Each valid ``weaver://`` checkpoint path in ``body`` (at any depth) that names a
        model this run did not make names a stand-in model instead, in place."""
        places = body.items() if isinstance(body, dict) else enumerate(body)
        for key, value in list(places):
            if isinstance(value, dict | list):
                self._stand_in_paths(value)
                continue
            if not isinstance(value, str) or not _CHECKPOINT_PATH.fullmatch(value):
                continue
            model_id, _, rest = value.removeprefix(_SCHEME).partition("/")
            if model_id in self._made or model_id in self._stand_ins:
                continue
            stand_in = f"absent-{uuid.uuid5(self._salt, f'model_id:{model_id}').hex}"
            self._stand_ins.add(stand_in)
            body[key] = f"{_SCHEME}{stand_in}/{rest}"

    def stood_in(self, case: Any) -> bool:
        """Whether ``case``'s path names a stand-in (and so nothing, by design)."""
        values = (case.path_parameters or {}).values()
        return any(isinstance(value, str) and value in self._stand_ins for value in values)

    def record(self, case: Any, response: Any) -> None:
        """Remember the ids in a successful reply to a request about this run's own."""
        if not 200 <= response.status_code < 300:
            return
        ids = [v for k, v in (case.path_parameters or {}).items() if k in ID_PARAMETERS]
        ours = all(v in self._made for v in ids) if ids else case.operation.label == self._opening
        if not ours:
            return
        try:
            body = response.json()
        except ValueError:
            return
        self._made.update(_ids_in(body))
        method, _, route = case.operation.label.partition(" ")
        created = method == "POST" and route.endswith("/models")
        if created and isinstance(body, dict) and isinstance(body.get("id"), str):
            # The model a create made: told by its route, since the spec's Model
            # requires only `id` (a server may leave `base_model` out).
            self.models.setdefault(body["id"], None)
        for item in _objects(body):
            if isinstance(item.get("model_id"), str):
                self.models.setdefault(item["model_id"], None)
            if isinstance(item.get("checkpoint_id"), str):  # an export's own save, say
                self.checkpoints.setdefault(item["checkpoint_id"], None)
            if isinstance(item.get("id"), str):
                if "base_model" in item:  # a Model
                    self.models.setdefault(item["id"], None)
                elif is_artifact_kind(item.get("kind")):  # an Artifact
                    self.artifacts.setdefault(item["id"], None)
                elif str(item.get("path", "")).startswith("weaver://"):  # a Checkpoint
                    self.checkpoints.setdefault(item["id"], None)

    def clean_up(self, http: httpx.Client, budget: float = 60.0) -> list[Left]:
        """Terminate this run's models, delete its artifacts and checkpoints (where the
        server can): on a real server a model left running holds its accelerators. Best
        effort, and within ``budget`` seconds: models first. The checkpoints left."""
        sweep = Sweep(http, budget)
        # A model whose create's reply was lost on the way (a POST not sent again) is in
        # no reply: where the server lists models, found by this run's session (none when
        # the run made nothing, whose listing would only spend the budget).
        limit, listed = limits.LIST_MODELS_LIMIT_MAXIMUM, set[str]()
        for offset in itertools.count(0, limit) if self._made else ():
            page = sweep.items("/api/v1/models", limit=limit, offset=offset)
            for item in page:
                if item.get("session_id") in self._made and item.get("status") != "terminated":
                    self.models.setdefault(item["id"], None)
            # A server that ignores the offset gives the same page again: the budget is
            # the terminates'.
            if len(page) < limit or listed >= {str(item["id"]) for item in page}:
                break
            listed.update(str(item["id"]) for item in page)

        # Saves no reply of the run showed (an export of the current weights saves one),
        # as the models list them: before the terminates too, since a server may no longer
        # find a terminated model. Every checkpoint of this run's models is this run's.
        found = sweep.find(self.models, _everything)
        for model_id in self.models:
            sweep.send("POST", f"/api/v1/models/{model_id}/terminate")
        found.update(sweep.find(self.models, _everything))
        # Artifacts outlive their checkpoint: those no reply showed (an export answered
        # with a pending operation) are found before it goes.
        for checkpoint_id in {**self.checkpoints, **found}:
            for item in sweep.items(f"/api/v1/checkpoints/{checkpoint_id}/artifacts"):
                self.artifacts.setdefault(item["id"], None)
        for artifact_id in self.artifacts:
            sweep.send("DELETE", f"/api/v1/artifacts/{artifact_id}")
        for checkpoint_id in self.checkpoints:
            sweep.delete(checkpoint_id)
        return sweep.checkpoints(self.models, _everything, found)


def _everything(_: Mapping[str, Any]) -> bool:
    return True


Ours = Callable[[Mapping[str, Any]], bool]


class Found(NamedTuple):
    """A checkpoint a model's list showed."""

    model_id: str
    name: str


class Left(NamedTuple):
    """A checkpoint of the run the server keeps: its name, and why (the delete's answer)."""

    name: str
    why: str


def left_note(left: Mapping[str, Iterable[Left]], *, deletable: bool) -> str | None:
    """The run's one note on the checkpoints its clean-ups left, ``left`` by the part
    that made them, or ``None``. ``deletable``: whether the server may offer the delete
    (else every refusal is its 404, and saying so once tells more than each)."""
    shown = [(part, item) for part, items in left.items() for item in items]
    if not shown:
        return None
    named = ", ".join(
        f"`{item.name}` ({part}{f', {item.why}' if deletable else ''})"
        for part, item in shown[:_NAMED]
    )
    more = f" and {len(shown) - _NAMED} more" if len(shown) > _NAMED else ""
    checkpoints = counted(len(shown), "checkpoint")
    if not deletable:
        return (
            "the server offers no way to delete checkpoints (the `checkpoint-by-id` "
            f"extension is missing): this run left {checkpoints} on it: "
            f"{named}{more}"
        )
    return f"the clean-up left {checkpoints} of this run on the server: {named}{more}"


class Sweep:
    """The requests of a clean-up: best effort, all within ``budget`` seconds (each
    request's timeouts, its retries' too, cut to a share of it or the time left, if less,
    but at least ``_FLOOR``: a server that stops answering costs at most that much more,
    and one held request leaves time for the others), each sent again by the sweep itself (never
    by the kit's patient transports, ``RETRIES_OWN``) after a 429 or 503 (as
    ``Retry-After`` says) or a lost reply. ``root`` comes before each path, and
    ``headers`` go with each request."""

    def __init__(
        self,
        http: httpx.Client,
        budget: float,
        *,
        root: str = "",
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._clock = clock
        self._ends = clock() + budget
        self._share = max(budget * _SHARE, _FLOOR)
        self._root = root
        self._headers = dict(headers or {})
        self._sleep = sleep
        self._deleted: set[str] = set()  # the checkpoints deleted, by id
        self._answered: dict[str, int] = {}  # each delete's last status, by id
        #: The ids each model's list showed last (not deleted); ``None``: it could not be read.
        self._lists: dict[str, set[str] | None] = {}
        #: Of those, the ones it showed still being saved (``pending``).
        self._saving: dict[str, set[str]] = {}

    def send(self, method: str, path: str, **params: str | int) -> httpx.Response | None:
        """The reply, or ``None``: none within the budget. A 429 or 503 whose wait ends past
        the budget is the reply: the server answered."""
        later: httpx.Response | None = None
        until = self._until()
        for attempt in range(4):
            if self._clock() > until:
                return later
            wait = 0.25 * 2**attempt
            try:
                with self.ends(until):
                    reply = self._http.request(
                        method,
                        self._root + path,
                        params=params or None,
                        headers=self._headers,
                        timeout=self._timeout(self._http.timeout, until),
                        extensions={RETRIES_OWN: True},
                    )
                if reply.status_code not in (429, 503):
                    return reply
                later = reply
                asked = float(reply.headers.get("Retry-After") or wait)  # or an HTTP-date
                wait = asked if asked >= 0 else wait  # a negative or NaN is no wait to sleep
            except httpx.InvalidURL:
                return None  # an id of a server's reply that no URL can hold: nothing to ask
            except (httpx.HTTPError, ValueError):
                pass
            if self._clock() + wait > until:
                return later
            self._sleep(wait)
        return later

    def _until(self) -> float:
        """When a request sent now (with its retries) must end: its share of the budget,
        or the budget's end if sooner."""
        return min(self._ends, self._clock() + self._share)

    def _time_left(self, until: float | None = None) -> float:
        """The time a request sent now may take: until ``until`` (by default its share),
        at least ``_FLOOR``."""
        return max((self._until() if until is None else until) - self._clock(), _FLOOR)

    def ends(self, until: float | None = None) -> contextlib.AbstractContextManager[None]:
        """The end of a request sent in it, at its socket (``_socket_deadline``): httpx's
        timeouts bound each wait for bytes, and a reply sent a byte at a time none."""
        return ends(time.monotonic() + self._time_left(until))

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, but not past the budget: another client's wait before a
        try (``SweepBound.sleep``), which the budget then refuses, as ``send`` takes
        none that would end past it."""
        self._sleep(min(seconds, max(self._ends - self._clock(), 0.0)))

    def bound(self, request: httpx.Request) -> httpx.Request:
        """``request``, sent by another client than the sweep's (``SweepBound``), held to
        the budget as the sweep's own are: its timeouts cut to the time left; none sent
        once the budget is spent (a ``ConnectTimeout``: nothing reached the server)."""
        if self._clock() > self._ends:
            raise _TimeUp("the clean-up's time is up", request=request)
        own = httpx.Timeout(None, **request.extensions.get("timeout", {}))
        request.extensions = {**request.extensions, "timeout": self._timeout(own).as_dict()}
        return request

    def _timeout(self, own: httpx.Timeout, until: float | None = None) -> httpx.Timeout:
        """``own`` timeouts, each cut to the time left (``_time_left``)."""
        left = self._time_left(until)
        return httpx.Timeout(
            connect=_capped(own.connect, left),
            read=_capped(own.read, left),
            write=_capped(own.write, left),
            pool=_capped(own.pool, left),
        )

    def items(self, path: str, **params: str | int) -> list[dict[str, Any]]:
        """The listing's items (with an ``id``), every page its ``next_cursor`` leads to."""
        return self._items(path, **params) or []

    def _items(self, path: str, **params: str | int) -> list[dict[str, Any]] | None:
        """As ``items``; ``None`` when the first page could not be read."""
        found: list[dict[str, Any]] | None = None
        listed: set[str] = set()  # the ids in ``found``
        cursors: set[str] = set()
        while True:
            reply = self.send("GET", path, **params)
            if reply is None or reply.status_code != 200:
                return found
            try:
                page = reply.json()
                items, cursor = page.get("items"), page.get("next_cursor")
            except (ValueError, AttributeError):
                return found
            new = [i for i in items or [] if isinstance(i, dict) and "id" in i]
            new = [i for i in new if str(i["id"]) not in listed]
            listed.update(str(i["id"]) for i in new)
            found = (found or []) + new
            # A cursor seen before, or a page with nothing new (a server that ignores the
            # cursor sent, or never says the list has ended), would page for ever.
            if not isinstance(cursor, str) or cursor in cursors or not new:
                return found
            cursors.add(cursor)
            params = {**params, "cursor": cursor}

    def delete(self, checkpoint_id: str) -> int | None:
        """Delete the checkpoint; the reply's status (``None``: no reply)."""
        reply = self.send("DELETE", f"/api/v1/checkpoints/{checkpoint_id}")
        if reply is None:
            return None
        self._answered[checkpoint_id] = reply.status_code
        if 200 <= reply.status_code < 300:
            self._deleted.add(checkpoint_id)
        return reply.status_code

    def find(self, model_ids: Iterable[str], ours: Ours) -> dict[str, Found]:
        """The checkpoints of ``model_ids`` that ``ours`` takes, by id, as the models'
        lists show them now, but for those deleted (in a list's words, or by this sweep:
        a list may lag)."""
        found: dict[str, Found] = {}
        for model_id in model_ids:
            items = self._items(f"/api/v1/models/{model_id}/checkpoints")
            shown = [i for i in items or [] if i.get("status") != "deleted"]
            self._lists[model_id] = None if items is None else {str(i["id"]) for i in shown}
            self._saving[model_id] = {str(i["id"]) for i in shown if i.get("status") == "pending"}
            for item in shown:
                if ours(item) and str(item["id"]) not in self._deleted:
                    found[str(item["id"])] = Found(model_id, str(item.get("name")))
        return found

    def checkpoints(
        self, model_ids: Iterable[str], ours: Ours, found: Mapping[str, Found] | None = None
    ) -> list[Left]:
        """Delete each checkpoint of ``model_ids`` that ``ours`` takes, as the models'
        lists show them, and those ``found`` before (in a list that may be gone, a
        terminated model's): a save whose reply the run could not read (in another shape
        than the spec's) made one whose id only a list gives. One still being saved (a
        delete answered 409, as the spec has it) is tried again until the budget ends. The
        ones left, for ``left_note``."""
        models, known, pause = list(model_ids), dict(found or {}), 0.25
        refused: dict[str, str] = {}  # why each checkpoint left is, by id
        given_up: set[str] = set()  # refused for good: not asked again
        while True:
            known.update(self.find(models, ours))
            waiting = False
            for checkpoint_id in known:
                if checkpoint_id in self._deleted or checkpoint_id in given_up:
                    continue
                status = self.delete(checkpoint_id)
                if checkpoint_id in self._deleted:
                    refused.pop(checkpoint_id, None)
                    continue
                if status is None and checkpoint_id in refused:
                    # Unsent once the budget ran out, or lost: the server's last answer
                    # (a 409: still being saved) tells more than "no reply".
                    given_up.add(checkpoint_id)
                    continue
                # Unsent once the budget ran out: an earlier delete's answer (the lifecycle
                # deletes by id first) tells more than "no reply".
                answered = self._answered.get(checkpoint_id) if status is None else status
                refused[checkpoint_id] = "no reply" if answered is None else f"DELETE: {answered}"
                if status == 409:
                    waiting = True
                else:
                    given_up.add(checkpoint_id)
            if not waiting or self._clock() + pause > self._ends:
                break
            self._sleep(pause)
            pause = min(2 * pause, 2.0)
        # A delete whose reply was lost may have been done, and a save still being saved
        # may yet fail (its model terminated under it): either is listed no more. Looked
        # for again while one left is still being saved, within the budget.
        while refused:
            self.find(models, ours)
            saving = any(i in self._saving.get(known[i].model_id, ()) for i in refused)
            if not saving or self._clock() + pause > self._ends:
                break
            self._sleep(pause)
            pause = min(2 * pause, 2.0)
        return [Left(known[i].name, why) for i, why in refused.items() if self._left(known[i], i)]

    def _left(self, found: Found, checkpoint_id: str) -> bool:
        """Whether the checkpoint is still there, as far as its model's list tells."""
        listed = self._lists.get(found.model_id)
        return listed is None or checkpoint_id in listed


class _TimeUp(httpx.ConnectTimeout):
    """A request the clean-up's budget kept from being sent (``Sweep.bound``)."""


@contextlib.contextmanager
def time_up_worded(budget: float) -> Iterator[None]:
    """The facade's warning for a model its close could not terminate, in the block, says
    so when the clean-up's time kept the terminate from being sent: the facade names the
    transport's failure (``ConnectTimeout: connect timed out``), though nothing was sent.
    Its next warning names the models left running."""

    def reword(record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) == 2
            and isinstance(args[1], BaseException)
            and any(isinstance(e, _TimeUp) for e in causes(args[1]))
        ):
            record.msg = (
                "could not terminate model %s on close: the clean-up's time (%s) ran out "
                "before its terminate was sent"
            )
            record.args = (args[0], f"{plain_seconds(budget)} s")
        return True

    logger = logging.getLogger("weaver_facade")  # the facade's, by name: no core import
    logger.addFilter(reword)
    try:
        yield
    finally:
        logger.removeFilter(reword)


class SweepBound(httpx.BaseTransport):
    """``inner``, whose requests keep to the budget of ``sweep`` while one is set: a
    clean-up's requests that a client of its own sends, not the sweep (the lifecycle's
    facade client, whose close terminates the models it created)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner
        self.sweep: Sweep | None = None
        #: The paths of the POSTs answered 2xx during a sweep (the close's terminates),
        #: which the sweep need not send again.
        self.done: set[str] = set()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sweep = self.sweep
        if sweep is None:
            return self._inner.handle_request(request)
        with sweep.ends():  # the body too
            response = self._inner.handle_request(sweep.bound(request))
            reply = copy_with(response, raw_body(response), request)
        if request.method == "POST" and reply.is_success:
            self.done.add(request.url.path)
        return reply

    def sleep(self, seconds: float) -> None:
        """The waits of the client it sends for (``ServiceClient(sleep=...)``): its
        retries' (a 503's ``Retry-After``) end with the clean-up's budget too."""
        sweep = self.sweep
        if sweep is None:
            time.sleep(seconds)
        else:
            sweep.wait(seconds)

    def close(self) -> None:
        self._inner.close()


def _capped(seconds: float | None, left: float) -> float:
    return left if seconds is None else min(seconds, left)


def is_artifact_kind(kind: object) -> bool:
    """Whether ``kind`` is one of the spec's artifact kinds, which an Operation's never is
    (the spec's rule); a server's array or object (unhashable) is none, not a TypeError."""
    return isinstance(kind, str) and kind in ARTIFACT_KINDS


def is_export_operation(status: int, data: Mapping[str, Any]) -> bool:
    """Whether an export's 2xx reply is an Operation to wait for rather than the Artifact:
    told by its ``kind``, as the wire sheet says clients do, but a 202 is one whatever its
    ``kind`` says (an Operation given an artifact's kind, a drift named elsewhere)."""
    return status == 202 or not is_artifact_kind(data.get("kind"))


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``value``, itself included."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _ids_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _ID_FIELDS and isinstance(item, str):
                yield item
            else:
                yield from _ids_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ids_in(item)
