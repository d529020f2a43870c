"""Helpers of the schemathesis tests of the emulator (``tests/emulator/test_schemathesis.py``,
and at scale ``tests/reliability/test_schemathesis_slow.py``): see the first's docstring."""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.schemas import OpenApiSchema
from weaver_client import limits

from tests.emulator.artifact_support import export
from tests.support.emulator import Api, batch
from weaver_facade._spec_schema import read_document
from weaver_facade.contract import _conformance as conformance
from weaver_facade.contract._spec import Spec
from weaver_facade.emulator import EmulatorConfig, create_app

KEY = "schemathesis-tenant-key"
MAX_EXAMPLES = 25
# Each workflow starts from a seeded emulator at a done save, so the first few already
# reach what STATEFUL_EXPECTED asks; --slow runs STATEFUL_SCENARIOS_AT_SCALE.
STATEFUL_SCENARIOS = 30
STATEFUL_SCENARIOS_AT_SCALE = 800
STATEFUL_STEPS = 12


def schemathesis_config(max_examples: int = MAX_EXAMPLES) -> Any:
    """The contract kit's configuration (semantic statuses, all phases and checks, auth)."""
    return conformance.schemathesis_config(
        api_key=KEY, max_examples=max_examples, stateful_steps=STATEFUL_STEPS
    )


SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"


class LateBoundApp:
    """An ASGI app that forwards to the emulator of the running module.

    schemathesis binds its operations to ``schema.app`` when the tests are collected; this
    stand-in lets the real app (and its data dir) exist only while a module's tests serve it
    (``serving``).
    """

    target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.target is not None, "the emulator_app fixture is not active"
        await self.target(scope, receive, send)


def make_schema(max_examples: int = MAX_EXAMPLES) -> tuple[OpenApiSchema, LateBoundApp]:
    """The spec as a schemathesis schema bound to a late-bound app (see ``serving``).

    The checked-in file is what the emulator serves at /openapi.yaml (test_security compares
    the bytes), so loading it from disk tests the same contract without an app at collection
    time. ``tests/reliability`` makes one with a higher ``max_examples``.
    """
    late = LateBoundApp()
    loaded = schemathesis.openapi.from_path(SPEC, config=schemathesis_config(max_examples))
    loaded.app = late
    return loaded, late


@contextlib.contextmanager
def serving(late: LateBoundApp) -> Iterator[Any]:
    """A fresh emulator behind ``late`` for as long as the block runs."""
    with tempfile.TemporaryDirectory(prefix="weaver-schemathesis-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        late.target = app
        try:
            yield app
        finally:
            late.target = None
            app.state.emulator.close()


# The spec as this test reads it (from disk, like the schema above): the result schemas of
# done operations, and which schema each reply has.
CONTRACT = Spec(read_document(SPEC))
# The spec's example of each id path parameter: the ids a case names the seeded resources by.
EXAMPLE_IDS = {
    parameter["name"]: str(parameter["example"])
    for parameter in CONTRACT.document["components"]["parameters"].values()
    if parameter.get("in") == "path" and "example" in parameter
}
# The seeded checkpoint's name: the spec's CheckpointPath example names it too, so a body's
# example path (`weaver://m-1/checkpoints/after-3-steps`) only needs its model id replaced.
SEEDED_NAME = str(CONTRACT.document["components"]["schemas"]["CheckpointPath"]["example"]).rsplit(
    "/", 1
)[-1]
RESULTS = CONTRACT.results  # operation kind -> the schema of its done result


def result_reply(kind: str) -> str:
    """How ``reply_kinds`` names a done operation's result of ``kind``."""
    return f"{RESULTS[kind]} (result of {kind})"


# What each per-operation item must have validated at least once: replies that only a
# resource made by a workflow can give (a list is named only when it is not empty).
EXPECTED_REPLIES: dict[str, set[str]] = {
    "GET /api/v1/sessions/{session_id}": {"Session"},
    "GET /api/v1/models": {"ModelList"},
    "GET /api/v1/models/{model_id}": {"Model"},
    "GET /api/v1/models/{model_id}/checkpoints": {"CheckpointList"},
    "GET /api/v1/checkpoints/{checkpoint_id}": {"Checkpoint"},
    "DELETE /api/v1/checkpoints/{checkpoint_id}": {"Checkpoint"},
    "POST /api/v1/checkpoints/{checkpoint_id}/export": {"Artifact"},
    "GET /api/v1/checkpoints/{checkpoint_id}/artifacts": {"ArtifactList"},
    "GET /api/v1/artifacts/{artifact_id}": {"Artifact"},
    "DELETE /api/v1/artifacts/{artifact_id}": {"Artifact"},
    "GET /api/v1/artifacts/{artifact_id}/download": {"DownloadDescriptor"},
    "GET /api/v1/operations/{operation_id}": {result_reply(kind) for kind in RESULTS},
    **{label: {"Operation"} for label in conformance.TRAINING},
}


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def reply_schema(label: str, status_code: int) -> str | None:
    """The component schema the spec gives a 2xx reply of the operation ``label``, if one."""
    op = CONTRACT.operations.get(label)
    if op is None or not 200 <= status_code < 300:
        return None
    reply = op.responses.get(str(status_code)) or op.responses.get(f"{status_code // 100}XX")
    schema = ((reply or {}).get("content") or {}).get("application/json", {}).get("schema", {})
    ref = str(schema.get("$ref", "")) if isinstance(schema, dict) else ""
    return ref.rsplit("/", 1)[-1] or None


def reply_kinds(label: str, status_code: int, content: bytes) -> set[str]:
    """What a 2xx reply holds, by the schema the spec gives it: ``Checkpoint``, a non-empty
    ``CheckpointList`` (an empty one is ``CheckpointList (empty)``), a done operation's result
    (``result_reply``)..."""
    name = reply_schema(label, status_code)
    data = _json(content)
    if not name or not isinstance(data, dict):
        return set()
    if isinstance(data.get("items"), list) and not data["items"]:
        return {f"{name} (empty)"}
    kinds = {name}
    kind, result = data.get("kind"), data.get("response")
    if name == "Operation" and data.get("status") == "done" and isinstance(result, dict):
        kinds.add(result_reply(kind) if kind in RESULTS else "a result of no known kind")
    return kinds


def operation_results_conform(ctx: Any, response: Any, case: Any) -> None:
    """A schemathesis check: a done operation's ``response`` has the schema of its kind.

    ``Operation.response`` is free-form in the spec (see its header), so
    ``response_schema_conformance`` accepts any object there. The kind is the reply's own
    (the emulator sends ``kind``).
    """
    if reply_schema(case.operation.label, response.status_code) != "Operation":
        return  # an error, or another schema (the 200 Artifact of an export route)
    data = _json(response.content or b"")
    if not isinstance(data, dict) or data.get("status") != "done":
        return
    result, kind = data.get("response"), data.get("kind")
    if not isinstance(result, dict) or kind not in RESULTS:
        return
    problems = CONTRACT.check_schema(RESULTS[kind], result, at="response")
    if problems:
        raise AssertionError("; ".join(f"{p.message} (result of {kind})" for p in problems))


def error_codes_are_the_spec_s(ctx: Any, response: Any, case: Any) -> None:
    """A schemathesis check: an error reply's code is one of the spec's, with its status.

    The spec lets a server send other codes; the emulator, its reference, sends only its own.
    """
    if response.status_code < 400:
        return
    data = _json(response.content or b"")
    code = data.get("error") if isinstance(data, dict) else None
    status = limits.ERROR_ERROR_CODES.get(str(code))
    if status != response.status_code:
        raise AssertionError(
            f"error code {code!r} with status {response.status_code}: the spec's "
            f"x-weaver-codes give it {status}"
        )


CHECKS = [operation_results_conform, error_codes_are_the_spec_s]


@dataclass
class Seeded:
    """The resources ``seed`` made, and the replies validated since.

    ``ids`` maps each id path parameter to its seeded resource; ``operations`` holds one
    done operation of every kind (kind -> id), which the example operation id names all of
    (``conform``).
    """

    ids: dict[str, str]
    operations: dict[str, str]
    validated: set[str] = field(default_factory=set)
    seq_id: int = 100  # the last one sent; the seed's are smaller

    def aim(self, case: Any) -> None:
        """Point the spec's example ids in ``case`` at the seeded resources."""
        for name, value in list((case.path_parameters or {}).items()):
            if name in self.ids and value == EXAMPLE_IDS.get(name):
                case.path_parameters[name] = self.ids[name]
        if case.body is not None:
            case.body = self._aimed(case.body)
        if case.operation.label in conformance.TRAINING and case.path_parameters:
            # Tokens in the model's vocabulary, as the contract kit sends them: else only 4xx.
            trained = conformance.trainable(case.body, case.path_parameters.get("model_id"))
            if trained is not None:
                # A seq_id of its own: the example's was used by the seed, with another body.
                self.seq_id += 1
                trained["payload"]["seq_id"] = self.seq_id
                case.body = trained

    def _aimed(self, value: Any) -> Any:
        model = EXAMPLE_IDS["model_id"]
        if isinstance(value, dict):
            return {k: self._aimed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._aimed(v) for v in value]
        if value == model:
            return self.ids["model_id"]
        if isinstance(value, str) and value.startswith(f"weaver://{model}/checkpoints/"):
            return value.replace(f"weaver://{model}/", f"weaver://{self.ids['model_id']}/", 1)
        return value

    def conform(self, case: Any) -> None:
        """Call ``case`` with the seeded ids, check the reply, and note what it held.

        A case that names the example operation is sent once for each seeded operation: an
        item has only a few such cases, and every kind's result is to be checked.
        """
        self.aim(case)
        parameters = case.path_parameters or {}
        example = parameters.get("operation_id") == EXAMPLE_IDS["operation_id"]
        for operation_id in self.operations.values() if example else [None]:
            if operation_id is not None:
                case.path_parameters["operation_id"] = operation_id
            response = case.call_and_validate(additional_checks=CHECKS)
            label, status = case.operation.label, response.status_code
            self.validated |= reply_kinds(label, status, response.content)


async def _seed(app: Any) -> Seeded:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://seed", timeout=60) as http:
        api = Api(http, KEY)
        session = await api.session()
        model = await api.model(session, mode="lora", rank=4)
        started = {
            "forward_backward": await api.submit_fb(model, batch(0)),
            "forward": await api.submit_forward(model, batch(1)),
            "optim_step": await api.submit_optim(model),
            "save_checkpoint": await api.submit_save(
                model, "weight_and_optimizer", name=SEEDED_NAME
            ),
        }
        checkpoint = await api.done(started["save_checkpoint"])
        started["export_checkpoint"] = await export(api, checkpoint["id"])
        artifact = await api.done(started["export_checkpoint"])
        load = {"path": checkpoint["path"], "include_optimizer": True}
        started["load_checkpoint"] = await api.ok("POST", f"/models/{model}/load", 202, json=load)
        started["export_model_weights"] = await api.ok(
            "POST", f"/models/{model}/export-hf", 202, json={"format": "huggingface"}
        )
        for op in started.values():
            await api.done(op)
    return Seeded(
        ids={
            "session_id": session,
            "model_id": model,
            "checkpoint_id": checkpoint["id"],
            "artifact_id": artifact["id"],
        },
        operations={kind: op["id"] for kind, op in started.items()},
    )


def seed(app: Any) -> Seeded:
    """Wipe the emulator and make, over the wire, a LoRA model trained one step, with a saved
    checkpoint (``SEEDED_NAME``, with optimizer state), its exported adapter, a load of it and
    an ``export-hf``: one done operation of every kind."""
    app.state.emulator.reset()
    return asyncio.run(_seed(app))


def seeded_item(emulator_app: Any, request: pytest.FixtureRequest) -> Iterator[Seeded]:
    """A freshly seeded emulator for one operation's item; afterwards, the item must have
    validated every reply ``EXPECTED_REPLIES`` names for it (unless it failed)."""
    made = seed(emulator_app)
    failed = request.session.testsfailed
    yield made
    if request.session.testsfailed > failed:
        return  # the item failed: its own failure says more than what it did not reach
    # The item's name is ``test_...[METHOD /path]`` (see tests/conftest.py).
    label = request.node.name.partition("[")[2].removesuffix("]")
    missing = sorted(EXPECTED_REPLIES.get(label, set()) - made.validated)
    if missing:
        pytest.fail(
            f"{request.node.name}: no reply of {', '.join(missing)} was validated "
            f"(validated: {', '.join(sorted(made.validated)) or 'none'})",
            pytrace=False,
        )


# One seeding per item, not per case: the cases of an item share it on purpose (a delete's
# later cases then get the 404 of a deleted resource), so hypothesis' warning does not apply.
ONE_SEEDING_PER_ITEM = hypothesis.settings(
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)


def keyed_case(operation: Any, **parts: Any) -> Any:
    """A case of ``operation`` made by hand, with the API key: the schema's auth config only
    reaches the cases schemathesis generates (a bare ``Case`` gets a 401)."""
    return operation.Case(headers={conformance.API_KEY_HEADER: KEY}, **parts)


def newest_checkpoint_path(loaded: OpenApiSchema, model_id: Any) -> str | None:
    """The path of the model's newest listed checkpoint, asked of the emulator over the wire."""
    if not isinstance(model_id, str):
        return None
    listing = loaded["/api/v1/models/{model_id}/checkpoints"]["GET"]
    response = keyed_case(listing, path_parameters={"model_id": model_id}).call()
    items = response.json().get("items") if response.status_code == 200 else None
    if not items:
        return None
    path: str = items[-1]["path"]
    return path


# Every scenario starts from the seeded done save (``from_a_done_save``), whose result is
# checked; what the workflows reach from there depends on the drawn steps.
STATEFUL_EXPECTED = {"Operation", result_reply("save_checkpoint")}


def run_stateful(loaded: OpenApiSchema, emulator_app: Any, scenarios: int) -> set[str]:
    """Run ``scenarios`` stateful workflows of ``loaded`` against ``emulator_app``; what the
    validated replies held (``reply_kinds``).

    Each scenario starts on a seeded emulator (``seed``), with the seeded save's done
    operation read as a step of its own: its links lead to the checkpoint, its export and its
    artifacts, which the random steps from a new session seldom reach.
    """
    from hypothesis.stateful import Bundle, initialize
    from schemathesis.generation.stateful.state_machine import StepInput

    validated: set[str] = set()
    get_operation = loaded["/api/v1/operations/{operation_id}"]["GET"]

    adapted = conformance.adapt_workflow(
        loaded.as_state_machine(),
        create_session=loaded["/api/v1/sessions"]["POST"],
        base_model="weaver-tiny",
        vocab_size=256,
        checkpoint_path=lambda model_id: newest_checkpoint_path(loaded, model_id),
    )

    class Workflow(adapted):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            self.seeded = seed(emulator_app)

        @initialize(target=Bundle("catch_all"))
        def from_a_done_save(self) -> Any:
            save = self.seeded.operations["save_checkpoint"]
            case = keyed_case(get_operation, path_parameters={"operation_id": save})
            step = StepInput.initial(case)
            self.recorder.record_case(case=case)
            self.control.record_step(step, self.recorder)
            return self.step(step)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            checks = [*(kwargs.pop("additional_checks", None) or []), *CHECKS]
            super().validate_response(response, case, additional_checks=checks, **kwargs)
            label, status = case.operation.label, response.status_code
            validated.update(reply_kinds(label, status, response.content))

    Workflow.run(
        settings=hypothesis.settings(
            max_examples=scenarios,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            # A failure is reported as found: shrinking whole workflows against a live
            # server can outlast the test's timeout and then reads as flaky data generation.
            phases=(hypothesis.Phase.explicit, hypothesis.Phase.reuse, hypothesis.Phase.generate),
        )
    )
    return validated
