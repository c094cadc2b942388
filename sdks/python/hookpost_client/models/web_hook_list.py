from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.web_hook import WebHook


T = TypeVar("T", bound="WebHookList")


@_attrs_define
class WebHookList:
    """
    Attributes:
        web_hooks (list[WebHook]):
    """

    web_hooks: list[WebHook]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        web_hooks = []
        for web_hooks_item_data in self.web_hooks:
            web_hooks_item = web_hooks_item_data.to_dict()
            web_hooks.append(web_hooks_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "web_hooks": web_hooks,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.web_hook import WebHook  # noqa: PLC0415

        d = dict(src_dict)
        web_hooks = []
        _web_hooks = d.pop("web_hooks")
        for web_hooks_item_data in _web_hooks:
            web_hooks_item = WebHook.from_dict(web_hooks_item_data)

            web_hooks.append(web_hooks_item)

        web_hook_list = cls(
            web_hooks=web_hooks,
        )

        web_hook_list.additional_properties = d
        return web_hook_list

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
