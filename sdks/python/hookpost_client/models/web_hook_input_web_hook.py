from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="WebHookInputWebHook")


@_attrs_define
class WebHookInputWebHook:
    """
    Attributes:
        url (str): One URL, or several separated by commas (one hook per URL). Example: http://example.com.
    """

    url: str

    def to_dict(self) -> dict[str, Any]:
        url = self.url

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "url": url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        url = d.pop("url")

        web_hook_input_web_hook = cls(
            url=url,
        )

        return web_hook_input_web_hook
