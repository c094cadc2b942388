from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="AttemptSignatures")


@_attrs_define
class AttemptSignatures:
    """The signature headers the request went out with, by header name, as sent; absent when the request never left
    (refused by policy) or was made before the log kept them. `webhook-id` and `X-Hook-Id` are the delivery id.

        Attributes:
            x_hook_signature (str):  Example: sha1=5d4b0c....
            webhook_timestamp (int): unix seconds
            webhook_signature (str):  Example: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=.
            x_hook_signature_previous (str | Unset): while a rotated-out secret still signs
    """

    x_hook_signature: str
    webhook_timestamp: int
    webhook_signature: str
    x_hook_signature_previous: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        x_hook_signature = self.x_hook_signature

        webhook_timestamp = self.webhook_timestamp

        webhook_signature = self.webhook_signature

        x_hook_signature_previous = self.x_hook_signature_previous

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "X-Hook-Signature": x_hook_signature,
                "webhook-timestamp": webhook_timestamp,
                "webhook-signature": webhook_signature,
            }
        )
        if x_hook_signature_previous is not UNSET:
            field_dict["X-Hook-Signature-Previous"] = x_hook_signature_previous

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        x_hook_signature = d.pop("X-Hook-Signature")

        webhook_timestamp = d.pop("webhook-timestamp")

        webhook_signature = d.pop("webhook-signature")

        x_hook_signature_previous = d.pop("X-Hook-Signature-Previous", UNSET)

        attempt_signatures = cls(
            x_hook_signature=x_hook_signature,
            webhook_timestamp=webhook_timestamp,
            webhook_signature=webhook_signature,
            x_hook_signature_previous=x_hook_signature_previous,
        )

        attempt_signatures.additional_properties = d
        return attempt_signatures

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
