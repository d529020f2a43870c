from enum import StrEnum


class ModelStatus(StrEnum):
    ACTIVE = "active"
    STATE_LOST = "state_lost"
    TERMINATED = "terminated"

    def __str__(self) -> str:
        return str(self.value)
