from enum import StrEnum


class HookPatchOrderingType0(StrEnum):
    FIFO = "fifo"

    def __str__(self) -> str:
        return str(self.value)
