from enum import StrEnum


class CheckpointStatus(StrEnum):
    COMPLETED = "completed"
    DELETED = "deleted"
    ERROR = "error"
    FAILED = "failed"
    PENDING = "pending"

    def __str__(self) -> str:
        return str(self.value)
