from enum import StrEnum


class HookFormat(StrEnum):
    HAPPYFOX = "happyfox"
    HOOKPOST = "hookpost"
    TILEDESK = "tiledesk"

    def __str__(self) -> str:
        return str(self.value)
