from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.event_type_patch_schema_type_0 import EventTypePatchSchemaType0


T = TypeVar("T", bound="EventTypePatch")


@_attrs_define
class EventTypePatch:
    """
    Attributes:
        description (str | Unset):
        schema (bool | EventTypePatchSchemaType0 | None | Unset): A JSON Schema for `data` (an object or a boolean, at
            most 64 KiB, with no `$ref` outside itself); `null` for none.
        deprecated (bool | Unset):
    """

    description: str | Unset = UNSET
    schema: bool | EventTypePatchSchemaType0 | None | Unset = UNSET
    deprecated: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.event_type_patch_schema_type_0 import (
            EventTypePatchSchemaType0,  # noqa: PLC0415
        )

        description = self.description

        schema: bool | dict[str, Any] | None | Unset
        if isinstance(self.schema, Unset):
            schema = UNSET
        elif isinstance(self.schema, EventTypePatchSchemaType0):
            schema = self.schema.to_dict()
        else:
            schema = self.schema

        deprecated = self.deprecated

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if description is not UNSET:
            field_dict["description"] = description
        if schema is not UNSET:
            field_dict["schema"] = schema
        if deprecated is not UNSET:
            field_dict["deprecated"] = deprecated

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_type_patch_schema_type_0 import (
            EventTypePatchSchemaType0,  # noqa: PLC0415
        )

        d = dict(src_dict)
        description = d.pop("description", UNSET)

        def _parse_schema(
            data: object,
        ) -> bool | EventTypePatchSchemaType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                schema_type_0 = EventTypePatchSchemaType0.from_dict(data)

                return schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(bool | EventTypePatchSchemaType0 | None | Unset, data)

        schema = _parse_schema(d.pop("schema", UNSET))

        deprecated = d.pop("deprecated", UNSET)

        event_type_patch = cls(
            description=description,
            schema=schema,
            deprecated=deprecated,
        )

        return event_type_patch
