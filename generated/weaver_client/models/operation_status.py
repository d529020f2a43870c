from enum import StrEnum


class OperationStatus(StrEnum):
    DONE = "done"
    ERROR = "error"
    PENDING = "pending"
    RUNNING = "running"

    def __str__(self) -> str:
        return str(self.value)
