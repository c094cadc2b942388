from enum import StrEnum


class HookInputOrderingOnFailureType0(StrEnum):
    BLOCK = "block"
    SKIP = "skip"

    def __str__(self) -> str:
        return str(self.value)
