from enum import StrEnum


class TrainingMode(StrEnum):
    FULL_FT = "full_ft"
    LORA = "lora"

    def __str__(self) -> str:
        return str(self.value)
