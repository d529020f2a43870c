from enum import StrEnum


class ArtifactKind(StrEnum):
    HF_ADAPTER = "hf_adapter"
    HF_MODEL = "hf_model"

    def __str__(self) -> str:
        return str(self.value)
