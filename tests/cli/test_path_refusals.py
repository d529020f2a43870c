"""A bad checkpoint path is refused alike by the library and by the command line: the same
exception, in the same words (the command line's naming its command where the library
names its call), before any request."""

from __future__ import annotations

import ast
import shlex
from collections.abc import Callable

import pytest

from tests.support.cli import invoke
from tests.support.fakeserver import FakeWeaver
from tests.support.fakeserver import service as fake_service
from weaver_facade import (
    CheckpointPath,
    ServiceClient,
    TrainingClient,
    WeaverError,
    coerce_checkpoint_ref,
)

EXPECTED = "'weaver://{model_id}/checkpoints/{name}'"
# Where a refusal names the download, the library's call (the path as Python writes it) and
# the command line's command (the path as a shell takes it).
DOWNLOAD = ("download_weights({}, dest)", "`weaver-facade checkpoints download {} -o DIR`")


def _artifact(path: str) -> tuple[str, str]:
    checkpoint = path.partition("/artifacts/")[0]
    said = f"{path} is an artifact's path: give its checkpoint's, {checkpoint}, or download "
    return path, said + "the artifact with {download}"


CASES = [
    _artifact("weaver://m-1/checkpoints/c1/artifacts/hf_model"),
    _artifact("weaver://m-2/checkpoints/step-3/artifacts/hf_adapter"),
    _artifact("weaver://m-1/checkpoints/c1/artifacts/weights"),  # as given, of any kind
    _artifact("weaver://m-1/checkpoints/it's/artifacts/hf_model"),
    _artifact('weaver://m-1/checkpoints/say "hi"/artifacts/hf_model'),
    _artifact("weaver://m-1/checkpoints/a'b\"c d/artifacts/hf_model"),
    (
        "weaver://m-1/checkpoints/c1/artifacts/",
        f"'weaver://m-1/checkpoints/c1/artifacts/' is not a checkpoint path: expected {EXPECTED}",
    ),
    (
        "weaver://m-1/checkpoint/x",
        f"'weaver://m-1/checkpoint/x' is not a checkpoint path: expected {EXPECTED}",
    ),
    (
        "s3://bucket/checkpoints/x",
        "'s3://bucket/checkpoints/x' is not a checkpoint path: it has scheme 's3://'; "
        f"expected {EXPECTED}",
    ),
    (
        "weaver:///checkpoints/x",
        "in 'weaver:///checkpoints/x', the model id '' is not valid: it must be 1 to 128 ASCII "
        "letters, digits, '.', '_' or '-', starting with a letter or digit",
    ),
]

# Each command that takes a checkpoint's REF, and the library's call that does the same.
Call = Callable[[ServiceClient, TrainingClient, str], object]
COMMANDS: list[tuple[list[str], Call]] = [
    (["show"], lambda s, t, p: t.get_checkpoint(p)),
    (["artifacts"], lambda s, t, p: s.list_artifacts(p)),
    (["delete"], lambda s, t, p: t.delete_checkpoint(p)),
    (["set-ttl", "--permanent"], lambda s, t, p: t.set_checkpoint_ttl(p, None)),
    (["export"], lambda s, t, p: t.export_weights(p)),
    (["load", "m-1"], lambda s, t, p: t.load_state(p)),
]


def _refused(call: Callable[[], object]) -> WeaverError:
    with pytest.raises(WeaverError) as refused:
        call()
    return refused.value


@pytest.mark.parametrize(("path", "said"), CASES, ids=[case[0] for case in CASES])
@pytest.mark.parametrize(("command", "call"), COMMANDS, ids=[c[0][0] for c in COMMANDS])
def test_the_library_and_the_command_line_refuse_a_bad_path_alike(
    path: str, said: str, command: list[str], call: Call
) -> None:
    library = said.replace("{download}", DOWNLOAD[0].format(repr(path)))
    cli = said.replace("{download}", DOWNLOAD[1].format(shlex.quote(path)))
    fake = FakeWeaver()
    with fake_service(fake) as service:
        trainer = service.create_training_client("weaver-tiny")
        fake.requests.clear()
        refusals = [
            _refused(lambda: CheckpointPath.parse(path)),
            _refused(lambda: coerce_checkpoint_ref(path)),
            _refused(lambda: call(service, trainer, path)),
        ]
        assert fake.requests == []
    assert [str(each) for each in refusals] == [library] * 3
    kinds = {type(each).__name__ for each in refusals}
    assert len(kinds) == 1

    name, *rest = command
    run = invoke(["checkpoints", name, *rest, path], {"WEAVER_BASE_URL": "http://127.0.0.1:9"})
    assert run.exit_code == 2, run.stderr
    assert run.stderr == f"error: {cli}\n"
    run = invoke(
        ["checkpoints", name, *rest, path, "--json"], {"WEAVER_BASE_URL": "http://127.0.0.1:9"}
    )
    assert run.exit_code == 2, run.stderr
    error = run.json()["error"]
    assert (error["type"], error["message"]) == (kinds.pop(), cli)


@pytest.mark.parametrize(
    "name", ["it's", 'say "hi"', "a'b\"c d", "c1"], ids=["quote", "double", "both", "plain"]
)
def test_a_refusal_names_a_download_that_takes_the_path_as_given(name: str) -> None:
    # A path with a ' was left in the library's words on the command line (its pattern
    # stopped at the quote), and the library's call broke as Python: each reads back as
    # the path given, by Python and by a shell.
    path = f"weaver://m-1/checkpoints/{name}/artifacts/hf_model"
    library = str(_refused(lambda: CheckpointPath.parse(path)))
    call = library.partition("or download the artifact with ")[2]
    parsed = ast.parse(call, mode="eval").body
    assert isinstance(parsed, ast.Call)
    assert ast.literal_eval(parsed.args[0]) == path
    run = invoke(["checkpoints", "show", path], {"WEAVER_BASE_URL": "http://127.0.0.1:9"})
    assert run.exit_code == 2, run.stderr
    assert "download_weights" not in run.stderr
    command = run.stderr.partition("or download the artifact with `")[2].rpartition("`")[0]
    assert shlex.split(command) == ["weaver-facade", "checkpoints", "download", path, "-o", "DIR"]
