from enum import StrEnum


class TensorDType(StrEnum):
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    INT32 = "int32"
    INT64 = "int64"

    def __str__(self) -> str:
        return str(self.value)
