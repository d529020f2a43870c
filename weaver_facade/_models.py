"""Training models and base models as typed values (``ModelInfo``, ``BaseModelInfo``, the
settings of a ``NewModel``), their paging, and their clean-up: which models a client created
and terminates as it closes (``CreatedModels``), and the terminate plan. No I/O."""

from __future__ import annotations

import contextlib
import datetime
import enum
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import attrs
from weaver_client import limits
from weaver_client.types import Unset

from . import _calls as calls
from ._args import check_bool, check_int
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidArgumentError,
    NotFoundError,
    ResponseValidationError,
    UnsupportedByServerError,
    WeaverError,
    goes_on,
)
from ._extensions import MODEL_LISTING
from ._lazy import wire
from ._logs import logger, warn_naming_calls
from ._plans import Call, Plan, WireModel
from ._retry import may_have_acted
from ._wire import WireFields, WireValues, expect, field_error, leave_out, nested, optional


def _within(value: int, low: int, high: int) -> int:
    """``value``, or the nearer bound of the spec's that it lies beyond (either side)."""
    return min(max(value, low), high)


# The spec requires a rank and gives none, only its bounds.
DEFAULT_LORA_RANK = _within(32, limits.LORA_CONFIG_RANK_MINIMUM, limits.LORA_CONFIG_RANK_MAXIMUM)
"""The rank of a LoRA model created without ``lora_rank`` (32, the official SDK's)."""
# Where a caller gives no page size: the spec's default for the model listings; the
# checkpoint listing has none (without a limit it comes whole), and takes the same
# within its own bounds.
DEFAULT_PAGE_SIZE = limits.LIST_MODELS_LIMIT_DEFAULT
CHECKPOINT_PAGE_SIZE = _within(
    DEFAULT_PAGE_SIZE, limits.LIST_CHECKPOINTS_LIMIT_MINIMUM, limits.LIST_CHECKPOINTS_LIMIT_MAXIMUM
)
T = TypeVar("T")


@attrs.frozen(kw_only=True)
class LoraSettings:
    """A LoRA model's adapter settings, as the server describes them.

    The ``train_*`` flags are what the model was created with; each checkpoint
    says which parts were really trained.
    """

    rank: int
    train_unembed: bool = limits.LORA_CONFIG_TRAIN_UNEMBED_DEFAULT
    train_mlp: bool = limits.LORA_CONFIG_TRAIN_MLP_DEFAULT
    train_attn: bool = limits.LORA_CONFIG_TRAIN_ATTN_DEFAULT
    seed: int | None = None


@attrs.frozen(kw_only=True)
class ModelInfo:
    """A training model, as the server described it.

    Attributes:
        id: The server's id of the model.
        base_model: The base model it was created from, when the server says (the real
            service need not; a model this client created always has it).
        training_mode: ``"lora"`` or ``"full_ft"``, when known, as ``base_model`` is.
        tokenizer_path: The tokenizer, when the server says.
        lora_rank: The LoRA rank (LoRA models only).
        next_seq_id: The seq_id the server expects next, when it says (an extension).
        status: ``"active"``, ``"terminated"`` or ``"state_lost"``, when the server says.
        lora: The LoRA settings (LoRA models only), when the server says or this client
            created the model.
        session_id: The session it was created in, when the server says.
        created_at: When it was created, when the server says.
    """

    id: str
    base_model: str | None = None
    training_mode: str | None = None
    tokenizer_path: str | None = None
    lora_rank: int | None = None
    next_seq_id: int | None = None
    status: str | None = None
    lora: LoraSettings | None = None
    session_id: str | None = None
    created_at: datetime.datetime | None = None


def check_base_model(base_model: object) -> str:
    """A base model's name, held to the spec's length."""
    shortest = limits.CREATE_MODEL_REQUEST_BASE_MODEL_MIN_LENGTH
    longest = limits.CREATE_MODEL_REQUEST_BASE_MODEL_MAX_LENGTH
    if not isinstance(base_model, str) or not shortest <= len(base_model) <= longest:
        raise InvalidArgumentError(
            f"base_model must be a name of {shortest} to {longest} characters, got {base_model!r}"
        )
    return base_model


class NewModel(NamedTuple):
    """The settings a training model is created with (what ``create_model`` sends)."""

    base_model: str
    training_mode: str
    lora: LoraSettings | None

    def describe(self, model: ModelInfo) -> ModelInfo:
        """``model``, created from these settings, with those its description leaves out
        (the real service need not describe them)."""
        mode = model.training_mode or self.training_mode
        lora = model.lora
        if lora is None and mode == self.training_mode:
            lora = self.lora
        rank = None if lora is None else lora.rank
        return attrs.evolve(
            model,
            base_model=model.base_model or self.base_model,
            training_mode=mode,
            lora=lora,
            lora_rank=rank,
        )


@attrs.frozen(kw_only=True)
class BaseModelInfo:
    """A base model the server can train from (``GET /supported-models``).

    Attributes:
        name: What ``create_training_client`` takes as ``base_model``.
        status: Such as ``"available"`` or ``"healthy"``.
        config: Architecture facts, such as ``vocab_size`` (free-form).
    """

    name: str
    status: str
    config: Mapping[str, Any] = attrs.field(factory=dict)


def _lora(operation: str, schema: str, config: object) -> LoraSettings | None:
    value = nested(operation, wire.LoraConfig, config, "lora_config")
    if value is None:
        return None
    # An absent flag takes the spec's default (LoraSettings'); a broken one fails the whole
    # config, which the caller leaves out (``leave_out``).
    flags = {
        name: flag
        for name in ("train_unembed", "train_mlp", "train_attn")
        if (flag := optional(operation, schema, f"lora_config.{name}", getattr(value, name), bool))
        is not None
    }
    return LoraSettings(
        rank=expect(operation, schema, "lora_config.rank", value.rank, int),
        seed=optional(operation, schema, "lora_config.seed", value.seed, int),
        **flags,
    )


class _TrainingMode(enum.StrEnum):
    LORA = "lora"
    FULL_FT = "full_ft"


class _ModelStatus(enum.StrEnum):
    ACTIVE = "active"
    TERMINATED = "terminated"
    STATE_LOST = "state_lost"


# ModelInfo keeps both as the spec's plain strings, but gives values a meaning (a LoRA
# model; one that trains no more): declared for the coverage, as ``OPERATION_VALUES`` are.
MODEL_VALUES = (WireValues("TrainingMode", _TrainingMode), WireValues("ModelStatus", _ModelStatus))

_PAGES = "read to know when the listing ends"
_LISTING = {"items": "each is converted", "pagination": _PAGES}
MODEL_FIELDS = (
    WireFields(
        "Model",
        ModelInfo,
        mapped={"lora_config": "lora"},
        left_out={
            "model_seq_id": "only the create request needs it",
            "user_metadata": "set by the caller, who has it",
        },
        derived={"lora_rank": "lora_config.rank"},
    ),
    WireFields("SupportedModel", BaseModelInfo),
    WireFields("LoraConfig", LoraSettings),
    # Each name a literal, which mypy checks against the spec's schemas (a renamed one).
    WireFields("ModelList", ModelInfo, left_out=_LISTING),
    WireFields("SupportedModelList", BaseModelInfo, left_out=_LISTING),
    WireFields("Pagination", ModelInfo, left_out={"total_count": _PAGES}),
)


def model_info_from_wire(operation: str, gen: wire.Model, where: str = "") -> ModelInfo:
    """Check a generated Model (``where`` in a listing) and keep what the facade uses."""
    schema = f"Model {where}" if where else "Model"

    def field(name: str, value: object, kind: type[T]) -> T | None:
        return optional(operation, schema, name, value, kind)

    try:
        lora = _lora(operation, schema, gen.lora_config)
    except ResponseValidationError as exc:
        leave_out(operation, schema, "lora_config", exc)
        lora = None
    next_seq_id = field("next_seq_id", gen.next_seq_id, int)
    if next_seq_id is not None and next_seq_id < limits.MODEL_NEXT_SEQ_ID_MINIMUM:
        # The step counter every attached client starts from: not the caller's argument.
        said = f"field `next_seq_id`: {next_seq_id} is not >= {limits.MODEL_NEXT_SEQ_ID_MINIMUM}"
        below = field_error(operation, schema, "next_seq_id", said)
        leave_out(operation, schema, "next_seq_id", below)
        next_seq_id = None
    return ModelInfo(
        id=expect(operation, schema, "id", gen.id, str),
        base_model=optional(operation, schema, "base_model", gen.base_model, str, nullable=False),
        training_mode=None if isinstance(gen.training_mode, Unset) else gen.training_mode.value,
        tokenizer_path=field("tokenizer_path", gen.tokenizer_path, str),
        lora_rank=None if lora is None else lora.rank,
        next_seq_id=next_seq_id,
        status=None if isinstance(gen.status, Unset) else gen.status.value,
        lora=lora,
        session_id=field("session_id", gen.session_id, str),
        created_at=field("created_at", gen.created_at, datetime.datetime),
    )


def base_model_from_wire(operation: str, gen: wire.SupportedModel, where: str) -> BaseModelInfo:
    """Check a generated SupportedModel."""
    schema = f"SupportedModelList {where}"
    config = {} if isinstance(gen.config, Unset) else dict(gen.config.additional_properties)
    return BaseModelInfo(
        name=expect(operation, schema, "name", gen.name, str),
        status=expect(operation, schema, "status", gen.status, str),
        config=config,
    )


# -- paging -----------------------------------------------------------------------------------


class _Page(WireModel, Protocol):
    @property
    def items(self) -> list[Any]: ...
    @property
    def pagination(self) -> wire.Pagination: ...


P = TypeVar("P", bound=_Page)


class OffsetPager(Generic[P, T]):
    """Pages of an ``{items, pagination: {total_count}}`` listing: which call next, and the
    items of each reply. It ends at ``total_count`` or at an empty page, so a server that
    ignores ``offset`` or miscounts cannot make it list for ever."""

    def __init__(
        self,
        page_size: int,
        make_call: Callable[[int, int], Call[P]],
        convert: Callable[[Any, str], T],
        schema: str,
        bounds: tuple[int, int],
    ) -> None:
        self.page_size = check_int("page_size", page_size, *bounds)
        self.offset = 0
        self.done = False
        self._make_call = make_call
        self._convert = convert
        self._schema = schema

    def call(self) -> Call[P]:
        call = self._make_call(self.page_size, self.offset)
        self._op_id = call.op_id
        return call

    def read(self, page: P) -> list[T]:
        op_id = self._op_id
        total = expect(
            op_id, self._schema, "pagination.total_count", page.pagination.total_count, int
        )
        found = [
            self._convert(item, f"items[{self.offset + i}]") for i, item in enumerate(page.items)
        ]
        if len(found) > self.page_size:
            said = f"{len(found)} items for limit {self.page_size}"
            raise field_error(op_id, self._schema, "items", said)
        self.offset += len(found)
        self.done = not found or self.offset >= total
        return found


def model_pager(page_size: int) -> OffsetPager[wire.ModelList, ModelInfo]:
    """The pages of ``GET /models``."""
    return OffsetPager(
        page_size,
        lambda limit, offset: calls.list_models(limit=limit, offset=offset),
        lambda item, where: model_info_from_wire("list_models", item, where),
        "ModelList",
        (limits.LIST_MODELS_LIMIT_MINIMUM, limits.LIST_MODELS_LIMIT_MAXIMUM),
    )


@contextlib.contextmanager
def model_listing() -> Iterator[None]:
    """Around a ``GET /models`` listing: a 404 or 405 from that route (which has no path
    parameter to be unknown) with a Weaver Error body comes from a server without the
    ``model-listing`` extension, and raises ``UnsupportedByServerError``; one without
    (a web page) is no Weaver server, and stays what it is."""
    try:
        yield
    except APIError as exc:
        if exc.status_code not in (404, 405) or exc.code is None:
            raise
        raise UnsupportedByServerError(
            f"list_models: this server cannot list models: it lacks the {MODEL_LISTING} "
            "extension (GET /api/v1/models is not a route there, unless the base URL is "
            "not the server's root); look a model up by its id instead",
            extension=MODEL_LISTING,
            status_code=exc.status_code,
            code=exc.code,
            request_id=exc.request_id,
        ) from exc


def base_model_pager() -> OffsetPager[wire.SupportedModelList, BaseModelInfo]:
    """The pages of ``GET /supported-models``."""
    return OffsetPager(
        limits.LIST_SUPPORTED_MODELS_LIMIT_DEFAULT,
        lambda limit, offset: calls.list_supported_models(limit=limit, offset=offset),
        lambda item, where: base_model_from_wire("list_supported_models", item, where),
        "SupportedModelList",
        (limits.LIST_SUPPORTED_MODELS_LIMIT_MINIMUM, limits.LIST_SUPPORTED_MODELS_LIMIT_MAXIMUM),
    )


# -- cleaning up --------------------------------------------------------------------------


class CreatedModels:
    """The models a service client created: the settings each was created with, and
    those it will terminate when it closes.

    Kept models (``keep=True``, or ``terminate_models_on_close=False``) and models attached
    by id are never terminated, but for one whose caller never got it (``unclaimed``), which
    would run on unknown; models attached by id have no settings.
    """

    def __init__(self, *, terminate_on_close: bool) -> None:
        self.terminate_on_close = check_bool("terminate_models_on_close", terminate_on_close)
        self._ids: dict[str, None] = {}  # ordered: terminated in creation order
        # Kept after a terminate: the model's checkpoints stay and may be resumed.
        self._settings: dict[str, NewModel] = {}
        # Set when a close has gone through every model it knew of.
        self.sealed = False
        # Those a close terminated (the server said so), and those whose caller never got
        # them (``unclaimed``), which no ``keep`` keeps: for ``closing_block``.
        self._terminated: set[str] = set()
        self._unclaimed: set[str] = set()
        # How the last close that left models running was cut short, if one was, and the
        # models a WARNING named as left running: ``never_closed`` names no model twice.
        self._cut_short: str | None = None
        self._named: set[str] = set()
        # Whether a close runs ("running") or has ended ("ended"), also cut short or its
        # terminates ended early, once one began: the models added once it ended are left
        # running. Set by the close in its own frame, in the try whose finally ends it, not
        # by a context manager, whose enter and exit a Ctrl-C can cut (it then ran for good).
        self.close_state: str | None = None
        # Held by each look at or change of ``_ids`` and ``sealed``: a create in another
        # thread adds its model while a close walks them. Reentrant: a close from a
        # signal handler may run while this thread holds it.
        self._lock = threading.RLock()

    def add(
        self,
        model_id: str,
        new: NewModel,
        *,
        keep: bool,
        unclaimed: bool,
        closing: Callable[[], bool] = lambda: False,
    ) -> tuple[bool, bool]:
        """Record a created model; whether the client was ``closing``, and whether a close
        will terminate it. An ``unclaimed`` one (its create was interrupted, or answered
        once the client began closing, so its caller never got it) is, whatever kept it.
        ``closing`` is asked under the lock the close's walk takes: a close that began
        after it finds the model, one that began before is told of, even once it ended.
        Once that close ended (cut short, or past its last model), the model is left
        running, which its create says, naming it: the exit's message does not again."""
        with self._lock:
            closed = closing()
            unclaimed = unclaimed or closed
            self._settings[model_id] = new
            if unclaimed:
                self._unclaimed.add(model_id)
            if unclaimed or (self.terminate_on_close and not keep):
                self._ids[model_id] = None
            ended = closed and self.close_state == "ended"
            if ended:
                self._named.add(model_id)
            return closed, model_id in self._ids and not self.sealed and not ended

    def unclaimed(self, model_ids: list[str], why: str) -> None:
        """Models created for a caller that never got them (a resume whose load failed or
        was interrupted): a close terminates them, whatever kept them; after a close has
        run, also cut short, the log says that those it did not terminate are left
        running (one cut short leaves them for the next close, as those it named)."""
        for model_id in model_ids:
            with self._lock:
                self._unclaimed.add(model_id)
                # Not kept: the close terminates it, or (in another thread) already did.
                if model_id in self._ids or model_id in self._terminated:
                    continue
                if not self.sealed:  # else the close has run: none is left to terminate it
                    self._ids[model_id] = None
                if left := self.sealed or self.close_state == "ended":
                    self._named.add(model_id)
            if left:
                warn_naming_calls(
                    f"{why}: model {model_id} is left running (the client is closed; "
                    f"{how_to_end(1)})",
                    left_running=True,
                )
            else:
                logger.warning("%s: model %s is terminated on close, even if kept", why, model_id)

    def settings(self, model_id: str) -> NewModel | None:
        """What ``model_id`` was created with, if this client created it."""
        return self._settings.get(model_id)

    def describe(self, model: ModelInfo) -> ModelInfo:
        """``model``, completed by its settings when this client created it."""
        new = self._settings.get(model.id)
        return model if new is None else new.describe(model)

    def forget(self, model_id: str) -> None:
        """Leave ``model_id`` alone at close (kept, or already terminated)."""
        with self._lock:
            self._ids.pop(model_id, None)

    def pending(self) -> tuple[str, ...]:
        """The models a close would terminate now."""
        with self._lock:
            return tuple(self._ids)

    @contextlib.contextmanager
    def closing_block(
        self, exc: BaseException | None, why: str | None, within: float, creating: int = 0
    ) -> Iterator[None]:
        """Around the close of a ``with`` block that ``exc`` left (``None``: none). Left
        ``why`` (a Ctrl-C, a cancel), it first says which models the close terminates,
        those of the ``creating`` creates on their way too (it waits for their replies): it
        may wait up to ``within`` for the server, with nothing else said, and a user who
        presses Ctrl-C again meanwhile leaves them running. Then ``exc`` gets a note naming
        those the close terminated, when it says that something goes on on the server
        (``goes_on``: an operation that keeps running, a request it may act on), which the
        close ended; not any other error, where it would be noise. Not one whose terminate
        failed (it may run on). One its caller never got gets no advice to keep it:
        ``keep`` would not have kept it."""
        before = self.pending()
        if why is not None and (before or creating):
            them = [f"the models this client created ({', '.join(before)})"] if before else []
            them += [_on_their_way(creating)] if creating else []
            logger.warning(
                "%s: terminating %s first, within %g s; press Ctrl-C again to leave %s running",
                why,
                " and ".join(them),
                within,
                "it" if not before and creating == 1 else "them",
            )
        yield
        if exc is None or not goes_on(exc):
            return
        done = [model_id for model_id in before if model_id in self._terminated]
        if not done:
            return
        claimed = [model_id for model_id in done if model_id not in self._unclaimed]
        never_got = [model_id for model_id in done if model_id in self._unclaimed]
        if not claimed:
            advice = "its caller never got it: `keep=True` would not have kept it"
            if len(never_got) > 1:
                advice = "their caller never got them: `keep=True` would not have kept them"
        else:
            advice = "`create_training_client(..., keep=True)` keeps a model past the close"
            if never_got:
                advice += f", but not {_models(never_got)}, which its caller never got"
        exc.add_note(
            f"then the client's close, leaving its `with` block, terminated {_models(done)}, "
            f"whose operations still running end ({advice})"
        )

    def left_running(self, interrupted: bool, creating: int = 0) -> None:
        """Say which models a close cut short (by a Ctrl-C, else a cancel) leaves running,
        those of the ``creating`` creates on their way too."""
        self._cut_short = "interrupted" if interrupted else "cancelled"
        why = f"the close was {'interrupted' if interrupted else 'cancelled (close again)'}"
        with self._lock:  # ended first: a model added after is named by its create
            self.close_state = "ended"
            known = tuple(self._ids)
            self._named.update(known)
        left = [*known, *([_on_their_way(creating)] if creating else [])]
        if left:
            warn_naming_calls(
                f"{why}: {models_left(', '.join(left), len(known), creating)}", left_running=True
            )

    def never_closed(self, client: str, close: str) -> None:
        """For ``if_never_closed``: a ``client`` never closed terminates nothing (nothing is
        sent), so name the models it leaves running, in a WARNING record and a
        ``ResourceWarning``, whose source (this, made with the client) shows where it was
        made, under tracemalloc. One whose close was cut short was closed all the same,
        and its WARNING named the models it left: only those it did not (one a create
        answered later made) are named, with how to end them."""
        if not (left := [m for m in self.pending() if m not in self._named]):
            return
        if self._cut_short is None:
            message = (
                f"{client} never closed leaves {_models(left)} running on the server: "
                f"close the client ({close}) to terminate the models it created "
                "(`keep=True` keeps one)"
            )
        else:
            message = (
                f"{client} whose close was {self._cut_short} leaves {_models(left)} "
                f"running on the server ({how_to_end(len(left))})"
            )
        warn_naming_calls(message, left_running=True)
        warnings.warn(message, ResourceWarning, stacklevel=1, source=self)

    def terminate(self) -> Plan[None]:
        """The close's plan: terminate them in creation order, best effort, forgetting
        each once the server answered. A failure is logged and the next model is tried,
        also after a lost reply, except when the server cannot be reached or did not
        answer in time, which would only make closing slow for every model left. A close
        cut short leaves the models it did not reach for the next close, which says so of
        those a WARNING named left running."""
        tried: set[str] = set()
        # Models created while the close runs (their reply came late) are taken too.
        while (model_id := self._untried(tried)) is not None:
            tried.add(model_id)
            # A WARNING said it ran on (a close cut short, or a create after it): one says
            # it ended.
            named = ", which a WARNING said was left running," if model_id in self._named else ""
            try:
                yield calls.terminate_model(model_id)  # its reply, if any, is not needed
                self._terminated.add(model_id)
                if named:
                    logger.warning(
                        "model %s%s is terminated by the close after all", model_id, named
                    )
            except WeaverError as exc:
                if isinstance(exc, NotFoundError) and exc.code is not None:
                    # This client made it: a server that forgets terminated models no
                    # longer finds one terminated elsewhere (`weaver-facade models
                    # terminate`), or by the terminate of a close cut short. A 404 page,
                    # no Weaver error, says nothing of the model.
                    logger.log(
                        logging.WARNING if named else logging.INFO,
                        "model %s%s was no longer found on close: terminated already?",
                        model_id,
                        named,
                    )
                else:
                    logger.warning("could not terminate model %s on close: %s", model_id, exc)
                    acted = may_have_acted(exc.__cause__)
                    if isinstance(exc, APITimeoutError) or (
                        isinstance(exc, APIConnectionError) and not acted
                    ):
                        # Say which are left running: the user may terminate them later.
                        # Ended first, as a close cut short is: a model added after is
                        # left running too, and named by its create.
                        with self._lock:
                            self.close_state = "ended"
                            left = tuple(self._ids)
                        if acted:  # the server may have done it, and no reply came
                            left = tuple(m for m in left if m != model_id)
                            logger.warning(
                                "model %s may be left running: its terminate got no reply in time",
                                model_id,
                            )
                        if left:
                            warn_naming_calls(
                                models_left(", ".join(left), len(left)), left_running=True
                            )
                        return
            self.forget(model_id)

    def _untried(self, tried: set[str]) -> str | None:
        """The first model the close has not tried, else ``None``, the close then sealed
        within the same hold of the lock: a model added after it is told it is not
        terminated (``add``), never lost between the two."""
        with self._lock:
            model_id = next((m for m in self._ids if m not in tried), None)
            if model_id is None:
                self.sealed = True
            return model_id


def _models(model_ids: list[str]) -> str:
    one = len(model_ids) == 1
    return f"model {model_ids[0]}" if one else f"models {', '.join(model_ids)}"


def model_plan(call: Call[wire.Model]) -> Plan[ModelInfo]:
    return model_info_from_wire(call.op_id, (yield call))


def terminate_plan(model_id: str) -> Plan[ModelInfo]:
    """Terminate a model; described by the reply when it is a Model, otherwise read back
    (the real service promises no reply body); a read back that finds none, from a server
    that forgets terminated models (``_lookup.kept_of_forgotten``), gives the id alone."""
    reply: calls.TerminateReply = yield calls.terminate_model(model_id)
    done = reply.read(model_info_from_wire, "terminate_model")
    if done is not None:
        return done
    try:
        return (yield from model_plan(calls.get_model(model_id)))
    except NotFoundError:
        logger.info("terminate_model: model %s is terminated and no longer found", model_id)
        return ModelInfo(id=model_id)


def models_left(named: str, known: int, unknown: int = 0) -> str:
    """The WARNING's words for the models ``named`` left running, ``known`` by id and those
    of ``unknown`` creates whose reply never came, and how to end them (the command line
    shows its own commands)."""
    how = how_to_end(known + unknown)
    if unknown:
        ids = "the id" if unknown == 1 else "the ids"
        how = (
            f"a server with the model-listing extension shows {ids} this client never got "
            f"in service.list_models(); {how}"
        )
    return f"models left running: {named} ({how})"


def how_to_end(count: int) -> str:
    return f"end {'it' if count == 1 else 'them'} with terminate_model()"


def _on_their_way(creating: int) -> str:
    """The models of ``creating`` creates on their way, which only their replies name."""
    if creating == 1:
        return "the model of a create on its way"
    return f"the models of {creating} creates on their way"
