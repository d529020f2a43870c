"""Contains all the data models used in inputs/outputs"""

from .adam_params import AdamParams
from .artifact import Artifact
from .artifact_format import ArtifactFormat
from .artifact_kind import ArtifactKind
from .artifact_list import ArtifactList
from .artifact_manifest import ArtifactManifest
from .artifact_status import ArtifactStatus
from .checkpoint import Checkpoint
from .checkpoint_list import CheckpointList
from .checkpoint_status import CheckpointStatus
from .checkpoint_type import CheckpointType
from .conversion_progress import ConversionProgress
from .create_model_request import CreateModelRequest
from .create_model_request_performance_tier import CreateModelRequestPerformanceTier
from .create_session_request import CreateSessionRequest
from .datum import Datum
from .download_descriptor import DownloadDescriptor
from .download_file import DownloadFile
from .encoded_text_chunk import EncodedTextChunk
from .error import Error
from .error_details import ErrorDetails
from .export_model_request import ExportModelRequest
from .export_request import ExportRequest
from .forward_backward_input import ForwardBackwardInput
from .forward_backward_input_loss_fn_config import ForwardBackwardInputLossFnConfig
from .forward_backward_payload import ForwardBackwardPayload
from .forward_backward_request import ForwardBackwardRequest
from .forward_backward_result import ForwardBackwardResult
from .forward_payload import ForwardPayload
from .forward_request import ForwardRequest
from .heartbeat import Heartbeat
from .load_checkpoint_request import LoadCheckpointRequest
from .load_result import LoadResult
from .lora_config import LoraConfig
from .loss_fn import LossFn
from .loss_fn_inputs import LossFnInputs
from .loss_fn_output import LossFnOutput
from .manifest_file import ManifestFile
from .metadata import Metadata
from .metrics import Metrics
from .model import Model
from .model_input import ModelInput
from .model_list import ModelList
from .model_status import ModelStatus
from .operation import Operation
from .operation_error_details import OperationErrorDetails
from .operation_kind import OperationKind
from .operation_metadata import OperationMetadata
from .operation_result import OperationResult
from .operation_status import OperationStatus
from .optim_step_payload import OptimStepPayload
from .optim_step_request import OptimStepRequest
from .optim_step_result import OptimStepResult
from .pagination import Pagination
from .pending_info import PendingInfo
from .pending_resources import PendingResources
from .request_metadata import RequestMetadata
from .save_checkpoint_request import SaveCheckpointRequest
from .session import Session
from .set_checkpoint_ttl_request import SetCheckpointTtlRequest
from .supported_model import SupportedModel
from .supported_model_config import SupportedModelConfig
from .supported_model_list import SupportedModelList
from .tensor_d_type import TensorDType
from .tensor_data import TensorData
from .training_mode import TrainingMode

__all__ = (
    "AdamParams",
    "Artifact",
    "ArtifactFormat",
    "ArtifactKind",
    "ArtifactList",
    "ArtifactManifest",
    "ArtifactStatus",
    "Checkpoint",
    "CheckpointList",
    "CheckpointStatus",
    "CheckpointType",
    "ConversionProgress",
    "CreateModelRequest",
    "CreateModelRequestPerformanceTier",
    "CreateSessionRequest",
    "Datum",
    "DownloadDescriptor",
    "DownloadFile",
    "EncodedTextChunk",
    "Error",
    "ErrorDetails",
    "ExportModelRequest",
    "ExportRequest",
    "ForwardBackwardInput",
    "ForwardBackwardInputLossFnConfig",
    "ForwardBackwardPayload",
    "ForwardBackwardRequest",
    "ForwardBackwardResult",
    "ForwardPayload",
    "ForwardRequest",
    "Heartbeat",
    "LoadCheckpointRequest",
    "LoadResult",
    "LoraConfig",
    "LossFn",
    "LossFnInputs",
    "LossFnOutput",
    "ManifestFile",
    "Metadata",
    "Metrics",
    "Model",
    "ModelInput",
    "ModelList",
    "ModelStatus",
    "Operation",
    "OperationErrorDetails",
    "OperationKind",
    "OperationMetadata",
    "OperationResult",
    "OperationStatus",
    "OptimStepPayload",
    "OptimStepRequest",
    "OptimStepResult",
    "Pagination",
    "PendingInfo",
    "PendingResources",
    "RequestMetadata",
    "SaveCheckpointRequest",
    "Session",
    "SetCheckpointTtlRequest",
    "SupportedModel",
    "SupportedModelConfig",
    "SupportedModelList",
    "TensorDType",
    "TensorData",
    "TrainingMode",
)
