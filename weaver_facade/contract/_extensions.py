"""Which of the spec's extensions a server offers, found by a short probe before the parts run.

The probe works only on what it creates: a session, a model, two small
``weight`` checkpoints saved from the untrained model, one weights-only
load of one of them into the same model, and one export of it; it terminates the model at the end
(and deletes its checkpoints, where the server can). Each extension is then
``offered``, ``missing`` (the server behaves as one without it), or
``undetermined`` (the evidence was not conclusive, or the probe could not get
that far). The conformance part holds the server only to the extensions that
were seen offered: a server without an extension ignores its parameters and
headers, so their negative cases and routes are left out for it.

How each is decided:

* ``idempotency-key``: a save sent twice with one key gets the same operation
  (offered) or ``409 checkpoint_exists`` (missing);
* ``long-poll``: a poll with ``wait=3`` of a save just submitted comes back
  non-terminal at once (missing) or non-terminal after being held (offered), timed
  against a poll without ``wait`` (a slow server holds nothing); an operation that
  is already done tells nothing;
* ``cursor-paging``: ``limit=1`` over two checkpoints gives one and a
  ``next_cursor`` (offered) or both without one (missing);
* ``checkpoint-by-id``: ``GET /checkpoints/{id}`` of a probe checkpoint gives it
  (offered) or 404/405 (missing);
* ``artifact-by-id``: ``GET /artifacts/{id}`` of the probe checkpoint's export
  gives it (offered) or 404/405 (missing);
* ``model-listing``: ``GET /models`` lists the probe model (offered) or answers
  404/405 (missing);
* the fields of ``next-seq-id``, ``model-status``, ``checkpoint-details``,
  ``load-details``, ``load-result-model-id`` and ``operation-details``: present
  in the replies, or not (the fields are those the spec marks with the name);
* ``conversion-totals`` is not probed (only a running export shows it), so it
  stays undetermined and conformance leaves it out.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from weaver_client import limits

from .._extensions import CHECKPOINT_BY_ID, MARKER, extension_names
from .._interrupt import interrupt_held
from .._result_shape import misplaced, shaped_as
from .._spec_schema import SCHEMA_REF, SpecSchemas
from ._artifact_steps import EXPORT_BODY
from ._findings import (
    API_KEY_HEADER,
    IDEMPOTENCY_HEADER,
    PYTHON_NAMES,
    clip,
    plain_seconds,
    redact,
    waited_words,
)
from ._ownership import Left, Sweep, is_export_operation
from ._patience import RESENT, api_client

__all__ = ["ExtensionProbe", "probe_extensions"]

# The statuses that start an operation: the wire promises "2xx", the spec documents these.
_STARTED = (200, 201, 202)
_LONG_POLL_WAIT = 3.0
# The `wait` of the polls that wait an operation out: the longest the probe asks to be held.
_POLL_WAIT = 5.0
# A poll answered faster than this with a non-terminal status was not held.
_HELD = 1.5


def marked_fields(document: Mapping[str, Any], schema: str, extension: str) -> tuple[str, ...]:
    """The properties of ``schema`` that the spec marks as ``extension`` (on the
    property, or on the schema it refers to), so that a rename in the spec reaches the probe."""
    schemas = document["components"]["schemas"]
    found = []
    for name, prop in schemas[schema].get("properties", {}).items():
        ref = str(prop.get("$ref", ""))
        target = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else {}
        if extension in (prop.get(MARKER), target.get(MARKER)):
            found.append(name)
    if not found:
        raise ValueError(f"the spec marks no field of {schema} as {MARKER} {extension!r}")
    return tuple(found)


@dataclass
class ExtensionProbe:
    """What the probe found, per extension name of the spec."""

    known: tuple[str, ...]
    found: dict[str, bool] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    #: The probe checkpoints its clean-up could not delete.
    left: list[Left] = field(default_factory=list)

    @property
    def offered(self) -> tuple[str, ...]:
        return tuple(n for n in self.known if self.found.get(n) is True)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(n for n in self.known if self.found.get(n) is False)

    @property
    def undetermined(self) -> tuple[str, ...]:
        return tuple(n for n in self.known if n not in self.found)

    def decide(self, name: str, offered: bool, why: str) -> None:
        """Record that the server offers ``name`` (or lacks it), and the evidence ``why``."""
        if name in self.known:
            self.found[name] = offered
            self.evidence[name] = why

    def leave(self, name: str, why: str) -> None:
        """Record why ``name`` is undetermined so far; a later ``decide`` replaces it."""
        if name in self.known and name not in self.found:
            self.evidence[name] = why

    def to_json(self) -> dict[str, Any]:
        """The finding as in ``contract-report.json``: offered, missing, undetermined, and
        the evidence for each, also for one left undetermined without a reason of its own."""
        untold = f"not reached: {self.note}" if self.note else "no reply told either way"
        return {
            "offered": list(self.offered),
            "missing": list(self.missing),
            "undetermined": list(self.undetermined),
            "evidence": {n: self.evidence.get(n, untold) for n in sorted(self.known)},
        }


class _Failed(Exception):
    """The probe cannot go on; the message is the note's sentence."""


def _need(body: Mapping[str, Any], name: str, source: str) -> Any:
    """``body[name]``, or a sentence naming what ``source`` lacked (not a bare KeyError)."""
    if name not in body:
        got = ", ".join(f"`{key}`" for key in body) or "no field"
        raise _Failed(f"{source} has no `{name}` (it has {got})")
    return body[name]


class _Probe:
    def __init__(
        self,
        document: Mapping[str, Any],
        http: httpx.Client,
        result: ExtensionProbe,
        deadline: float,
        secret: str | None = None,
    ) -> None:
        self.document = document
        #: The API key, hidden in what the evidence shows of a reply before it is cut.
        self.secret = secret
        self.http = http
        self.result = result
        self.deadline = deadline
        self.tag = secrets.token_hex(4)
        #: The start of every probe checkpoint's name, this run's alone.
        self.named = f"contract-probe-{self.tag}-"
        self.schemas = SpecSchemas(document)
        #: The probe's artifacts found by id, which its clean-up deletes.
        self.artifacts: list[str] = []
        #: How long the request that timed out was waited for, retries included.
        self.gave_up_after = 0.0

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """``url``'s reply. A reply lost on the way (the connection closed, or reset) is
        asked for again by the client where that is safe (``api_client``): a GET, or a
        POST with an ``Idempotency-Key``, which every POST of the probe but one save
        carries, as the facade's do (a server without the extension may then refuse a
        repeated save or export, which ``save`` and ``artifact_by_id`` take apart)."""
        started = time.monotonic()
        try:
            return self.http.request(method, url, **kwargs)
        except httpx.TimeoutException:
            # Measured: a request not sent again ends at its read timeout, well within
            # its bound; and the clean-up runs before the note is written.
            self.gave_up_after = time.monotonic() - started
            raise

    @staticmethod
    def keyed(**kwargs: Any) -> dict[str, Any]:
        """``kwargs`` for a POST, with an ``Idempotency-Key`` of its own."""
        return {**kwargs, "headers": {IDEMPOTENCY_HEADER: str(uuid.uuid4())}}

    def call(
        self,
        method: str,
        path: str,
        expect: tuple[int, ...],
        reply: httpx.Response | None = None,
        **kwargs: Any,
    ) -> Any:
        """The JSON object ``path`` answers (``reply``: already sent), or ``_Failed``."""
        if reply is None:
            reply = self.send(method, f"/api/v1{path}", **kwargs)
        if reply.status_code not in expect:
            raise _Failed(f"{method} /api/v1{path} answered {reply.status_code}")
        try:
            body = reply.json()
        except ValueError:
            raise _Failed(f"{method} /api/v1{path} answered no JSON") from None
        if not isinstance(body, Mapping):
            raise _Failed(f"{method} /api/v1{path} answered JSON that is not an object")
        return body

    def fields(self, name: str, schema: str, body: object) -> None:
        """Decide ``name`` by whether ``body`` (a ``schema`` reply) has any of its fields,
        each as the spec has it: a field of the same name with a value the spec's schema
        refuses is the server's own (``kind: save``), so the extension is missing."""
        names = marked_fields(self.document, schema, name)
        if not isinstance(body, Mapping):
            return
        own = [f for f in names if f in body and not self.fits(schema, f, body[f])]
        present = [f for f in names if f in body and f not in own]
        if own:
            shown = ", ".join(f"`{f}` ({clip(json.dumps(body[f]), 40, self.secret)})" for f in own)
            why = f"{schema} replies carry {shown} of values the spec's {name} has not"
        elif present:
            why = f"{schema} replies carry {', '.join(present)}"
        else:
            why = f"{schema} replies have none of {', '.join(names)}"
        self.result.decide(name, bool(present) and not own, why)

    def fits(self, schema: str, name: str, value: object) -> bool:
        """Whether ``value`` is valid for the field ``name`` of ``schema``."""
        pointer = f"{SCHEMA_REF}{schema}/properties/{name}"
        return bool(self.schemas.validator(pointer).is_valid(value))

    def off_spec(self, op_id: str, op: Mapping[str, Any]) -> str | None:
        """What is wrong with ``op``'s status, when it is none of the spec's."""
        statuses = self.document["components"]["schemas"]["OperationStatus"]["enum"]
        if op.get("status") in statuses:
            return None
        return (
            f"probe operation {op_id} has status `{op.get('status')}`, which is none "
            f"of the spec's ({', '.join(f'`{s}`' for s in statuses)})"
        )

    def wait(self, op_id: str) -> Mapping[str, Any]:
        ends = time.monotonic() + self.deadline
        while True:
            op: Mapping[str, Any] = self.call(
                "GET", f"/operations/{op_id}", (200,), params={"wait": _POLL_WAIT}
            )
            wrong = self.off_spec(op_id, op)
            if wrong:  # `completed` for `done`: it never ends
                raise _Failed(wrong)
            if op.get("status") in limits.OPERATION_STATUS_TERMINAL or time.monotonic() > ends:
                status = op.get("status")
                if status not in limits.OPERATION_STATUS_TERMINAL:  # the deadline passed
                    raise _Failed(
                        f"probe operation {op_id} is still {status} after "
                        f"{plain_seconds(self.deadline)} s"
                    )
                if status != "done":
                    raise _Failed(f"probe operation {op_id} ended {status}")
                return op
            time.sleep(0.1)

    def long_poll(self, op_id: str) -> None:
        if "long-poll" in self.result.found:
            return
        # A poll without `wait` first: how long this server takes to answer at once. A slow
        # server, or a poll retried after a 503 that asked to try later, is not holding it.
        started = time.monotonic()
        op = self.call("GET", f"/operations/{op_id}", (200,))
        at_once = time.monotonic() - started
        held, took, waited = 0.0, 0.0, False
        # A status the spec lacks (`completed` for `done`) tells nothing: `wait` stops at it.
        if self.off_spec(op_id, op):
            return
        if op.get("status") not in limits.OPERATION_STATUS_TERMINAL:
            waited = True
            started = time.monotonic()
            op = self.call("GET", f"/operations/{op_id}", (200,), params={"wait": _LONG_POLL_WAIT})
            took = time.monotonic() - started
            held = took - at_once  # may be negative: replies' times vary
            if self.off_spec(op_id, op):
                return
        if op.get("status") in limits.OPERATION_STATUS_TERMINAL:
            if held >= _HELD:  # held until it ended: the poll waited for the change
                why = (
                    f"a poll with wait={_LONG_POLL_WAIT:g} was held {held:.1f} s longer than "
                    "one without, to the end"
                )
                self.result.decide("long-poll", True, why)
            elif waited:  # ended within a hold too short to tell from a slow reply
                why = (
                    f"a poll with wait={_LONG_POLL_WAIT:g} of a save came back "
                    f"{op.get('status')} after {took:.1f} s (one without wait: {at_once:.1f} s), "
                    f"too short a hold (under {_HELD:g} s longer) to tell from a slow reply"
                )
                self.result.leave("long-poll", why)
            else:  # already done: no evidence either way
                why = (
                    f"a poll with wait={_LONG_POLL_WAIT:g} of a save came back "
                    f"{op.get('status')} at once: the save ended before a poll could be held"
                )
                self.result.leave("long-poll", why)
            return
        if held < _HELD:
            why = f"a poll with wait={_LONG_POLL_WAIT:g} came back {op.get('status')} at once"
            self.result.decide("long-poll", False, why)
        else:
            why = (
                f"a poll with wait={_LONG_POLL_WAIT:g} was held {held:.1f} s longer than "
                "one without"
            )
            self.result.decide("long-poll", True, why)

    def save(self, model_id: str, name: str, key: str | None = None) -> Mapping[str, Any]:
        headers = {IDEMPOTENCY_HEADER: key} if key else {}
        body = {"type": "weight", "name": f"{self.named}{name}"}
        try:
            first = self.send(
                "POST", f"/api/v1/models/{model_id}/checkpoints", json=body, headers=headers
            )
        except (httpx.RemoteProtocolError, httpx.ReadError):
            # A save without a key is not sent twice: what it saved, if anything, is
            # found by its name.
            return self.saved(model_id, body["name"])
        if first.status_code == 409 and first.request.extensions.get(RESENT):
            # A keyed save sent again after its reply was lost met its own checkpoint.
            why = "a save sent again with its key, after its reply was lost, got 409"
            self.result.decide("idempotency-key", False, why)
            # Its operation's id was in the lost reply: a fresh save instead, which the
            # probe can follow (a server may move an operation on only as it is polled).
            return self.save(model_id, f"{name}2")
        op: Mapping[str, Any] = self.call(
            "POST",
            f"/models/{model_id}/checkpoints",
            _STARTED,
            json=body,
            headers=headers,
            reply=first,
        )
        if shaped_as(op, "Checkpoint", "Operation", self.document["components"]["schemas"]):
            # A synchronous save: its `created_at` and `model_id` are no Operation's fields.
            raise _Failed(misplaced(str(first.status_code), "Checkpoint"))
        if not self.result.found.get("operation-details"):  # seen once (polled) is offered
            self.fields("operation-details", "Operation", op)
        op_id = str(_need(op, "id", f"the reply to POST /api/v1/models/{model_id}/checkpoints"))
        self.long_poll(op_id)
        if key is not None:
            again = self.send(
                "POST", f"/api/v1/models/{model_id}/checkpoints", json=body, headers=headers
            )
            if again.status_code in _STARTED and again.json().get("id") == op.get("id"):
                self.result.decide(
                    "idempotency-key", True, "a repeated save with one key got its operation"
                )
            elif again.status_code == 409:
                self.result.decide("idempotency-key", False, "a repeated save with one key got 409")
        done = self.wait(op_id)
        if not self.result.found.get("operation-details"):
            # A server may show them only when the operation is polled.
            self.fields("operation-details", "Operation", done)
        checkpoint = done.get("response")
        if not isinstance(checkpoint, Mapping):
            raise _Failed("a probe save has no checkpoint in its response")
        for name in ("id", "path"):  # what the later steps use
            _need(checkpoint, name, f"the checkpoint of save operation {op_id}")
        self.fields("checkpoint-details", "Checkpoint", checkpoint)
        if checkpoint.get("status") == "pending":
            # Its operation is done, the checkpoint not yet (the wire's Checkpoint has a
            # `pending`): a load or an export of it would be refused with 409 for now.
            return self.saved(model_id, body["name"], lost=False)
        return checkpoint

    def saved(self, model_id: str, name: str, *, lost: bool = True) -> Mapping[str, Any]:
        """The checkpoint ``name`` of ``model_id`` once completed, from the model's
        checkpoints: a save whose reply was lost, or (not ``lost``) whose checkpoint was
        still pending when its operation was done."""
        ends = time.monotonic() + self.deadline
        while time.monotonic() < ends:
            page = self.call("GET", f"/models/{model_id}/checkpoints", (200,))
            items = page.get("items")
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, Mapping) or item.get("name") != name:
                    continue
                status = item.get("status", "completed")
                if status not in ("pending", "completed"):  # `failed`: it never completes
                    raise _Failed(f"probe checkpoint `{name}` ended {status}")
                if status == "completed":
                    for field_name in ("id", "path"):  # what the later steps use
                        _need(item, field_name, f"the listed checkpoint `{name}`")
                    self.fields("checkpoint-details", "Checkpoint", item)
                    found: Mapping[str, Any] = item
                    return found
            time.sleep(0.2)
        if lost:
            raise _Failed(f"a probe save whose reply was lost saved no `{name}`")
        raise _Failed(
            f"probe checkpoint `{name}` is still pending after {plain_seconds(self.deadline)} s"
        )

    def artifact_by_id(self, checkpoint: Mapping[str, Any]) -> None:
        path = f"/checkpoints/{checkpoint['id']}/export"
        sent = self.send("POST", f"/api/v1{path}", **self.keyed(json=dict(EXPORT_BODY)))
        if sent.status_code == 409 and sent.request.extensions.get(RESENT):
            # Sent again after its reply was lost, it met its own export: the checkpoint's.
            listed = self.call("GET", f"/checkpoints/{checkpoint['id']}/artifacts", (200,))
            items = [i for i in listed.get("items") or [] if isinstance(i, Mapping)]
            if len(items) != 1:
                raise _Failed(f"POST /api/v1{path} answered 409 to its retry")
            sent = httpx.Response(200, json=items[0])
        reply = self.call("POST", path, (200, 202), reply=sent)
        artifact = None if is_export_operation(sent.status_code, reply) else reply
        if artifact is None:
            op_id = _need(reply, "id", f"the reply to POST /api/v1{path}")
            artifact = self.wait(str(op_id)).get("response")
        if not isinstance(artifact, Mapping) or "id" not in artifact:
            raise _Failed("a probe export has no artifact in its response")
        found = self.send("GET", f"/api/v1/artifacts/{artifact['id']}")
        if found.status_code == 200 and found.json().get("id") == artifact["id"]:
            self.result.decide("artifact-by-id", True, "GET /artifacts/{id} found it")
            self.artifacts.append(str(artifact["id"]))
        elif found.status_code in (404, 405):
            why = f"GET /artifacts/{{id}} of an existing artifact: {found.status_code}"
            self.result.decide("artifact-by-id", False, why)

    def model_listing(self, model_id: str) -> None:
        # Newest last: a key with many models needs the last page, which total_count finds.
        first = self.send("GET", "/api/v1/models", params={"limit": 1})
        if first.status_code in (404, 405):
            why = f"GET /models of a key with a model: {first.status_code}"
            self.result.decide("model-listing", False, why)
            return
        if first.status_code != 200:
            return
        try:  # a page off the spec leaves it undetermined; the probe goes on
            total = (first.json().get("pagination") or {}).get("total_count")
            if not isinstance(total, int) or total < 1:
                return
            last = self.send("GET", "/api/v1/models", params={"limit": 1, "offset": total - 1})
            items = last.json().get("items") if last.status_code == 200 else None
        except (ValueError, AttributeError):
            return
        if isinstance(items, list) and any(
            isinstance(i, Mapping) and i.get("id") == model_id for i in items
        ):
            self.result.decide("model-listing", True, "GET /models listed the probe model")

    def run(self, base_model: str) -> None:
        session = self.call(
            "POST",
            "/sessions",
            (200, 201),
            **self.keyed(
                json={"tags": ["contract-probe"], "user_metadata": {}, "sdk_version": "contract"}
            ),
        )
        session_id = _need(session, "id", "the reply to POST /api/v1/sessions")
        model_id: str | None = None
        made: list[Mapping[str, Any]] = []
        try:
            # A Ctrl-C (or a CI's SIGTERM) while the create is on its way waits for its
            # reply, which names the model to terminate, as the facade's create does; it
            # is raised once the model's id is known, and the model terminated below.
            with interrupt_held(lambda: None):
                model = self.call(
                    "POST",
                    f"/sessions/{session_id}/models",
                    (200, 201),
                    # lora_config in full: the sheet has the SDK send it for lora, with
                    # no flag of it marked optional (`?`) but the seed.
                    **self.keyed(),
                    json={
                        "model_seq_id": 1,
                        "base_model": base_model,
                        "training_mode": "lora",
                        "lora_config": {
                            "rank": limits.LORA_CONFIG_RANK_MINIMUM,  # the cheapest
                            "train_unembed": limits.LORA_CONFIG_TRAIN_UNEMBED_DEFAULT,
                            "train_mlp": limits.LORA_CONFIG_TRAIN_MLP_DEFAULT,
                            "train_attn": limits.LORA_CONFIG_TRAIN_ATTN_DEFAULT,
                        },
                    },
                )
                model_id = str(
                    _need(model, "id", f"the reply to POST /api/v1/sessions/{session_id}/models")
                )
            self.fields("next-seq-id", "Model", model)
            self.fields("model-status", "Model", model)
            self.model_listing(model_id)
            made.append(self.save(model_id, "a", key=str(uuid.uuid4())))
            made.append(self.save(model_id, "b"))
            page = self.call("GET", f"/models/{model_id}/checkpoints", (200,), params={"limit": 1})
            items = page.get("items") or []
            if len(items) == 1 and page.get("next_cursor"):
                self.result.decide("cursor-paging", True, "limit=1 gave one item and a cursor")
            elif len(items) >= 2 and not page.get("next_cursor"):
                self.result.decide("cursor-paging", False, "limit=1 gave every item, no cursor")
            by_id = self.send("GET", f"/api/v1/checkpoints/{made[0]['id']}")
            if by_id.status_code == 200 and by_id.json().get("id") == made[0]["id"]:
                self.result.decide(CHECKPOINT_BY_ID, True, "GET /checkpoints/{id} found it")
            elif by_id.status_code in (404, 405):
                why = f"GET /checkpoints/{{id}} of an existing checkpoint: {by_id.status_code}"
                self.result.decide(CHECKPOINT_BY_ID, False, why)
            load = self.call(
                "POST",
                f"/models/{model_id}/load",
                _STARTED,
                **self.keyed(json={"path": made[0]["path"], "include_optimizer": False}),
            )
            load_id = _need(load, "id", f"the reply to POST /api/v1/models/{model_id}/load")
            loaded = self.wait(str(load_id)).get("response")
            self.fields("load-details", "LoadResult", loaded)
            self.fields("load-result-model-id", "LoadResult", loaded)
            self.artifact_by_id(made[0])
        finally:
            # Best effort. Every probe checkpoint, by its name (a save answered in another
            # shape than the spec's gave the probe no id), looked up before the model goes:
            # a server may no longer find a terminated model.
            if model_id is not None:
                sweep = Sweep(self.http, self.deadline)
                found = sweep.find([model_id], self.ours)
                sweep.send("POST", f"/api/v1/models/{model_id}/terminate")
                self.result.left = sweep.checkpoints([model_id], self.ours, found)
                # Last: an artifact costs no GPU, and a held delete has only what is left.
                for artifact_id in self.artifacts:
                    sweep.send("DELETE", f"/api/v1/artifacts/{artifact_id}")

    def ours(self, checkpoint: Mapping[str, Any]) -> bool:
        """Whether the probe gave ``checkpoint`` (a listed one) its name."""
        return str(checkpoint.get("name")).startswith(self.named)


def probe_extensions(
    spec_document: Mapping[str, Any],
    *,
    base_url: str,
    api_key: str | None,
    base_model: str,
    deadline: float,
    deadline_name: str = PYTHON_NAMES.deadline,
) -> ExtensionProbe:
    """Probe ``base_url`` for every extension ``spec_document`` names; never raises.
    ``deadline_name``: what the user calls the deadline."""
    result = ExtensionProbe(known=extension_names(spec_document))
    result.leave("conversion-totals", "not probed: only a running export shows its totals")
    headers = {API_KEY_HEADER: api_key} if api_key else {}
    timeout = httpx.Timeout(30.0 + _LONG_POLL_WAIT, connect=10.0)
    # Each request within the deadline, retries included, as the lifecycle's: a server that
    # never answers held the probe 4 attempts of the read timeout. A second more, and room
    # for the longest poll: a server that holds one to the end is doing as asked.
    within = max(deadline, _POLL_WAIT) + 1.0
    probe: _Probe | None = None
    try:
        with api_client(base_url=base_url, headers=headers, timeout=timeout, within=within) as http:
            probe = _Probe(spec_document, http, result, deadline, api_key)
            probe.run(base_model)
    except _Failed as exc:
        result.note = f"the extension probe stopped early: {exc}"
    except httpx.TimeoutException as exc:
        # The request's own time ran out: the attempts it cut at once say "the attempt's
        # time is up", a ConnectTimeout, of a server that took every connection.
        try:
            request = f"{exc.request.method} {exc.request.url.path}"
        except RuntimeError:  # raised before a request was built
            request = "a request"
        waited = 0.0 if probe is None else probe.gave_up_after
        result.note = (
            f"the extension probe stopped early: no reply to {request}; it gave up after "
            f"{waited_words(waited)} s, retries included (a request's time is at most "
            f"{plain_seconds(within)} s: {deadline_name} and a second, at least "
            f"{_POLL_WAIT + 1:g} s)"
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        result.note = f"the extension probe stopped early ({type(exc).__name__}: {exc})"
    # Both quote the server's replies, which may echo the key (a status, a field's value).
    result.note = None if result.note is None else redact(result.note, api_key)
    result.evidence = {name: redact(why, api_key) for name, why in result.evidence.items()}
    return result
