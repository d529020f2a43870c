"""What a service client keeps of each model it trains, for all its training clients of it
(``ModelSteps``, in ``StepsByModel``), and the checkpoints it deleted (``DeletedHere``), which
a list that lags may still show. No I/O: ``ModelSteps.latest`` is a plan.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from . import _lookup as lookup
from ._checkpoints import Checkpoint, CheckpointPath
from ._models import ModelInfo
from ._operations import OperationSnapshot, ResultParser
from ._plans import Plan
from ._types import LoadResult

_R = TypeVar("_R")


class ModelSteps:
    """A model's next ``seq_id`` (``None``: unknown) and the lock its calls take turns with.

    The lock is held from taking a ``seq_id`` until the request is answered, so that
    concurrent steps reach the server in ``seq_id`` order: a server runs them as they
    arrive. Saves, loads and exports of the model's weights take it too: they act on what
    the steps called before them made (which calls take it: ``_TrainingBase._in_turn``).
    """

    def __init__(self, lock: Any, deleted: DeletedHere) -> None:
        self.next_seq_id: int | None = None
        self.lock = lock
        self.terminated = False  # by this service client's ``terminate_model``
        # The load that made the model (``create_training_client_from_state``): every
        # training client of it here says so, the server keeps no record of it.
        self.resumed_from: LoadResult | None = None
        # The ids of this client's saves of the model that ``latest_checkpoint`` has not
        # yet looked for: a server's list may show a save only later.
        self._unlisted: set[str] = set()
        self._unlisted_lock = threading.Lock()
        # The ids and paths of checkpoints this service client deleted (of any model:
        # ``StepsByModel.deleted``).
        self.deleted = deleted

    def noting_saves(
        self, parse: ResultParser[_R], checkpoint_id: Callable[[_R], uuid.UUID]
    ) -> ResultParser[_R]:
        """``parse``, noting the checkpoint each of its results says was saved."""

        def noted(snap: OperationSnapshot) -> _R:
            result = parse(snap)
            self.note_saved(checkpoint_id(result))
            return result

        return noted

    def note_saved(self, checkpoint_id: uuid.UUID) -> None:
        """The checkpoint was saved by this client; one it deleted before the save's result
        was read (``wait=False``) is not looked for."""
        with self._unlisted_lock:  # a delete records, then forgets the id (``_delete``)
            if checkpoint_id not in self.deleted:
                self._unlisted.add(str(checkpoint_id))

    def latest(self, model_id: str) -> Plan[Checkpoint | None]:
        """``lookup.latest``, which looks for this client's saves no call has looked for
        yet; from now on a listing is taken as it is."""
        with self._unlisted_lock:
            saved = frozenset(self._unlisted)

        def unlisted() -> frozenset[str]:
            # Less those deleted meanwhile; not less those another latest forgot: its list
            # showing them says nothing of this one's.
            return frozenset(i for i in saved if uuid.UUID(i) not in self.deleted)

        latest = yield from lookup.latest(model_id, unlisted)
        self.forget_saves(saved)
        return latest

    def forget_saves(self, ids: frozenset[str]) -> None:
        """``ids`` were looked for, or deleted."""
        with self._unlisted_lock:
            self._unlisted -= ids


class DeletedHere:
    """The ids and paths of the checkpoints a service client deleted, of any model: not
    looked for again in a list that may lag (``lookup.find_listed``), until a save of the
    name. A delete's path is one only if no save of its name was on its way while the
    delete was: the server may have made the name anew, whichever reply came last."""

    def __init__(self) -> None:
        self._gone: set[object] = set()
        # Saves of each path begun since its first delete was sent (only those are
        # compared: a loop that saves a new name each step keeps nothing of them).
        self._begun: dict[CheckpointPath, int] = {}
        self._on_their_way: dict[CheckpointPath, int] = {}
        self._lock = threading.Lock()  # for this bookkeeping only, never a request

    def __contains__(self, ref: object) -> bool:
        return ref in self._gone

    @contextlib.contextmanager
    def saving(self, path: CheckpointPath) -> Iterator[None]:
        """A save of ``path`` on its way: its request, until answered."""
        with self._lock:
            self._gone.discard(path)
            if path in self._begun:
                self._begun[path] += 1
            self._on_their_way[path] = self._on_their_way.get(path, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                if self._on_their_way[path] == 1:
                    del self._on_their_way[path]
                else:
                    self._on_their_way[path] -= 1

    def deleting(self, path: CheckpointPath) -> Callable[[Checkpoint], None]:
        """Called as the delete of ``path``'s checkpoint is sent; what it returns records
        the checkpoint deleted."""
        with self._lock:
            begun = self._begun.setdefault(path, 0)
            quiet = not self._on_their_way.get(path)

        def record(deleted: Checkpoint) -> None:
            with self._lock:
                self._gone.add(deleted.id)
                if quiet and self._begun.get(path, 0) == begun:
                    self._gone.add(deleted.path)

        return record


class StepsByModel:
    """The ``ModelSteps`` of each model a service client trains, shared by all its training
    clients of the model: two that counted apart would send one ``seq_id`` twice, and a
    server answers the second with the first one's operation, a step silently lost."""

    def __init__(self) -> None:
        self._models: dict[str, ModelSteps] = {}
        # One record for every model, since a path names its model and an id is unique,
        # and the service client's own lookups (``list_artifacts``, a resume) read it too.
        self.deleted = DeletedHere()

    def join(self, model: ModelInfo, given: int | None, lock: Callable[[], Any]) -> ModelSteps:
        """``model``'s steps. A ``given`` next ``seq_id`` sets the count, for every client
        of the model: the caller's word (such as re-sending a step whose reply was lost,
        with its own ``seq_id``). Else the higher of the count kept here and the server's
        goes on: the server's may lag behind a step on its way, and be ahead after steps
        another process sent."""
        steps = self._models.setdefault(model.id, ModelSteps(lock(), self.deleted))
        if given is not None:
            steps.next_seq_id = given
        elif model.next_seq_id is not None:
            steps.next_seq_id = max(steps.next_seq_id or 0, model.next_seq_id)
        return steps

    def terminated(self, model_id: str, lock: Callable[[], Any]) -> None:
        """``model_id`` was terminated: its training clients, also those attached later,
        refuse what needs it live."""
        self._models.setdefault(model_id, ModelSteps(lock(), self.deleted)).terminated = True

    def was_terminated(self, model_id: str) -> bool:
        """Whether this service client terminated ``model_id``."""
        steps = self._models.get(model_id)
        return steps is not None and steps.terminated
