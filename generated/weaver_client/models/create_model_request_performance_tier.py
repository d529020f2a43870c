from enum import StrEnum


class CreateModelRequestPerformanceTier(StrEnum):
    FAST = "fast"
    FLASH = "flash"
    NORMAL = "normal"

    def __str__(self) -> str:
        return str(self.value)
