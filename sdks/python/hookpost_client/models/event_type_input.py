from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.event_type_input_schema_type_0 import EventTypeInputSchemaType0


T = TypeVar("T", bound="EventTypeInput")


@_attrs_define
class EventTypeInput:
    """
    Attributes:
        name (str):  Example: invoice.paid.
        description (str | Unset):
        schema (bool | EventTypeInputSchemaType0 | None | Unset): A JSON Schema for `data` (an object or a boolean, at
            most 64 KiB, with no `$ref` outside itself); `null` for none.
        deprecated (bool | Unset):
    """

    name: str
    description: str | Unset = UNSET
    schema: bool | EventTypeInputSchemaType0 | None | Unset = UNSET
    deprecated: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.event_type_input_schema_type_0 import (
            EventTypeInputSchemaType0,  # noqa: PLC0415
        )

        name = self.name

        description = self.description

        schema: bool | dict[str, Any] | None | Unset
        if isinstance(self.schema, Unset):
            schema = UNSET
        elif isinstance(self.schema, EventTypeInputSchemaType0):
            schema = self.schema.to_dict()
        else:
            schema = self.schema

        deprecated = self.deprecated

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if schema is not UNSET:
            field_dict["schema"] = schema
        if deprecated is not UNSET:
            field_dict["deprecated"] = deprecated

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_type_input_schema_type_0 import (
            EventTypeInputSchemaType0,  # noqa: PLC0415
        )

        d = dict(src_dict)
        name = d.pop("name")

        description = d.pop("description", UNSET)

        def _parse_schema(
            data: object,
        ) -> bool | EventTypeInputSchemaType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                schema_type_0 = EventTypeInputSchemaType0.from_dict(data)

                return schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(bool | EventTypeInputSchemaType0 | None | Unset, data)

        schema = _parse_schema(d.pop("schema", UNSET))

        deprecated = d.pop("deprecated", UNSET)

        event_type_input = cls(
            name=name,
            description=description,
            schema=schema,
            deprecated=deprecated,
        )

        return event_type_input
