"""Client-side validation: every refused input raises a typed ValueError before any request."""

from __future__ import annotations

import enum
import json
import math
import os
import re
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from weaver_client import limits

from tests.support.fakeserver import (
    CHECKPOINT,
    EXPORT,
    FakeWeaver,
    async_service,
    checkpoint_json,
    json_reply,
)
from tests.support.openapi import openapi
from weaver_facade import (
    DEFAULT_LORA_RANK,
    SERVER_DEFAULT,
    AdamParams,
    Checkpoint,
    CheckpointPath,
    CheckpointStatus,
    CheckpointType,
    Datum,
    InvalidArgumentError,
    InvalidCheckpointName,
    InvalidCheckpointPath,
    InvalidCheckpointRef,
    InvalidDatumError,
    InvalidInputError,
    ModelInfo,
    OptimizerStateUnavailableError,
    ServiceClient,
    TrainingClient,
    datum_from_tokens,
)
from weaver_facade._checkpoints import coerce_checkpoint_path, coerce_checkpoint_ref

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = openapi()["components"]["schemas"]

NAME_MAX: int = SCHEMAS["CheckpointName"]["maxLength"]
# The rules in words, as the spec states them next to the patterns.
NAME_RULE: str = SCHEMAS["CheckpointName"]["x-weaver-pattern-words"]
STORED_NAME: str = SCHEMAS["StoredCheckpointName"]["x-weaver-pattern-words"]


def untyped(value: object) -> Any:
    """Pass a wrongly typed value on purpose, as an untyped caller would."""
    return value


MODEL_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", fullmatch=True)
NAME = st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}", fullmatch=True)


# -- checkpoint paths ---------------------------------------------------------------------


@settings(deadline=None)  # timing is for benchmarks; two workers share two cores
@given(MODEL_ID, NAME)
def test_path_round_trips(model_id: str, name: str) -> None:
    path = CheckpointPath(model_id, name)
    assert CheckpointPath.parse(str(path)) == path
    assert str(path) == f"weaver://{model_id}/checkpoints/{name}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "it has no scheme"),
        ("m-1/checkpoints/a", "it has no scheme"),
        ("s3://m-1/checkpoints/a", "it has scheme 's3://'"),
        ("Weaver://m-1/checkpoints/a", "it has scheme 'Weaver://'"),
        ("weaver://m-1/ckpts/a", "expected 'weaver://{model_id}/checkpoints/{name}'"),
        ("weaver://m-1/checkpoints", "expected 'weaver://{model_id}/checkpoints/{name}'"),
        ("weaver://m-1/checkpoints/a/b", "expected 'weaver://{model_id}/checkpoints/{name}'"),
        ("weaver:///checkpoints/a", "the model id '' is not valid"),
        ("weaver://-m/checkpoints/a", "the model id '-m' is not valid"),
        ("weaver://m 1/checkpoints/a", "the model id 'm 1' is not valid"),
        ("weaver://m-1/checkpoints/", "the checkpoint name '' is not valid"),
        ("weaver://" + "m" * 129 + "/checkpoints/a", "the model id is 129 characters long"),
    ],
)
def test_bad_paths_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidCheckpointPath) as info:
        CheckpointPath.parse(text)
    assert problem in str(info.value)
    assert isinstance(info.value, ValueError)


@settings(deadline=None)
@given(
    st.text(alphabet="aZ09._-/ :", max_size=12) | MODEL_ID,
    st.text(alphabet="aZ09._-/ :", max_size=12) | NAME,
)
def test_a_path_is_valid_exactly_when_both_parts_are(model_id: str, name: str) -> None:
    # The constructor checks the whole path against the spec's CheckpointPath pattern;
    # the spec's patterns of the two parts, read here as YAML, must agree with it.
    parts_valid = bool(
        re.fullmatch(SCHEMAS["ResourceId"]["pattern"], model_id)
        and re.fullmatch(SCHEMAS["StoredCheckpointName"]["pattern"], name)
    )
    try:
        CheckpointPath(model_id, name)
    except InvalidCheckpointPath:
        assert not parts_valid
    else:
        assert parts_valid


@pytest.mark.parametrize("text", [42, None, b"weaver://m-1/checkpoints/a"])
def test_parse_names_a_path_that_is_no_string(text: object) -> None:
    # "CheckpointPath.parse(text) validates one and names the exact problem in
    # InvalidCheckpointPath" (its docstring): a wrong type too, not an AttributeError.
    with pytest.raises(InvalidCheckpointPath) as info:
        CheckpointPath.parse(untyped(text))
    assert str(info.value) == f"a checkpoint path must be a string, got {type(text).__name__}"


def test_path_fields_are_validated_on_construction() -> None:
    with pytest.raises(InvalidCheckpointPath, match="model id"):
        CheckpointPath("bad/id", "a")
    with pytest.raises(InvalidCheckpointPath, match=re.escape(STORED_NAME)):
        CheckpointPath("m-1", "a/b")
    with pytest.raises(InvalidCheckpointPath, match="'' is not valid"):
        CheckpointPath("m-1", "")


@pytest.mark.parametrize("name", [".hidden", "a b", "a%2Fb", "a" * 129, "epoch 2"])
def test_a_path_takes_any_name_a_server_may_report(name: str) -> None:
    # A reply's name is any string without '/' (the wire says only `"name"?: str`);
    # the server, not the facade, refuses a path it never made.
    path = CheckpointPath.parse(f"weaver://m-1/checkpoints/{name}")
    assert path == CheckpointPath("m-1", name)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        (".a", re.escape(f"'.a' is not valid: it must be {NAME_RULE}")),
        ("a/b", "contains '/'"),
        ("ü", "contains 'ü'"),
        ("x" * (NAME_MAX + 1), f"{NAME_MAX + 1} characters"),
        (3, "must be a string"),
    ],
)
def test_bad_checkpoint_names(name: object, problem: str) -> None:
    from weaver_facade._checkpoints import validate_checkpoint_name

    with pytest.raises(InvalidCheckpointName, match=problem):
        validate_checkpoint_name(name)


class _Stage(enum.StrEnum):
    WARMUP = "warmup"
    BAD = "warm up"


class _Shouting(str):
    """A str subclass whose str() and format() differ from its value."""

    def __str__(self) -> str:
        return self.upper()

    def __format__(self, spec: str) -> str:
        return self.upper()


@pytest.mark.parametrize("name", [_Stage.WARMUP, _Shouting("warmup")], ids=["strenum", "subclass"])
def test_a_str_subclass_is_a_name_by_its_value(
    fake: FakeWeaver, trainer: TrainingClient, name: str
) -> None:
    # A name is a str (CheckpointName: its characters are what the spec judges): a str
    # subclass, such as a StrEnum member, is saved under its value, whatever its str().
    saved = trainer.save_state(name)
    assert fake.body(fake.sent("POST")[-1])["name"] == "warmup"
    assert (saved.name, str(saved.path)) == ("warmup", "weaver://m-1/checkpoints/warmup")
    with pytest.raises(InvalidCheckpointName, match=r"'warm up'>? is not valid: it contains ' '"):
        trainer.save_state(_Stage.BAD)
    assert len(fake.sent("POST")) == 1


def _checkpoint(type_: CheckpointType = CheckpointType.WEIGHT) -> Checkpoint:
    import datetime

    return Checkpoint(
        id=uuid.uuid4(),
        name="a",
        type=type_,
        path=CheckpointPath("m-1", "a"),
        status=CheckpointStatus.COMPLETED,
        ttl_seconds=None,
        created_at=datetime.datetime(2026, 11, 29, tzinfo=datetime.UTC),
        expires_at=None,
        train_unembed=True,
        train_mlp=True,
        train_attn=True,
        model_id="m-1",
    )


def test_coercion_accepts_three_forms() -> None:
    path = CheckpointPath("m-1", "a")
    assert coerce_checkpoint_path(_checkpoint()) == path
    assert coerce_checkpoint_path(path) is path
    assert coerce_checkpoint_path("weaver://m-1/checkpoints/a") == path
    with pytest.raises(InvalidCheckpointPath, match="got int"):
        coerce_checkpoint_path(42)
    with pytest.raises(InvalidCheckpointPath, match="no scheme"):
        coerce_checkpoint_path(str(uuid.uuid4()))


def test_ref_coercion() -> None:
    cid = uuid.uuid4()
    checkpoint = _checkpoint()
    assert coerce_checkpoint_ref(checkpoint) is checkpoint
    assert coerce_checkpoint_ref(cid) == cid
    assert coerce_checkpoint_ref(str(cid)) == cid
    assert coerce_checkpoint_ref("weaver://m-1/checkpoints/a") == CheckpointPath("m-1", "a")
    with pytest.raises(InvalidCheckpointRef, match="neither"):
        coerce_checkpoint_ref("after-3-steps")
    with pytest.raises(InvalidCheckpointPath):
        coerce_checkpoint_ref("s3://m-1/checkpoints/a")
    with pytest.raises(InvalidCheckpointRef, match="got float"):
        coerce_checkpoint_ref(1.5)


# -- AdamParams and Datum -----------------------------------------------------------------------


def test_adam_defaults_are_the_spec_example() -> None:
    # openapi.yaml's AdamParams example holds the service's defaults, read here as YAML.
    spec = openapi()
    example = spec["components"]["schemas"]["AdamParams"]["example"]
    assert len(example) == 6
    assert attrs.asdict(AdamParams()) == example
    assert AdamParams().to_wire().to_dict() == example


def test_a_subclass_with_fields_of_its_own_sends_the_specs_six() -> None:
    # A script may subclass AdamParams to carry its own notes (a schedule's name);
    # only the spec's fields go on the wire, which refuses unknown ones.
    @attrs.frozen(kw_only=True)
    class Scheduled(AdamParams):
        schedule: str = "cosine"

    spec = openapi()["components"]["schemas"]["AdamParams"]
    sent = Scheduled(learning_rate=0.5).to_wire().to_dict()
    assert sent.keys() == spec["properties"].keys()
    assert sent["learning_rate"] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"learning_rate": -0.1}, "0 <= learning_rate <= 10"),
        ({"learning_rate": 11}, "0 <= learning_rate <= 10"),
        ({"learning_rate": math.nan}, "finite"),
        ({"learning_rate": True}, "finite number"),
        ({"learning_rate": "0.1"}, "finite number"),
        ({"beta1": 1.0}, "0 <= beta1 < 1"),
        ({"beta2": -0.1}, "0 <= beta2 < 1"),
        ({"eps": 0}, "0 < eps <= 1"),
        ({"weight_decay": 1.5}, "0 <= weight_decay <= 1"),
        ({"grad_clip_norm": -1}, "grad_clip_norm >= 0"),
        ({"grad_clip_norm": math.inf}, "finite"),
    ],
)
def test_bad_adam_params(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidArgumentError, match=problem):
        AdamParams(**kwargs)


def test_datum_from_tokens_takes_an_ignored_last_target() -> None:
    assert datum_from_tokens([7, -100]).target_tokens == (-100,)
    # A bad last token is refused in words that leave that out no more than Datum's did.
    with pytest.raises(InvalidDatumError, match=r"tokens\[1\] = -1;.* -100 to ignore it"):
        datum_from_tokens([7, -1])


def test_datum_from_tokens_shifts() -> None:
    d = datum_from_tokens([10, 11, 12, 13], weights=[0.0, 1.0, 1.0], datum_id="d")
    assert d.tokens == (10, 11, 12)
    assert d.target_tokens == (11, 12, 13)
    assert d.weights == (0.0, 1.0, 1.0)
    assert d.datum_id == "d"


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: datum_from_tokens([1]), "at least 2 tokens"),
        (lambda: datum_from_tokens([1, 2, 3], weights=[1.0]), "1 weights for 2 targets"),
        # The last token is a target only: the error names it as the caller wrote it.
        (lambda: datum_from_tokens([1, -2]), "^datum_from_tokens: tokens\\[1\\] = -2;"),
        (lambda: datum_from_tokens([1, 2, True]), "^datum_from_tokens: tokens\\[2\\] = True;"),
        (lambda: datum_from_tokens(untyped([1, 2.0])), "^datum_from_tokens: tokens\\[1\\] = 2.0;"),
        (lambda: datum_from_tokens([-1, 2]), "tokens\\[0\\] = -1"),
        (lambda: Datum(tokens=[], target_tokens=[], weights=[]), "at least 1 id, got 0"),
        (lambda: Datum(tokens=[1] * 4097, target_tokens=[1] * 4096, weights=[1] * 4097), "4096 t"),
        (lambda: Datum(tokens=[1, 2], target_tokens=[1], weights=[1, 1]), "1 target_tokens for 2"),
        (lambda: Datum(tokens=[1], target_tokens=[1], weights=[1, 1]), "2 weights for 1"),
        (lambda: Datum(tokens=untyped([1.5]), target_tokens=[1], weights=[1]), "= 1.5"),
        (lambda: Datum(tokens=[True], target_tokens=[1], weights=[1]), "tokens\\[0\\] = True"),
        (lambda: datum_from_tokens(b"the cat"), "got bytes; for its byte values as ids, pass list"),
        (
            lambda: datum_from_tokens(untyped("the cat")),
            "tokens must be a sequence of numbers, got str$",
        ),
        (lambda: Datum(tokens=[1], target_tokens=[1], weights=[math.nan]), "not finite"),
        (lambda: Datum(tokens=[1], target_tokens=[1], weights=untyped(["1"])), "not a number"),
        # -100 ignores a position only as an int, as every target is one.
        (
            lambda: Datum(tokens=[1], target_tokens=untyped([-100.0]), weights=[1]),
            "target_tokens\\[0\\] = -100.0",
        ),
    ],
)
def test_bad_datums(build: Callable[[], Datum], problem: str) -> None:
    with pytest.raises(InvalidDatumError, match=problem):
        build()


def test_numpy_numbers_are_the_ints_and_floats_they_stand_for() -> None:
    # A tokenizer's ids often come as a numpy array (in an untyped script: the types
    # say Sequence[int]): its int64 ids were refused as "tokens[0] = np.int64(1); ids
    # are ints from 0 to ...", which 1 is.
    import numpy as np

    ids, weights = untyped(np.array([10, 11, 12])), untyped(np.array([0.5, 1.0], np.float32))
    d = datum_from_tokens(ids, weights=weights)
    assert d == datum_from_tokens([10, 11, 12], weights=[0.5, 1.0])
    assert [type(v) for v in (*d.tokens, *d.target_tokens, *d.weights)] == [int] * 4 + [float] * 2
    masked = Datum(
        tokens=[1], target_tokens=untyped(np.array([-100])), weights=untyped([np.int8(0)])
    )
    assert masked.target_tokens == (-100,)
    with pytest.raises(InvalidDatumError, match=r"tokens\[0\] = -1"):
        datum_from_tokens(untyped(np.array([-1, 2])))
    with pytest.raises(InvalidDatumError, match=r"tokens\[0\] = np.True_"):
        Datum(tokens=untyped([np.bool_(True)]), target_tokens=[1], weights=[1])


def test_adam_params_take_numpy_numbers_as_the_floats_they_stand_for() -> None:
    # A schedule computed with numpy (np.float32(0.01)) was refused as "learning_rate
    # must be a finite number", which it is; and what is taken must reach the wire as
    # JSON numbers, which numpy's float32 is not.
    import numpy as np

    schedule = AdamParams(learning_rate=untyped(np.float32(0.5)), beta1=untyped(np.float16(0)))
    assert schedule == AdamParams(learning_rate=0.5, beta1=0.0)
    sent = json.loads(json.dumps(schedule.to_wire().to_dict()))
    assert sent == {**AdamParams().to_wire().to_dict(), "learning_rate": 0.5, "beta1": 0.0}
    with pytest.raises(InvalidArgumentError, match=r"0 <= learning_rate <= 10"):
        AdamParams(learning_rate=untyped(np.float32(11)))
    with pytest.raises(InvalidArgumentError, match="finite number"):
        AdamParams(learning_rate=untyped(np.bool_(True)))


async def test_counts_and_seconds_take_numpy_numbers_as_what_they_stand_for() -> None:
    # ttl_seconds=np.int64(3600) was refused as "must be an int from 1 to ...; got
    # np.int64(3600)", and a timeout of np.float32(5) as "must be a number of seconds".
    import numpy as np

    fake = FakeWeaver()
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny", lora_rank=untyped(np.int8(8)))
        await trainer.with_options(timeout=untyped(np.float32(5))).save_state(
            "c", ttl_seconds=untyped(np.int64(3600))
        )
        with pytest.raises(InvalidArgumentError, match=r"got np.int64\(0\)$"):
            await trainer.save_state("d", ttl_seconds=untyped(np.int64(0)))
    [create] = fake.sent("POST", "/api/v1/sessions/s-1/models")
    assert fake.body(create)["lora_config"]["rank"] == 8
    [save] = fake.sent("POST", "/api/v1/models/m-1/checkpoints")
    assert fake.body(save)["ttl_seconds"] == 3600


def test_token_ids_are_bounded_as_the_spec_says() -> None:
    # Beyond int64, the dtype targets travel as, the server alone refused the batch.
    items = SCHEMAS["EncodedTextChunk"]["properties"]["tokens"]["items"]
    most = items["maximum"]
    assert most == 2**63 - 1
    assert datum_from_tokens([most, most]).target_tokens == (most,)
    with pytest.raises(InvalidDatumError, match=rf"^datum_from_tokens: tokens\[1\] = {most + 1}"):
        datum_from_tokens([1, most + 1])
    with pytest.raises(InvalidDatumError, match=rf"^Datum: target_tokens\[0\] = {most + 1}"):
        Datum(tokens=[1], target_tokens=[most + 1], weights=[1])
    with pytest.raises(InvalidDatumError, match=rf"^Datum: tokens\[0\] = {most + 1}"):
        datum_from_tokens([most + 1, 1])


def test_ignored_targets_are_allowed() -> None:
    assert Datum(tokens=[1, 2], target_tokens=[-100, 3], weights=[0, 1]).target_tokens == (-100, 3)


def test_a_long_sequence_and_a_big_batch_are_the_servers_to_judge(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    # The wire sets no most: the real service trains far longer contexts than the emulator's
    # 4096, so the facade sends what only the server can judge (tests/integration/test_errors.py
    # shows the emulator's refusal arriving as BadRequestError).
    long = datum_from_tokens([i % 200 for i in range(8193)], datum_id="x" * 255)
    batch = [long, *[datum_from_tokens([1, 2])] * 511]
    trainer.forward_backward(batch, wait=False)
    (post,) = fake.sent("POST")
    data = fake.body(post)["payload"]["forward_backward_input"]["data"]
    assert len(data) == 512
    assert len(data[0]["model_input"]["chunks"][0]["tokens"]) == 8192
    assert data[0]["datum_id"] == "x" * 255
    with pytest.raises(InvalidDatumError, match="at most 255 characters"):
        datum_from_tokens([1, 2], datum_id="x" * 256)


# -- nothing is sent for a refused input -----------------------------------------------------------


def _forward_backward(data: object, trainer: TrainingClient) -> object:
    return trainer.forward_backward(untyped(data))


BAD_CALLS: list[tuple[str, Callable[[TrainingClient], object], type[Exception], str]] = [
    ("fb-empty", lambda t: t.forward_backward([]), InvalidDatumError, "at least 1 Datum, got 0"),
    (
        "fb-single",
        lambda t: t.forward_backward(untyped(datum_from_tokens([1, 2]))),
        InvalidDatumError,
        "single Datum",
    ),
    # The type says Sequence[Datum]: anything else is named, not iterated or sent.
    *(
        (f"fb-{name}", partial(_forward_backward, data), InvalidDatumError, problem)
        for name, data, problem in [
            ("int", 5, "takes a sequence of Datum, got 5$"),
            ("str", "the cat", "takes a sequence of Datum, got 'the cat'$"),
            ("bytes", b"the cat", "takes a sequence of Datum, got b'the cat'$"),
            ("set", {datum_from_tokens([1, 2])}, "takes a sequence of Datum, got \\{Datum"),
        ]
    ),
    (
        "fb-dict",
        lambda t: t.forward_backward([untyped({"tokens": [1]})]),
        InvalidDatumError,
        "data\\[0\\] is a dict",
    ),
    (
        # Token ids where a batch of Datum belongs read "data[0] is a int".
        "fb-tokens",
        lambda t: t.forward_backward(untyped([1, 2, 3])),
        InvalidDatumError,
        "^data\\[0\\] is an int, not a Datum",
    ),
    (
        # A class's name starts with a capital: "a Exception" was the rule's miss.
        "fb-object",
        lambda t: t.forward_backward(untyped([Exception("not a datum")])),
        InvalidDatumError,
        "^data\\[0\\] is an Exception, not a Datum",
    ),
    (
        "fb-loss",
        lambda t: t.forward_backward([datum_from_tokens([1, 2])], untyped("mse")),
        InvalidArgumentError,
        "loss_fn",
    ),
    (
        "optim-dict",
        lambda t: t.optim_step(untyped({"learning_rate": 1})),
        InvalidArgumentError,
        "AdamParams",
    ),
    ("save-name", lambda t: t.save_state("bad name"), InvalidCheckpointName, "contains ' '"),
    ("save-dot", lambda t: t.save_state(".x"), InvalidCheckpointName, re.escape(NAME_RULE)),
    ("save-ttl-0", lambda t: t.save_state("a", ttl_seconds=0), InvalidArgumentError, "ttl"),
    (
        "save-ttl-bool",
        lambda t: t.save_state("a", ttl_seconds=True),
        InvalidArgumentError,
        "ttl",
    ),
    ("load-path", lambda t: t.load_state("m-1/checkpoints/a"), InvalidCheckpointPath, "scheme"),
    (
        "load-opt-path",
        lambda t: t.load_state_with_optimizer("weaver://m-1/ckpt/a"),
        InvalidCheckpointPath,
        "expected",
    ),
    (
        "load-opt-weight",
        lambda t: t.load_state_with_optimizer(_checkpoint(CheckpointType.WEIGHT)),
        OptimizerStateUnavailableError,
        "holds no optimizer state",
    ),
    (
        "load-opt-sampling",
        lambda t: t.load_state_with_optimizer(_checkpoint(CheckpointType.SAMPLING)),
        OptimizerStateUnavailableError,
        "'sampling'",
    ),
    ("get-ref", lambda t: t.get_checkpoint("after-3-steps"), InvalidCheckpointRef, "neither"),
    ("delete-ref", lambda t: t.delete_checkpoint(""), InvalidCheckpointRef, "neither"),
    (
        "ttl-value",
        lambda t: t.set_checkpoint_ttl("weaver://m-1/checkpoints/a", -5),
        InvalidArgumentError,
        "ttl",
    ),
    ("page-size", lambda t: t.list_checkpoints(page_size=0), InvalidArgumentError, "page_size"),
    # None was falsy: a weight-only save, which load_state_with_optimizer then refuses.
    (
        "save-include-none",
        lambda t: t.save_state("a", include_optimizer=untyped(None)),
        InvalidArgumentError,
        "include_optimizer must be True or False, got None",
    ),
    # wait=None returned a handle, wait="no" waited: each after the request was sent.
    *(
        (f"{name}-wait", call, InvalidArgumentError, "wait must be True or False")
        for name, call in [
            ("fb", lambda t: t.forward_backward([datum_from_tokens([1, 2])], wait=untyped(None))),
            ("optim", lambda t: t.optim_step(wait=untyped("no"))),
            ("save", lambda t: t.save_state("a", wait=untyped(1))),
            ("load", lambda t: t.load_state("weaver://m-1/checkpoints/a", wait=untyped(None))),
            (
                "load-opt",
                lambda t: t.load_state_with_optimizer(
                    "weaver://m-1/checkpoints/a", wait=untyped(None)
                ),
            ),
            ("export", lambda t: t.export_weights(wait=untyped(None))),
        ]
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "problem"),
    [pytest.param(c, e, p, id=i) for i, c, e, p in BAD_CALLS],
)
def test_refused_before_any_request(
    fake: FakeWeaver,
    trainer: TrainingClient,
    call: Callable[[TrainingClient], object],
    error: type[Exception],
    problem: str,
) -> None:
    with pytest.raises(error, match=problem) as info:
        call(trainer)
    assert isinstance(info.value, ValueError)
    assert fake.requests == []


def test_server_default_reads_as_its_name() -> None:
    # str() (print, an f-string, a log message) gave "_ServerDefault.SERVER_DEFAULT".
    assert str(SERVER_DEFAULT) == repr(SERVER_DEFAULT) == f"{SERVER_DEFAULT}" == "SERVER_DEFAULT"


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.get_checkpoint("c1"),
        lambda t: t.delete_checkpoint("c1"),
        lambda t: t.set_checkpoint_ttl("c1", 60),
        lambda t: t.export_weights("c1"),
    ],
    ids=["get", "delete", "ttl", "export"],
)
def test_a_bare_name_is_refused_with_its_path_of_the_trainers_model(
    fake: FakeWeaver, trainer: TrainingClient, call: Callable[[TrainingClient], object]
) -> None:
    # The trainer knows its model: the error shows the path a user meant, as the CLI does.
    with pytest.raises(InvalidCheckpointRef) as info:
        call(trainer)
    assert str(info.value) == (
        "'c1' is neither a 'weaver://' checkpoint path nor a checkpoint id (UUID); "
        "for checkpoint 'c1' of this model: 'weaver://m-1/checkpoints/c1'"
    )
    assert fake.requests == []


@pytest.mark.parametrize(
    "call",
    [lambda t: t.load_state("c1"), lambda t: t.load_state_with_optimizer("c1")],
    ids=["load", "load-with-optimizer"],
)
def test_a_bare_name_to_load_is_refused_with_its_path_of_the_trainers_model(
    fake: FakeWeaver, trainer: TrainingClient, call: Callable[[TrainingClient], object]
) -> None:
    # The loads, a bare name's likeliest place, said only "it has no scheme" after the
    # other calls of a trainer had learnt to show the path a user meant.
    with pytest.raises(InvalidCheckpointPath) as info:
        call(trainer)
    assert str(info.value) == (
        "'c1' is not a checkpoint path: it has no scheme; expected "
        "'weaver://{model_id}/checkpoints/{name}'; "
        "for checkpoint 'c1' of this model: 'weaver://m-1/checkpoints/c1'"
    )
    assert fake.requests == []


async def test_the_async_client_refuses_the_same_before_any_request(fake: FakeWeaver) -> None:
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        fake.requests.clear()
        path = "weaver://m-1/checkpoints/a"
        for refused in (
            trainer.forward_backward([datum_from_tokens([1, 2])], wait=untyped(None)),
            trainer.optim_step(wait=untyped("no")),
            trainer.save_state("a", wait=untyped(1)),
            trainer.save_state("a", include_optimizer=untyped(None)),
            trainer.load_state(path, wait=untyped(None)),
            trainer.load_state_with_optimizer(path, wait=untyped(None)),
            trainer.export_weights(wait=untyped(None)),
        ):
            with pytest.raises(InvalidArgumentError, match="must be True or False"):
                await refused
        assert fake.requests == []


async def _async_callback(_progress: object) -> None:
    return None


BAD_DOWNLOADS: list[tuple[dict[str, Any], str]] = [
    ({"dest": None}, "dest must be a folder's path, a str or a Path; got None"),
    ({"dest": b"out"}, "dest must be a folder's path"),
    ({"dest": ""}, "got '' \\(use '.' for here\\)"),
    ({"dest": "out", "progress": 5}, "progress must be a function, or None; got 5"),
    # It was accepted, then called and never awaited: a RuntimeWarning, no progress.
    ({"dest": "out", "progress": _async_callback}, "progress must be a plain function"),
]


@pytest.mark.parametrize(("kwargs", "problem"), BAD_DOWNLOADS)
async def test_download_arguments_are_refused_before_any_request(
    fake: FakeWeaver,
    svc: ServiceClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    problem: str,
) -> None:
    # They were TypeErrors from deep inside, after the artifact had been looked up (and a
    # bad progress after the .part files had been made).
    monkeypatch.chdir(tmp_path)
    artifact_id = str(uuid.uuid4())
    fake.requests.clear()
    with pytest.raises(InvalidArgumentError, match=problem):
        svc.download_weights(artifact_id, **kwargs)
    async with async_service(fake) as async_svc:
        with pytest.raises(InvalidArgumentError, match=problem):
            await async_svc.download_weights(artifact_id, **kwargs)
    assert fake.requests == []
    assert os.listdir(tmp_path) == []


def test_a_refused_call_does_not_use_up_a_seq_id(fake: FakeWeaver, trainer: TrainingClient) -> None:
    with pytest.raises(InvalidDatumError):
        trainer.forward_backward([])
    trainer.forward_backward([datum_from_tokens([1, 2])])
    assert fake.body(fake.sent("POST")[0])["payload"]["seq_id"] == 1


def test_optimizer_error_is_the_same_class_client_and_server_side(
    fake: FakeWeaver, trainer: TrainingClient
) -> None:
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "w", "weight"))
    weight = trainer.get_checkpoint("weaver://m-1/checkpoints/w")
    fake.requests.clear()
    with pytest.raises(OptimizerStateUnavailableError) as client_side:
        trainer.load_state_with_optimizer(weight)
    assert fake.requests == []
    assert client_side.value.status_code is None
    assert client_side.value.code == "optimizer_state_unavailable"
    with pytest.raises(OptimizerStateUnavailableError) as server_side:
        trainer.load_state_with_optimizer(weight.path)
    assert server_side.value.status_code == 422
    assert type(client_side.value) is type(server_side.value)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"base_model": ""}, "base_model"),
        ({"base_model": "weaver-tiny", "training_mode": "qlora"}, "training_mode"),
        ({"base_model": "weaver-tiny", "lora_rank": 0}, "lora_rank"),
        ({"base_model": "weaver-tiny", "lora_rank": 257}, "lora_rank"),
        ({"base_model": "weaver-tiny", "seed": -1}, "seed"),
        ({"base_model": "weaver-tiny", "training_mode": "full_ft", "seed": 1}, "full_ft"),
        ({"base_model": "weaver-tiny", "training_mode": "full_ft", "lora_rank": 8}, "full_ft"),
        # The default's own value, given, is refused too: it is still a LoRA setting.
        (
            {
                "base_model": "weaver-tiny",
                "training_mode": "full_ft",
                "lora_rank": DEFAULT_LORA_RANK,
            },
            "full_ft",
        ),
    ],
)
def test_bad_model_arguments(
    fake: FakeWeaver, svc: ServiceClient, kwargs: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=problem):
        svc.create_training_client(**kwargs)
    assert [r.url.path for r in fake.requests] in ([], ["/api/v1/sessions"])
    assert fake.sent("POST", "/api/v1/sessions/s-1/models") == []


def test_bad_ids_are_refused(fake: FakeWeaver, svc: ServiceClient) -> None:
    with pytest.raises(InvalidArgumentError, match="model_id"):
        svc.training_client("m/1")
    with pytest.raises(InvalidArgumentError, match="operation_id"):
        svc.operation("")
    assert fake.requests == []


def test_an_object_given_for_an_id_is_named_with_the_attribute_to_pass(
    fake: FakeWeaver, svc: ServiceClient
) -> None:
    # `service.terminate_model(trainer)` (or a ModelInfo from list_models()) said
    # "model_id TrainingClient(...) is not valid: it must be 1 to 128 ASCII letters,
    # ...", the rule of a text, for what is no text at all.
    trainer = svc.training_client("m-1", next_seq_id=1)
    fake.requests.clear()
    with pytest.raises(
        InvalidArgumentError,
        match=re.escape("model_id must be a str, got TrainingClient: pass its .model_id ('m-1')"),
    ):
        svc.terminate_model(untyped(trainer))
    info = ModelInfo(id="m-2")
    with pytest.raises(
        InvalidArgumentError,
        match=re.escape("model_id must be a str, got ModelInfo: pass its .id ('m-2')"),
    ):
        svc.get_model(untyped(info))
    with pytest.raises(InvalidArgumentError, match=r"operation_id must be a str, got int$"):
        svc.operation(untyped(5))
    assert fake.requests == []


def test_an_id_is_held_to_the_spec_length_apart_from_the_pattern(
    fake: FakeWeaver, svc: ServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The spec states ResourceId's maxLength apart from its pattern ({0,127}): a
    # maxLength of 64 let ids of 65 to 128 characters through, and the refusal of a
    # 129-character one said "1 to 64".
    monkeypatch.setattr(limits, "RESOURCE_ID_MAX_LENGTH", 64)
    with pytest.raises(InvalidArgumentError, match="65 characters long; at most 64 are"):
        svc.training_client("m" * 65)
    with pytest.raises(InvalidArgumentError, match="65 characters long; at most 64 are"):
        svc.operation("o" * 65)
    assert fake.requests == []
    svc.training_client("m" * 64)  # the bound itself is allowed


@pytest.mark.parametrize(
    "call",
    [
        lambda t, h: t.load_state(h),
        lambda t, h: t.load_state_with_optimizer(h),
        lambda t, h: t.export_weights(h),
        lambda t, h: t.get_checkpoint(h),
    ],
    ids=["load", "load-with-optimizer", "export", "get"],
)
def test_a_saves_handle_given_for_its_checkpoint_says_to_take_its_result(
    fake: FakeWeaver,
    trainer: TrainingClient,
    call: Callable[[TrainingClient, object], object],
) -> None:
    # `trainer.load_state(trainer.save_state("c1", wait=False))` said only "got
    # OperationHandle", leaving a new user to find that the handle is not the checkpoint.
    handle = trainer.save_state("c1", wait=False)
    fake.requests.clear()
    with pytest.raises(InvalidInputError) as info:
        call(trainer, handle)
    assert str(info.value).endswith(
        "got OperationHandle: pass the checkpoint it gives, handle.result()"
    )
    assert fake.requests == []


def test_a_handle_that_gives_no_checkpoint_is_not_said_to(
    fake: FakeWeaver, svc: ServiceClient, trainer: TrainingClient, tmp_path: Path
) -> None:
    # An export's or a step's handle given for a checkpoint was told "pass the checkpoint it
    # gives, handle.result()": its result is an Artifact or a step's, which the call refuses
    # in turn.
    fake.script("POST", EXPORT, json_reply(202, {"id": "op-x", "status": "pending"}))
    export = trainer.export_weights(CHECKPOINT, wait=False)
    step = trainer.forward_backward([datum_from_tokens([1, 2])], wait=False)
    fake.requests.clear()
    for handle, kind in ((export, "export_checkpoint"), (step, "forward_backward")):
        with pytest.raises(InvalidInputError) as info:
            trainer.load_state(untyped(handle))
        assert str(info.value).endswith(
            f"got OperationHandle of an operation of kind {kind}, whose result this call "
            "does not take"
        )
    with pytest.raises(InvalidInputError) as info:
        svc.download_weights(untyped(step), tmp_path / "out")
    assert str(info.value).endswith(
        "got OperationHandle of an operation of kind forward_backward, whose result this "
        "call does not take"
    )
    assert fake.requests == []


def test_download_weights_of_a_wrong_target_names_what_it_takes(
    fake: FakeWeaver, svc: ServiceClient, trainer: TrainingClient, tmp_path: Path
) -> None:
    # `download_weights(trainer.export_weights(c, wait=False), dest)` said "expected a
    # Checkpoint, ... or a checkpoint id, got OperationHandle: pass the checkpoint it gives":
    # an export's handle gives an Artifact, which the call takes, and an id there is an
    # artifact's, not a checkpoint's.
    fake.script("POST", EXPORT, json_reply(202, {"id": "op-x", "status": "pending"}))
    handles = {
        "export": trainer.export_weights(CHECKPOINT, wait=False),
        "save": trainer.save_state("c1", wait=False),
    }
    fake.requests.clear()
    takes = (
        "download_weights takes an Artifact, an artifact id (UUID), a Checkpoint, a "
        "CheckpointPath or a 'weaver://' path of a checkpoint or of its artifact, got "
    )
    for handle in handles.values():
        with pytest.raises(InvalidInputError) as info:
            svc.download_weights(untyped(handle), tmp_path / "out")
        assert str(info.value) == takes + "OperationHandle: pass what it gives, handle.result()"
    with pytest.raises(InvalidInputError) as info:
        svc.download_weights(untyped(None), tmp_path / "out")
    assert str(info.value) == takes + "NoneType"
    assert fake.requests == []
    assert not (tmp_path / "out").exists()
