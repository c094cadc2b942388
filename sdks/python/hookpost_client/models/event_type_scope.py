from enum import StrEnum


class EventTypeScope(StrEnum):
    GLOBAL = "global"
    TENANT = "tenant"

    def __str__(self) -> str:
        return str(self.value)
