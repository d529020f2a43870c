from enum import StrEnum


class ArtifactStatus(StrEnum):
    COMPLETED = "completed"
    DELETED = "deleted"
    ERROR = "error"
    PENDING = "pending"

    def __str__(self) -> str:
        return str(self.value)
