from enum import StrEnum


class LossFn(StrEnum):
    CROSS_ENTROPY = "cross_entropy"

    def __str__(self) -> str:
        return str(self.value)
