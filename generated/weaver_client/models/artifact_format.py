from enum import StrEnum


class ArtifactFormat(StrEnum):
    HUGGINGFACE = "huggingface"

    def __str__(self) -> str:
        return str(self.value)
