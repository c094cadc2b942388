from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_type_scope import EventTypeScope

T = TypeVar("T", bound="EventType")


@_attrs_define
class EventType:
    """
    Attributes:
        name (str):  Example: ticket.created.
        scope (EventTypeScope): `global`: the operator's, seen by every tenant; `tenant`: the caller's own.
        description (str):
        schema (Any): A JSON Schema (draft 2020-12 unless `$schema` says otherwise) that every event's `data` of this
            type must match, or `null`.
        deprecated (bool):
        example (Any): A `data` made from the schema, for documentation.
        created_at (datetime.datetime):  Example: 2026-12-03T10:15:00.000Z.
        updated_at (datetime.datetime):  Example: 2026-12-03T10:15:00.000Z.
    """

    name: str
    scope: EventTypeScope
    description: str
    schema: Any
    deprecated: bool
    example: Any
    created_at: datetime.datetime
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        scope = self.scope.value

        description = self.description

        schema = self.schema

        deprecated = self.deprecated

        example = self.example

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "name": name,
                "scope": scope,
                "description": description,
                "schema": schema,
                "deprecated": deprecated,
                "example": example,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        scope = EventTypeScope(d.pop("scope"))

        description = d.pop("description")

        schema = d.pop("schema")

        deprecated = d.pop("deprecated")

        example = d.pop("example")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        event_type = cls(
            name=name,
            scope=scope,
            description=description,
            schema=schema,
            deprecated=deprecated,
            example=example,
            created_at=created_at,
            updated_at=updated_at,
        )

        event_type.additional_properties = d
        return event_type

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
