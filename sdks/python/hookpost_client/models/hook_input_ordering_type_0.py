from enum import StrEnum


class HookInputOrderingType0(StrEnum):
    FIFO = "fifo"

    def __str__(self) -> str:
        return str(self.value)
