from enum import StrEnum


class CheckpointType(StrEnum):
    SAMPLING = "sampling"
    WEIGHT = "weight"
    WEIGHT_AND_OPTIMIZER = "weight_and_optimizer"

    def __str__(self) -> str:
        return str(self.value)
