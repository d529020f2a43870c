from enum import StrEnum


class OperationKind(StrEnum):
    EXPORT_CHECKPOINT = "export_checkpoint"
    EXPORT_MODEL_WEIGHTS = "export_model_weights"
    FORWARD = "forward"
    FORWARD_BACKWARD = "forward_backward"
    LOAD_CHECKPOINT = "load_checkpoint"
    OPTIM_STEP = "optim_step"
    SAVE_CHECKPOINT = "save_checkpoint"

    def __str__(self) -> str:
        return str(self.value)
