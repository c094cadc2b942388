from enum import StrEnum


class HookOrdering(StrEnum):
    FIFO = "fifo"

    def __str__(self) -> str:
        return str(self.value)
