from enum import StrEnum


class HookPatchFormatType3Type1(StrEnum):
    HAPPYFOX = "happyfox"
    HOOKPOST = "hookpost"
    TILEDESK = "tiledesk"

    def __str__(self) -> str:
        return str(self.value)
