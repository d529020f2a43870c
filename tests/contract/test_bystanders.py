"""The kit acts only on what it made, as the README promises ("a session, a model and two
small checkpoints of its own"): ``Ownership`` tells the run's ids from the key's others.

A whole default run beside a user's work, left as it was, is ``test_cli``'s."""

from __future__ import annotations

import re
import time
import uuid
from types import SimpleNamespace

import httpx
import pytest
from weaver_client import limits

from tests.support.openapi import openapi
from tests.support.scripted_http import (
    HANG,
    TRICKLE,
    TRICKLE_HEADERS,
    Reply,
    ScriptedServer,
    unavailable,
)
from weaver_facade.contract._extensions import probe_extensions
from weaver_facade.contract._lifecycle import run_lifecycle
from weaver_facade.contract._ownership import ID_PARAMETERS, Left, Ownership, Sweep, left_note
from weaver_facade.contract._patience import PatientHTTPTransport, api_client, sending_transport
from weaver_facade.contract._spec import load_spec


def case(label: str, **path: object) -> SimpleNamespace:
    return SimpleNamespace(operation=SimpleNamespace(label=label), path_parameters=dict(path))


def reply(status: int, body: object) -> SimpleNamespace:
    return SimpleNamespace(status_code=status, json=lambda: body)


def test_ids_reached_from_the_runs_own_session_are_kept_and_others_stood_in_for() -> None:
    ownership = Ownership("POST /api/v1/sessions")
    ownership.record(case("POST /api/v1/sessions"), reply(201, {"id": "s-own"}))
    made = case("POST /api/v1/sessions/{session_id}/models", session_id="s-own")
    ownership.record(made, reply(201, {"id": "m-own", "session_id": "s-own"}))
    # The listing names another's model too: a reply to no request of this run's own.
    ownership.record(case("GET /api/v1/models"), reply(200, {"items": [{"id": "m-user"}]}))
    # A refused request about this run's model teaches nothing.
    ownership.record(case("GET /api/v1/models/{model_id}", model_id="m-own"), reply(404, {}))

    own = case("POST /api/v1/models/{model_id}/terminate", model_id="m-own")
    ownership.stand_in(own)
    assert own.path_parameters == {"model_id": "m-own"}

    other = case("POST /api/v1/models/{model_id}/terminate", model_id="m-user")
    ownership.stand_in(other)
    stand_in = other.path_parameters["model_id"]
    assert stand_in != "m-user"
    assert re.fullmatch(limits.RESOURCE_ID_PATTERN, stand_in)
    again = case("GET /api/v1/models/{model_id}", model_id="m-user")
    ownership.stand_in(again)
    assert again.path_parameters == {"model_id": stand_in}, "one stand-in per id"
    ownership.stand_in(again)
    assert again.path_parameters == {"model_id": stand_in}, "a stand-in stays"

    checkpoint = "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09"
    foreign = case("DELETE /api/v1/checkpoints/{checkpoint_id}", checkpoint_id=checkpoint)
    ownership.stand_in(foreign)
    assert uuid.UUID(str(foreign.path_parameters["checkpoint_id"])) != uuid.UUID(checkpoint)
    # Ids the schema refuses name nothing: negative cases keep them.
    for value in ("not a uuid", 7, None):
        negative = case("DELETE /api/v1/checkpoints/{checkpoint_id}", checkpoint_id=value)
        ownership.stand_in(negative)
        assert negative.path_parameters == {"checkpoint_id": value}


def test_a_checkpoint_path_in_a_body_names_only_the_runs_own_models() -> None:
    # Only ids in a request's path were stood in for: the spec's example path of a TTL
    # change or a load, `weaver://m-1/checkpoints/after-3-steps` (the README's name too),
    # reached the owner's checkpoint on a server whose models are `m-1`, `m-2`, ..., and
    # the TTL change made a permanent checkpoint of the user's expire.
    ownership = Ownership("POST /api/v1/sessions")
    ownership.record(case("POST /api/v1/sessions"), reply(201, {"id": "s-own"}))
    made = case("POST /api/v1/sessions/{session_id}/models", session_id="s-own")
    ownership.record(made, reply(201, {"id": "m-own"}))

    def patch(path: object) -> SimpleNamespace:
        sent = case("PATCH /api/v1/models/{model_id}/checkpoints/ttl", model_id="m-own")
        sent.body = {"path": path, "ttl_seconds": 1}
        ownership.stand_in(sent)
        return sent

    foreign = patch("weaver://m-1/checkpoints/after-3-steps")
    path = foreign.body["path"]
    assert re.fullmatch(limits.CHECKPOINT_PATH_PATTERN, path)
    assert path.startswith("weaver://absent-")
    assert path.endswith("/checkpoints/after-3-steps")
    assert patch("weaver://m-1/checkpoints/after-3-steps").body["path"] == path, "one stand-in"
    assert patch(path).body["path"] == path, "a stand-in stays"
    own = "weaver://m-own/checkpoints/after-3-steps"
    assert patch(own).body["path"] == own
    # Paths the schema refuses name nothing: negative cases keep them.
    for value in ("weaver://m-1/checkpoints/", "m-1/after-3-steps", 7):
        assert patch(value).body["path"] == value


def test_a_model_the_run_created_is_terminated_whatever_fields_its_reply_has() -> None:
    # The spec's Model requires only `id`: a model told by its `base_model` was never
    # terminated on a server that leaves it out (or once the spec renamed it), and held
    # its accelerators after the run.
    for fields in ({}, {"base_model": "weaver-tiny"}, {"base_model_name": "weaver-tiny"}):
        ownership = Ownership("POST /api/v1/sessions")
        ownership.record(case("POST /api/v1/sessions"), reply(201, {"id": "s-own"}))
        made = case("POST /api/v1/sessions/{session_id}/models", session_id="s-own")
        ownership.record(made, reply(201, {"id": "m-own", "session_id": "s-own", **fields}))
        assert list(ownership.models) == ["m-own"], fields
        assert "s-own" not in ownership.models


def test_a_reply_whose_kind_is_no_string_is_read_to_its_end() -> None:
    # A drifting server's `kind` of an array or object is JSON a reply may carry: the
    # membership test of the spec's kinds raised TypeError out of the transport, and the
    # ids later in the reply (a checkpoint to delete) were never recorded.
    for kind in (["hf_adapter"], {"hf_adapter": 1}):
        ownership = Ownership("POST /api/v1/sessions")
        ownership.record(case("POST /api/v1/sessions"), reply(201, {"id": "s-own"}))
        made = case("POST /api/v1/sessions/{session_id}/models", session_id="s-own")
        ownership.record(made, reply(201, {"id": "m-own"}))
        export = case("POST /api/v1/models/{model_id}/export-hf", model_id="m-own")
        body = {"id": "op-1", "kind": kind, "response": {"checkpoint_id": "c-own"}}
        ownership.record(export, reply(202, body))
        assert list(ownership.checkpoints) == ["c-own"], kind
        assert not ownership.artifacts


def test_every_id_in_a_path_of_the_spec_is_stood_in_for() -> None:
    # A new route with an id the rule does not know would reach the owner's resources.
    spec = openapi()
    names = set(re.findall(r"\{(\w+)\}", " ".join(spec["paths"])))
    assert names == set(ID_PARAMETERS)


def test_each_run_gives_generated_idempotency_keys_its_own_values() -> None:
    # Every POST carried the spec's example key: a server with the extension answered
    # 422 idempotency_mismatch to all of them from the second body on, in every later run.
    example = "3f6c1d0e-7b44-4b7e-9a57-2c1f5e0b9d11"

    def post(body: object, key: str = example) -> SimpleNamespace:
        sent = case("POST /api/v1/models/{model_id}/checkpoints", model_id="x")
        sent.headers = {"Idempotency-Key": key}
        sent.body = body
        return sent

    runs = [Ownership("POST /api/v1/sessions"), Ownership("POST /api/v1/sessions")]
    keys = []
    for ownership in runs:
        for body in ({"type": "weight"}, {"type": "sampling"}, {"type": "weight"}):
            sent = post(body)
            ownership.stand_in(sent)
            keys.append(sent.headers["Idempotency-Key"])
    first, second = keys[:3], keys[3:]
    assert first[0] == first[2] != first[1], "the same body keeps its key within a run"
    assert not set(first) & set(second), "another run never reuses one"
    assert example not in keys
    invalid = post({"type": "weight"}, key="bad key!")
    runs[0].stand_in(invalid)
    assert invalid.headers == {"Idempotency-Key": "bad key!"}, "negative cases keep theirs"


def test_clean_up_finds_artifacts_no_reply_showed_and_retries_a_busy_server() -> None:
    # Exports answered with a pending operation named no artifact, and the artifacts
    # outlived their checkpoints; a 503 left a model running.
    sent: list[str] = []
    busy = {"POST /api/v1/models/m-own/terminate": 1}

    def server(request: httpx.Request) -> httpx.Response:
        line = f"{request.method} {request.url.path}"
        sent.append(line)
        if busy.get(line):
            busy[line] -= 1
            return httpx.Response(503, headers={"Retry-After": "0"})
        if line == "GET /api/v1/models/m-own/checkpoints":
            return httpx.Response(200, json={"items": [{"id": "c-unseen"}]})
        if line == "GET /api/v1/checkpoints/c-seen/artifacts":
            return httpx.Response(200, json={"items": [{"id": "a-pending"}]})
        return httpx.Response(200, json={"items": []})

    ownership = Ownership("POST /api/v1/sessions")
    ownership.models["m-own"] = None
    ownership.checkpoints["c-seen"] = None
    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        ownership.clean_up(http)
    assert sent.count("POST /api/v1/models/m-own/terminate") == 2
    deletes = [line for line in sent if line.startswith("DELETE")]
    assert deletes == [
        "DELETE /api/v1/artifacts/a-pending",
        "DELETE /api/v1/checkpoints/c-seen",
        "DELETE /api/v1/checkpoints/c-unseen",
    ]


def test_the_clean_up_stops_listing_models_when_the_offset_is_ignored() -> None:
    # A server that ignores `offset` answers every page with the same full one: the
    # listing went on until the budget was spent, and the terminates got none of it.
    limit = limits.LIST_MODELS_LIMIT_MAXIMUM
    full = [{"id": f"m-{i}", "session_id": "s-other"} for i in range(limit)]
    sent: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        if request.url.path == "/api/v1/models":
            return httpx.Response(200, json={"items": full})
        return httpx.Response(200, json={"items": []})

    ownership = Ownership("POST /api/v1/sessions")
    ownership._made.add("s-own")  # the run's session, whose models the listing would show
    ownership.models["m-own"] = None
    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        ownership.clean_up(http, budget=3.0)
    assert sent.count("GET /api/v1/models") == 2
    assert "POST /api/v1/models/m-own/terminate" in sent


def test_the_clean_up_of_a_run_that_made_nothing_sends_nothing() -> None:
    # It read the model listing to find models of this run's sessions when the run had
    # none: against a server that answered nothing, a quarter of its budget (15 s) spent
    # after conformance's time limit, for a listing none of whose models could be ours.
    sent: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json={"items": [{"id": "m-1", "session_id": "s-1"}]})

    ownership = Ownership("POST /api/v1/sessions")
    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        assert ownership.clean_up(http) == []
    assert sent == []


class Checkpoints:
    """A server's checkpoints of one model, ``m-own``, by id: name and status. Its
    listing is 404 once the model is terminated (``forgets``), as a server that no longer
    finds a terminated model may answer."""

    def __init__(self, items: dict[str, tuple[str, str]], *, forgets: bool = False) -> None:
        self.items = items
        self.forgets = forgets
        self.terminated = False
        self.sent: list[str] = []
        self.refused: set[str] = set()  # names whose DELETE gets 405

    def __call__(self, request: httpx.Request) -> httpx.Response:
        line = f"{request.method} {request.url.path}"
        self.sent.append(line)
        if line == "POST /api/v1/models/m-own/terminate":
            self.terminated = True
        elif line == "GET /api/v1/models/m-own/checkpoints":
            if self.terminated and self.forgets:
                return httpx.Response(404, json={"error": "not_found"})
            return httpx.Response(200, json={"items": self.listing()})
        elif request.method == "DELETE" and request.url.path.startswith("/api/v1/checkpoints/"):
            checkpoint_id = request.url.path.rpartition("/")[2]
            name, status = self.items[checkpoint_id]
            if name in self.refused:
                return httpx.Response(405, headers={"Allow": "GET"})
            if status == "pending":
                return httpx.Response(409, json={"error": "checkpoint_not_ready"})
            self.items[checkpoint_id] = (name, "deleted")
        return httpx.Response(200, json={"items": []})

    def listing(self) -> list[dict[str, str]]:
        return [
            {"id": i, "name": name, "status": status}
            for i, (name, status) in self.items.items()
            if status != "deleted"
        ]

    def left(self) -> set[str]:
        return {name for name, status in self.items.values() if status != "deleted"}


def test_the_clean_up_finds_checkpoints_before_their_model_is_terminated() -> None:
    # A save no reply showed was looked for in its model's listing only after the model's
    # terminate, which a server that no longer finds a terminated model answers 404: the
    # checkpoint stayed.
    server = Checkpoints({"c-unseen": ("after-3-steps", "completed")}, forgets=True)
    ownership = Ownership("POST /api/v1/sessions")
    ownership.models["m-own"] = None
    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        assert ownership.clean_up(http) == []
    assert server.left() == set()
    assert "POST /api/v1/models/m-own/terminate" in server.sent


def test_a_sweep_deletes_only_its_own_waits_for_a_running_save_and_names_what_is_left() -> None:
    server = Checkpoints(
        {
            "c-1": ("kit-a", "pending"),
            "c-2": ("kit-b", "completed"),
            "c-3": ("user-c", "completed"),
        }
    )
    server.refused.add("kit-b")
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        server.items["c-1"] = ("kit-a", "completed")  # the save ends meanwhile

    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        sweep = Sweep(http, 10.0, sleep=sleep)
        left = sweep.checkpoints(["m-own"], lambda item: str(item["name"]).startswith("kit-"))
    assert server.left() == {"kit-b", "user-c"}
    assert "DELETE /api/v1/checkpoints/c-3" not in server.sent, "not the run's"
    assert server.sent.count("DELETE /api/v1/checkpoints/c-2") == 1, "refused for good"
    assert slept == [0.25]
    assert left == [Left("kit-b", "DELETE: 405")]


def test_a_sweep_waits_for_a_save_that_never_ends_within_its_budget_then_names_it() -> None:
    # The README: a checkpoint still being saved is waited for within the budget.
    server = Checkpoints({"c-1": ("kit-a", "pending")})
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        sweep = Sweep(http, 10.0, sleep=sleep, clock=lambda: now[0])
        left = sweep.checkpoints(["m-own"], lambda item: True)
    assert 8.0 <= now[0] <= 10.0  # it waited the budget out, and no further
    assert server.sent.count("DELETE /api/v1/checkpoints/c-1") > 4
    assert left == [Left("kit-a", "DELETE: 409")]


def test_a_sweep_skips_an_id_no_url_can_hold_and_goes_on() -> None:
    # A server's reply named a model by an id with a control character: httpx refuses to
    # build its URL (`InvalidURL`, no `HTTPError`), which ended conformance's whole run
    # in its clean-up, leaving the other models running.
    server = Checkpoints({"c-1": ("kit-a", "completed")})
    slept: list[float] = []
    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        sweep = Sweep(http, 10.0, sleep=slept.append)
        assert sweep.send("POST", "/api/v1/models/m-\x06/terminate") is None
        left = sweep.checkpoints(["m-\x06", "m-own"], lambda item: True)
    assert server.sent == ["GET /api/v1/models/m-own/checkpoints", "DELETE /api/v1/checkpoints/c-1"]
    assert left == []
    assert slept == [], "no try again: the same URL would be refused again"


def hang(method: str, path: str) -> str:
    return HANG  # accepted, read, never answered


def test_a_sweep_ends_near_its_budget_when_the_server_never_answers() -> None:
    # Each request waited for as long as the client's own timeout, whatever the budget
    # had left: one request to a server that stopped answering overran it by that much.
    budget, own_timeout = 1.0, 20.0
    with ScriptedServer(hang) as server, httpx.Client(timeout=own_timeout) as http:
        started = time.monotonic()
        sweep = Sweep(http, budget, root=server.base_url)
        assert sweep.send("POST", "/api/v1/models/m-own/terminate") is None
        assert sweep.delete("c-1") is None
        took = time.monotonic() - started
    assert 0.9 * budget <= took < budget + 2.0


@pytest.mark.parametrize("reply", [TRICKLE, TRICKLE_HEADERS])
def test_a_sweep_ends_near_its_budget_when_the_server_trickles_its_reply(reply: str) -> None:
    # httpx's timeouts bound each wait for bytes, not a request: a reply sent a byte at a
    # time (its body, or its status line and headers) held a request of the sweep past
    # its budget for as long as the server kept sending, 18 s or more here. The client
    # is conformance's clean-up's.
    budget = 1.0
    with (
        ScriptedServer(lambda method, path: reply) as server,
        httpx.Client(transport=sending_transport(), timeout=20.0) as http,
    ):
        started = time.monotonic()
        assert Sweep(http, budget, root=server.base_url).send("GET", "/api/v1/models") is None
        took = time.monotonic() - started
    assert 0.9 * budget <= took < budget + 2.0


def test_a_sweep_through_the_kits_patient_client_ends_near_its_budget_too() -> None:
    # The probe's client sends a GET again after a lost reply and waits out a 503's
    # Retry-After (up to 10 s, 3 times), beneath the sweep, which does both itself within
    # its budget: a GET to a server that never answers cost four timeouts.
    budget = 1.0
    with (
        ScriptedServer(hang) as server,
        api_client(timeout=httpx.Timeout(20.0), within=60.0) as http,
    ):
        started = time.monotonic()
        assert Sweep(http, budget, root=server.base_url).items("/api/v1/models") == []
        took = time.monotonic() - started
    assert 0.9 * budget <= took < budget + 2.0

    attempts: list[str] = []

    def busy(request: httpx.Request) -> httpx.Response:
        attempts.append(request.url.path)
        # Unread, as a sending transport's reply is.
        return httpx.Response(503, headers={"Retry-After": "2"}, stream=httpx.ByteStream(b""))

    patient = httpx.Client(transport=PatientHTTPTransport(httpx.MockTransport(busy)))
    with patient as http:
        started = time.monotonic()
        reply = Sweep(http, budget, root="http://kit.test").send("GET", "/api/v1/models")
        took = time.monotonic() - started
    assert reply is not None, "the server answered: its 503 is the reply"
    assert reply.status_code == 503
    assert took < budget + 2.0
    assert attempts == ["/api/v1/models"], "the sweep's budget has no room for a 2 s wait"


def test_the_checkpoints_the_parts_left_are_one_note() -> None:
    left = {
        "probe": [Left("p-a", "DELETE: 403")],
        "conformance": [Left(f"c-{n}", "no reply") for n in range(5)],
        "lifecycle": [],
    }
    assert left_note(left, deletable=True) == (
        "the clean-up left 6 checkpoints of this run on the server: `p-a` (probe, DELETE: "
        "403), `c-0` (conformance, no reply), `c-1` (conformance, no reply), `c-2` "
        "(conformance, no reply), `c-3` (conformance, no reply) and 1 more"
    )
    assert left_note({"lifecycle": [Left("l-a", "DELETE: 404")]}, deletable=False) == (
        "the server offers no way to delete checkpoints (the `checkpoint-by-id` extension "
        "is missing): this run left 1 checkpoint on it: `l-a` (lifecycle)"
    )
    assert left_note({"probe": [Left("p-a", "DELETE: 403")]}, deletable=True) == (
        "the clean-up left 1 checkpoint of this run on the server: `p-a` (probe, DELETE: 403)"
    )
    two = [Left("l-a", "DELETE: 404"), Left("l-b", "DELETE: 404")]
    assert left_note({"lifecycle": two}, deletable=False) == (
        "the server offers no way to delete checkpoints (the `checkpoint-by-id` extension "
        "is missing): this run left 2 checkpoints on it: `l-a` (lifecycle), `l-b` (lifecycle)"
    )
    assert left_note({"probe": [], "lifecycle": []}, deletable=False) is None


class _CreatesThenHolds:
    """Opens a session and creates models; answers every other GET with an empty
    listing and every other POST with 404; holds each terminate and delete, as ``held``
    says (``HANG``: unanswered). ``first_held``: when the first request was held."""

    def __init__(self, held: Reply | str = HANG) -> None:
        self.held = held
        self.first_held: float | None = None
        self.models = 0

    def __call__(self, method: str, path: str) -> Reply | str:
        path = path.partition("?")[0]
        if method == "POST" and path == "/api/v1/sessions":
            return 201, {"id": "s-1", "created_at": "2026-11-29T10:01:00Z"}, {}
        if method == "POST" and path == "/api/v1/sessions/s-1/models":
            self.models += 1
            return 201, {"id": f"m-{self.models}", "base_model": "weaver-tiny"}, {}
        if method == "GET":
            return 200, {"items": []}, {}
        if method == "POST" and not path.endswith("/terminate"):
            return 404, {"error": "not_found", "message": "no", "retryable": False}, {}
        if self.first_held is None:
            self.first_held = time.monotonic()
        return self.held


@pytest.mark.parametrize(
    "held", [HANG, TRICKLE, unavailable("10")], ids=["unanswered", "trickled", "try-later"]
)
def test_the_lifecycle_clean_up_ends_near_its_budget_when_terminates_go_unanswered(
    held: Reply | str,
) -> None:
    # The lifecycle's clean-up had the facade's close terminate its models, within the
    # close's own bound (the client's 60 s read timeout), then terminated each model
    # again with a client of its own (30 s each): a server that stopped answering its
    # terminates held the run minutes past the clean-up's budget (`--deadline`). A reply
    # sent a byte at a time held it as long as the server kept sending, and the close
    # waited out a 503's `Retry-After` (10 s here) whatever the budget had left.
    budget = 1.0
    server_answers = _CreatesThenHolds(held)
    with ScriptedServer(server_answers) as server:
        outcome = run_lifecycle(
            load_spec(),
            base_url=server.base_url,
            api_key="sk-budget-test-key-0d1e",
            base_model="weaver-tiny",
            vocab_size=256,
            deadline=budget,
            run_id="budget01",
        )
        ended = time.monotonic()
    assert server_answers.models >= 1, "the lifecycle made a model to terminate"
    assert server_answers.first_held is not None, "its clean-up sent a terminate"
    assert outcome.steps, "the scenario ran"
    assert ended - server_answers.first_held < budget + 2.5


@pytest.mark.parametrize("held", [HANG, TRICKLE_HEADERS])
def test_the_probes_clean_up_ends_near_its_budget_when_its_terminate_goes_unanswered(
    held: str,
) -> None:
    # The probe terminated its model with its client's whole timeout (33 s), past the
    # clean-up's budget (`--deadline`).
    budget = 1.0
    server_answers = _CreatesThenHolds(held)
    with ScriptedServer(server_answers) as server:
        probe = probe_extensions(
            load_spec().document,
            base_url=server.base_url,
            api_key="sk-budget-test-key-0d1e",
            base_model="weaver-tiny",
            deadline=budget,
        )
        ended = time.monotonic()
    assert server_answers.models == 1, "the probe made a model to terminate"
    assert server_answers.first_held is not None, "its clean-up sent the terminate"
    assert probe.note, "the probe stopped early, at the save the server refused"
    assert ended - server_answers.first_held < budget + 2.5
