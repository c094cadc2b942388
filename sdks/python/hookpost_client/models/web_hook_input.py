from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.web_hook_input_web_hook import WebHookInputWebHook


T = TypeVar("T", bound="WebHookInput")


@_attrs_define
class WebHookInput:
    """
    Attributes:
        web_hook (WebHookInputWebHook):
    """

    web_hook: WebHookInputWebHook

    def to_dict(self) -> dict[str, Any]:
        web_hook = self.web_hook.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "web_hook": web_hook,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.web_hook_input_web_hook import (
            WebHookInputWebHook,  # noqa: PLC0415
        )

        d = dict(src_dict)
        web_hook = WebHookInputWebHook.from_dict(d.pop("web_hook"))

        web_hook_input = cls(
            web_hook=web_hook,
        )

        return web_hook_input
