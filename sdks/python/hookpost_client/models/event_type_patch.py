from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="EventTypePatch")


@_attrs_define
class EventTypePatch:
    """
    Attributes:
        name (str | Unset): Only the type's own name: a type is not renamed.
        description (str | Unset):
        schema (Any | Unset): A JSON Schema for `data` (an object or a boolean, at most 64 KiB, with no `$ref` outside
            itself); `null` for none.
        deprecated (bool | Unset):
    """

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    schema: Any | Unset = UNSET
    deprecated: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        description = self.description

        schema = self.schema

        deprecated = self.deprecated

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if description is not UNSET:
            field_dict["description"] = description
        if schema is not UNSET:
            field_dict["schema"] = schema
        if deprecated is not UNSET:
            field_dict["deprecated"] = deprecated

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name", UNSET)

        description = d.pop("description", UNSET)

        schema = d.pop("schema", UNSET)

        deprecated = d.pop("deprecated", UNSET)

        event_type_patch = cls(
            name=name,
            description=description,
            schema=schema,
            deprecated=deprecated,
        )

        return event_type_patch
