from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="RotateSecretInput")


@_attrs_define
class RotateSecretInput:
    """
    Attributes:
        secret (str | Unset): The new secret; generated when absent. 16 to 256 printable ASCII characters.
    """

    secret: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        secret = self.secret

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if secret is not UNSET:
            field_dict["secret"] = secret

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        secret = d.pop("secret", UNSET)

        rotate_secret_input = cls(
            secret=secret,
        )

        return rotate_secret_input
