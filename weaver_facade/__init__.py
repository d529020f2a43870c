"""weaver-facade: a spec-first Python SDK for Weaver's checkpoint workflow.

Train, save and resume::

    from weaver_facade import ServiceClient, datum_from_tokens

    with ServiceClient() as service:  # WEAVER_BASE_URL, WEAVER_API_KEY
        trainer = service.create_training_client("weaver-tiny")
        for _ in range(3):
            trainer.forward_backward([datum_from_tokens([1, 2, 3, 4])])
            trainer.optim_step()
        checkpoint = trainer.save_state("after-3-steps")  # weight_and_optimizer
        trainer.load_state_with_optimizer(checkpoint)

Every request goes through the generated client ``weaver_client``; this
package adds typed results, safe retries, operations that cannot hang, and
one error tree under ``weaver_facade.WeaverError``.
"""

from ._artifacts import (
    Artifact,
    ArtifactFile,
    ArtifactKind,
    ArtifactStatus,
    DownloadResult,
    DownloadTarget,
)
from ._checkpoints import (
    Checkpoint,
    CheckpointLike,
    CheckpointPath,
    CheckpointRef,
    CheckpointStatus,
    CheckpointType,
    coerce_checkpoint_ref,
    validate_checkpoint_name,
)
from ._client import AsyncServiceClient, ClientOptions, ServiceClient
from ._download import DownloadProgress
from ._errors import (
    AmbiguousArtifactKindError,
    APIConnectionError,
    APIError,
    APITimeoutError,
    ArtifactIntegrityError,
    ArtifactNotReadyError,
    AuthenticationError,
    BadRequestError,
    CheckpointExistsError,
    CheckpointNotReadyError,
    ClientClosedError,
    ConflictError,
    DownloadError,
    DownloadTimeoutError,
    ExportInProgressError,
    IdempotencyMismatchError,
    IncompatibleCheckpointError,
    InternalServerError,
    InvalidArgumentError,
    InvalidCheckpointName,
    InvalidCheckpointPath,
    InvalidCheckpointRef,
    InvalidDatumError,
    InvalidInputError,
    MergeNotSupportedError,
    ModelStateLostError,
    ModelTerminatedError,
    NotFoundError,
    OperationFailedError,
    OperationTimeoutError,
    OptimizerStateUnavailableError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    SeqIdConflictError,
    StorageError,
    UnknownBaseModelError,
    UnprocessableEntityError,
    UnsafeArtifactPathError,
    UnsupportedByServerError,
    WeaverError,
)
from ._models import BaseModelInfo, LoraSettings, ModelInfo
from ._operations import (
    AsyncOperationHandle,
    ConversionProgress,
    OperationHandle,
    OperationProgress,
    OperationStatus,
    PendingInfo,
    PollPolicy,
    PollSettings,
)
from ._training import (
    SERVER_DEFAULT,
    AsyncTrainingClient,
    OperationResult,
    TrainingClient,
    TtlSeconds,
)
from ._transport import AsyncRetryTransport, RetryPolicy, RetrySettings, RetryTransport
from ._types import (
    AdamParams,
    Datum,
    ForwardBackwardResult,
    LoadResult,
    OptimStepResult,
    datum_from_tokens,
)
from ._version import __version__

__all__ = [
    "SERVER_DEFAULT",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AdamParams",
    "AmbiguousArtifactKindError",
    "Artifact",
    "ArtifactFile",
    "ArtifactIntegrityError",
    "ArtifactKind",
    "ArtifactNotReadyError",
    "ArtifactStatus",
    "AsyncOperationHandle",
    "AsyncRetryTransport",
    "AsyncServiceClient",
    "AsyncTrainingClient",
    "AuthenticationError",
    "BadRequestError",
    "BaseModelInfo",
    "Checkpoint",
    "CheckpointExistsError",
    "CheckpointLike",
    "CheckpointNotReadyError",
    "CheckpointPath",
    "CheckpointRef",
    "CheckpointStatus",
    "CheckpointType",
    "ClientClosedError",
    "ClientOptions",
    "ConflictError",
    "ConversionProgress",
    "Datum",
    "DownloadError",
    "DownloadProgress",
    "DownloadResult",
    "DownloadTarget",
    "DownloadTimeoutError",
    "ExportInProgressError",
    "ForwardBackwardResult",
    "IdempotencyMismatchError",
    "IncompatibleCheckpointError",
    "InternalServerError",
    "InvalidArgumentError",
    "InvalidCheckpointName",
    "InvalidCheckpointPath",
    "InvalidCheckpointRef",
    "InvalidDatumError",
    "InvalidInputError",
    "LoadResult",
    "LoraSettings",
    "MergeNotSupportedError",
    "ModelInfo",
    "ModelStateLostError",
    "ModelTerminatedError",
    "NotFoundError",
    "OperationFailedError",
    "OperationHandle",
    "OperationProgress",
    "OperationResult",
    "OperationStatus",
    "OperationTimeoutError",
    "OptimStepResult",
    "OptimizerStateUnavailableError",
    "PendingInfo",
    "PermissionDeniedError",
    "PollPolicy",
    "PollSettings",
    "RateLimitError",
    "ResponseValidationError",
    "RetryPolicy",
    "RetrySettings",
    "RetryTransport",
    "SeqIdConflictError",
    "ServiceClient",
    "StorageError",
    "TrainingClient",
    "TtlSeconds",
    "UnknownBaseModelError",
    "UnprocessableEntityError",
    "UnsafeArtifactPathError",
    "UnsupportedByServerError",
    "WeaverError",
    "__version__",
    "coerce_checkpoint_ref",
    "datum_from_tokens",
    "validate_checkpoint_name",
]
