from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.hook_format import HookFormat
from ..models.hook_ordering import HookOrdering
from ..models.hook_ordering_on_failure import HookOrderingOnFailure
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.filter_all import FilterAll
    from ..models.filter_any import FilterAny
    from ..models.filter_condition import FilterCondition
    from ..models.filter_not import FilterNot
    from ..models.hook_headers import HookHeaders
    from ..models.rate_limit import RateLimit


T = TypeVar("T", bound="Hook")


@_attrs_define
class Hook:
    """
    Attributes:
        id (str):  Example: hook_2b9f.
        url (str):
        events (list[str]): Subscribed event types; `*` = all.
        active (bool):
        format_ (HookFormat): The body deliveries carry. `hookpost`: id, event, timestamp, hook and payload, the same
            bytes on every attempt. `happyfox`: the same plus a top-level `uuid`, new for every request (retries and resends
            included), covered by the signature. `tiledesk`: Tiledesk's notification object `{"hook": {"_id", "target",
            "event", "id_project", "createdAt", "updatedAt"}, "timestamp", "payload"}`, with the hook's secret in `x-hook-
            secret`. Default: HookFormat.HOOKPOST.
        created_at (datetime.datetime):
        updated_at (datetime.datetime):
        send_traceparent (bool | Unset): Send each attempt's W3C `traceparent` to the receiver. Default: False.
        description (str | Unset):
        filter_ (FilterAll | FilterAny | FilterCondition | FilterNot | Unset): A smart-rule filter: a condition, or a
            combination of filters.
        headers (HookHeaders | Unset): Static delivery headers; values are always masked as `********` on read.
        disabled_reason (str | Unset): why hookpost deactivated the hook: gone (the receiver answered 410) or failing
            (every attempt failed for HOOKPOST_DISABLE_AFTER)
        backlog (int | Unset): Only in GET /v1/hooks/{id}: deliveries waiting in the hook's backlog, put there while the
            hook was too slow to keep up; its drain sends them once it keeps up again.
        secret (str | Unset): Only in the create response and the rotate-secret response.
        previous_secret_expires_at (datetime.datetime | Unset): When the previous secret stops signing; present during a
            rotation's grace period.
        disabled_at (str | Unset): RFC 3339: when hookpost deactivated the hook
        rate_limit (RateLimit | Unset): Enforced across every worker together (one limiter in Redis). A delivery over
            the limit waits (deferred; not an attempt, the retry schedule is untouched).
        max_in_flight (int | Unset): Requests in flight to this hook across every worker; absent:
            HOOKPOST_HOOK_CONCURRENCY per worker.
        retry_schedule (list[str] | Unset): Delays between attempts (1s to 7d each, at most 20), instead of
            HOOKPOST_RETRY_SCHEDULE; [] means no retries. Example: ['5m', '30m', '2h'].
        ordering (HookOrdering | Unset): Ordered delivery: a delivery for a key waits until the one before it is
            delivered or finally failed.
        ordering_key (str | Unset): JSON path into the event's data; order holds per value, different values go in
            parallel. Absent: the whole hook is one queue. Example: $.ticket.id.
        ordering_on_failure (HookOrderingOnFailure | Unset): After a delivery fails for good: skip goes on with the
            next; block holds the key until the delivery is resent and delivered, or skipped. Default:
            HookOrderingOnFailure.SKIP.
    """

    id: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime
    format_: HookFormat = HookFormat.HOOKPOST
    send_traceparent: bool | Unset = False
    description: str | Unset = UNSET
    filter_: FilterAll | FilterAny | FilterCondition | FilterNot | Unset = UNSET
    headers: HookHeaders | Unset = UNSET
    disabled_reason: str | Unset = UNSET
    backlog: int | Unset = UNSET
    secret: str | Unset = UNSET
    previous_secret_expires_at: datetime.datetime | Unset = UNSET
    disabled_at: str | Unset = UNSET
    rate_limit: RateLimit | Unset = UNSET
    max_in_flight: int | Unset = UNSET
    retry_schedule: list[str] | Unset = UNSET
    ordering: HookOrdering | Unset = UNSET
    ordering_key: str | Unset = UNSET
    ordering_on_failure: HookOrderingOnFailure | Unset = HookOrderingOnFailure.SKIP
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.filter_all import FilterAll  # noqa: PLC0415
        from ..models.filter_any import FilterAny  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415

        id = self.id

        url = self.url

        events = self.events

        active = self.active

        format_ = self.format_.value

        created_at = self.created_at.isoformat()

        updated_at = self.updated_at.isoformat()

        send_traceparent = self.send_traceparent

        description = self.description

        filter_: dict[str, Any] | Unset
        if isinstance(self.filter_, Unset):
            filter_ = UNSET
        elif isinstance(self.filter_, FilterCondition):
            filter_ = self.filter_.to_dict()
        elif isinstance(self.filter_, FilterAll):
            filter_ = self.filter_.to_dict()
        elif isinstance(self.filter_, FilterAny):
            filter_ = self.filter_.to_dict()
        else:
            filter_ = self.filter_.to_dict()

        headers: dict[str, Any] | Unset = UNSET
        if not isinstance(self.headers, Unset):
            headers = self.headers.to_dict()

        disabled_reason = self.disabled_reason

        backlog = self.backlog

        secret = self.secret

        previous_secret_expires_at: str | Unset = UNSET
        if not isinstance(self.previous_secret_expires_at, Unset):
            previous_secret_expires_at = self.previous_secret_expires_at.isoformat()

        disabled_at = self.disabled_at

        rate_limit: dict[str, Any] | Unset = UNSET
        if not isinstance(self.rate_limit, Unset):
            rate_limit = self.rate_limit.to_dict()

        max_in_flight = self.max_in_flight

        retry_schedule: list[str] | Unset = UNSET
        if not isinstance(self.retry_schedule, Unset):
            retry_schedule = self.retry_schedule

        ordering: str | Unset = UNSET
        if not isinstance(self.ordering, Unset):
            ordering = self.ordering.value

        ordering_key = self.ordering_key

        ordering_on_failure: str | Unset = UNSET
        if not isinstance(self.ordering_on_failure, Unset):
            ordering_on_failure = self.ordering_on_failure.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "url": url,
                "events": events,
                "active": active,
                "format": format_,
                "created_at": created_at,
                "updated_at": updated_at,
            }
        )
        if send_traceparent is not UNSET:
            field_dict["send_traceparent"] = send_traceparent
        if description is not UNSET:
            field_dict["description"] = description
        if filter_ is not UNSET:
            field_dict["filter"] = filter_
        if headers is not UNSET:
            field_dict["headers"] = headers
        if disabled_reason is not UNSET:
            field_dict["disabled_reason"] = disabled_reason
        if backlog is not UNSET:
            field_dict["backlog"] = backlog
        if secret is not UNSET:
            field_dict["secret"] = secret
        if previous_secret_expires_at is not UNSET:
            field_dict["previous_secret_expires_at"] = previous_secret_expires_at
        if disabled_at is not UNSET:
            field_dict["disabled_at"] = disabled_at
        if rate_limit is not UNSET:
            field_dict["rate_limit"] = rate_limit
        if max_in_flight is not UNSET:
            field_dict["max_in_flight"] = max_in_flight
        if retry_schedule is not UNSET:
            field_dict["retry_schedule"] = retry_schedule
        if ordering is not UNSET:
            field_dict["ordering"] = ordering
        if ordering_key is not UNSET:
            field_dict["ordering_key"] = ordering_key
        if ordering_on_failure is not UNSET:
            field_dict["ordering_on_failure"] = ordering_on_failure

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.filter_all import FilterAll  # noqa: PLC0415
        from ..models.filter_any import FilterAny  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415
        from ..models.filter_not import FilterNot  # noqa: PLC0415
        from ..models.hook_headers import HookHeaders  # noqa: PLC0415
        from ..models.rate_limit import RateLimit  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        url = d.pop("url")

        events = cast(list[str], d.pop("events"))

        active = d.pop("active")

        format_ = HookFormat(d.pop("format"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        send_traceparent = d.pop("send_traceparent", UNSET)

        description = d.pop("description", UNSET)

        def _parse_filter_(
            data: object,
        ) -> FilterAll | FilterAny | FilterCondition | FilterNot | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_filter_type_0 = FilterCondition.from_dict(data)

                return componentsschemas_filter_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_filter_type_1 = FilterAll.from_dict(data)

                return componentsschemas_filter_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_filter_type_2 = FilterAny.from_dict(data)

                return componentsschemas_filter_type_2
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            componentsschemas_filter_type_3 = FilterNot.from_dict(data)

            return componentsschemas_filter_type_3

        filter_ = _parse_filter_(d.pop("filter", UNSET))

        _headers = d.pop("headers", UNSET)
        headers: HookHeaders | Unset
        if isinstance(_headers, Unset):
            headers = UNSET
        else:
            headers = HookHeaders.from_dict(_headers)

        disabled_reason = d.pop("disabled_reason", UNSET)

        backlog = d.pop("backlog", UNSET)

        secret = d.pop("secret", UNSET)

        _previous_secret_expires_at = d.pop("previous_secret_expires_at", UNSET)
        previous_secret_expires_at: datetime.datetime | Unset
        if isinstance(_previous_secret_expires_at, Unset):
            previous_secret_expires_at = UNSET
        else:
            previous_secret_expires_at = datetime.datetime.fromisoformat(
                _previous_secret_expires_at
            )

        disabled_at = d.pop("disabled_at", UNSET)

        _rate_limit = d.pop("rate_limit", UNSET)
        rate_limit: RateLimit | Unset
        if isinstance(_rate_limit, Unset):
            rate_limit = UNSET
        else:
            rate_limit = RateLimit.from_dict(_rate_limit)

        max_in_flight = d.pop("max_in_flight", UNSET)

        retry_schedule = cast(list[str], d.pop("retry_schedule", UNSET))

        _ordering = d.pop("ordering", UNSET)
        ordering: HookOrdering | Unset
        if isinstance(_ordering, Unset):
            ordering = UNSET
        else:
            ordering = HookOrdering(_ordering)

        ordering_key = d.pop("ordering_key", UNSET)

        _ordering_on_failure = d.pop("ordering_on_failure", UNSET)
        ordering_on_failure: HookOrderingOnFailure | Unset
        if isinstance(_ordering_on_failure, Unset):
            ordering_on_failure = UNSET
        else:
            ordering_on_failure = HookOrderingOnFailure(_ordering_on_failure)

        hook = cls(
            id=id,
            url=url,
            events=events,
            active=active,
            format_=format_,
            created_at=created_at,
            updated_at=updated_at,
            send_traceparent=send_traceparent,
            description=description,
            filter_=filter_,
            headers=headers,
            disabled_reason=disabled_reason,
            backlog=backlog,
            secret=secret,
            previous_secret_expires_at=previous_secret_expires_at,
            disabled_at=disabled_at,
            rate_limit=rate_limit,
            max_in_flight=max_in_flight,
            retry_schedule=retry_schedule,
            ordering=ordering,
            ordering_key=ordering_key,
            ordering_on_failure=ordering_on_failure,
        )

        hook.additional_properties = d
        return hook

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
