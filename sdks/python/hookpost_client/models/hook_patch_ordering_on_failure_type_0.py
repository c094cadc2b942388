from enum import StrEnum


class HookPatchOrderingOnFailureType0(StrEnum):
    BLOCK = "block"
    SKIP = "skip"

    def __str__(self) -> str:
        return str(self.value)
