from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="WebHookTest")


@_attrs_define
class WebHookTest:
    """
    Attributes:
        action_type (str): The event type of the test delivery. Example: ticket.created.
        url (str): The URL that receives the test POST. Example: http://example.com.
    """

    action_type: str
    url: str

    def to_dict(self) -> dict[str, Any]:
        action_type = self.action_type

        url = self.url

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "action_type": action_type,
                "url": url,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        action_type = d.pop("action_type")

        url = d.pop("url")

        web_hook_test = cls(
            action_type=action_type,
            url=url,
        )

        return web_hook_test
