from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.hook_input_format_type_1 import HookInputFormatType1
from ..models.hook_input_format_type_2_type_1 import HookInputFormatType2Type1
from ..models.hook_input_format_type_3_type_1 import HookInputFormatType3Type1
from ..models.hook_input_ordering_on_failure_type_0 import (
    HookInputOrderingOnFailureType0,
)
from ..models.hook_input_ordering_type_0 import HookInputOrderingType0
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.filter_all import FilterAll
    from ..models.filter_any import FilterAny
    from ..models.filter_condition import FilterCondition
    from ..models.filter_not import FilterNot
    from ..models.hook_input_headers import HookInputHeaders
    from ..models.rate_limit import RateLimit


T = TypeVar("T", bound="HookInput")


@_attrs_define
class HookInput:
    """
    Attributes:
        url (str): Absolute http(s) URL with a host, no credentials, at most 2 KiB; must resolve to public addresses
            unless HOOKPOST_ALLOW_PRIVATE_TARGETS is set. Example: https://example.com/hooks.
        events (list[str]): Event types the hook subscribes to; `*` subscribes to all. Example: ['ticket.created'].
        active (bool | Unset): Whether deliveries are made (default true).
        format_ (HookInputFormatType1 | HookInputFormatType2Type1 | HookInputFormatType3Type1 | None | Unset): The body
            deliveries carry. `hookpost`: id, event, timestamp, hook and payload, the same bytes on every attempt.
            `happyfox`: the same plus a top-level `uuid`, new for every request (retries and resends included), covered by
            the signature. `tiledesk`: Tiledesk's notification object `{"hook": {"_id", "target", "event", "id_project",
            "createdAt", "updatedAt"}, "timestamp", "payload"}`, with the hook's secret in `x-hook-secret`. Default:
            HookInputFormatType1.HOOKPOST.
        send_traceparent (bool | Unset): Send each attempt's W3C `traceparent` to the receiver. Default: False.
        description (str | Unset):
        filter_ (FilterAll | FilterAny | FilterCondition | FilterNot | None | Unset): Smart-rule filter over the event's
            data; `null` removes it.
        headers (HookInputHeaders | Unset): Static headers sent with every delivery (at most 10). Names may not be hop-
            by-hop headers nor start with `x-hook-` or `webhook-`; values at most 1024 characters.
        secret (str | Unset): Signing secret; generated (`whsec_…`) when absent. 16 to 256 printable ASCII characters.
        rate_limit (None | RateLimit | Unset): Requests per second across every worker; `null` removes it.
        max_in_flight (int | None | Unset): Requests in flight across every worker; `null`: HOOKPOST_HOOK_CONCURRENCY
            per worker.
        retry_schedule (list[str] | None | Unset): This hook's delays between attempts (1s to 7d each, at most 20);
            `null`: HOOKPOST_RETRY_SCHEDULE.
        ordering (HookInputOrderingType0 | None | Unset): Ordered delivery: a delivery for a key waits until the one
            before it is delivered or finally failed. `null` removes it.
        ordering_key (None | str | Unset): JSON path into the event's data; order holds per value, different values go
            in parallel. Absent: the whole hook is one queue. `null` removes it.
        ordering_on_failure (HookInputOrderingOnFailureType0 | None | Unset): After a delivery fails for good: skip goes
            on with the next; block holds the key until the delivery is resent and delivered, or skipped. `null` removes it.
    """

    url: str
    events: list[str]
    active: bool | Unset = UNSET
    format_: (
        HookInputFormatType1
        | HookInputFormatType2Type1
        | HookInputFormatType3Type1
        | None
        | Unset
    ) = HookInputFormatType1.HOOKPOST
    send_traceparent: bool | Unset = False
    description: str | Unset = UNSET
    filter_: FilterAll | FilterAny | FilterCondition | FilterNot | None | Unset = UNSET
    headers: HookInputHeaders | Unset = UNSET
    secret: str | Unset = UNSET
    rate_limit: None | RateLimit | Unset = UNSET
    max_in_flight: int | None | Unset = UNSET
    retry_schedule: list[str] | None | Unset = UNSET
    ordering: HookInputOrderingType0 | None | Unset = UNSET
    ordering_key: None | str | Unset = UNSET
    ordering_on_failure: HookInputOrderingOnFailureType0 | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.filter_all import FilterAll  # noqa: PLC0415
        from ..models.filter_any import FilterAny  # noqa: PLC0415
        from ..models.filter_condition import FilterCondition  # noqa: PLC0415
        from ..models.filter_not import FilterNot  # noqa: PLC0415
        from ..models.rate_limit import RateLimit  # noqa: PLC0415

        url = self.url

        events = self.events

        active = self.active

        format_: None | str | Unset
        if isinstance(self.format_, Unset):
            format_ = UNSET
        elif isinstance(self.format_, HookInputFormatType1):
            format_ = self.format_.value
        elif isinstance(self.format_, HookInputFormatType2Type1):
            format_ = self.format_.value
        elif isinstance(self.format_, HookInputFormatType3Type1):
            format_ = self.format_.value
        else:
            format_ = self.format_

        send_traceparent = self.send_traceparent

        description = self.description

        filter_: dict[str, Any] | None | Unset
        if isinstance(self.filter_, Unset):
            filter_ = UNSET
        elif isinstance(self.filter_, FilterCondition):
            filter_ = self.filter_.to_dict()
        elif isinstance(self.filter_, FilterAll):
            filter_ = self.filter_.to_dict()
        elif isinstance(self.filter_, FilterAny):
            filter_ = self.filter_.to_dict()
        elif isinstance(self.filter_, FilterNot):
            filter_ = self.filter_.to_dict()
        else:
            filter_ = self.filter_

        headers: dict[str, Any] | Unset = UNSET
        if not isinstance(self.headers, Unset):
            headers = self.headers.to_dict()

        secret = self.secret

        rate_limit: dict[str, Any] | None | Unset
        if isinstance(self.rate_limit, Unset):
            rate_limit = UNSET
        elif isinstance(self.rate_limit, RateLimit):
            rate_limit = self.rate_limit.to_dict()
        else:
            rate_limit = self.rate_limit

        max_in_flight: int | None | Unset
        if isinstance(self.max_in_flight, Unset):
            max_in_flight = UNSET
        else:
            max_in_flight = self.max_in_flight

        retry_schedule: list[str] | None | Unset
        if isinstance(self.retry_schedule, Unset):
            retry_schedule = UNSET
        elif isinstance(self.retry_schedule, list):
            retry_schedule = self.retry_schedule

        else:
            retry_schedule = self.retry_schedule

        ordering: None | str | Unset
        if isinstance(self.ordering, Unset):
            ordering = UNSET
        elif isinstance(self.ordering, HookInputOrderingType0):
            ordering = self.ordering.value
        else:
            ordering = self.ordering

        ordering_key: None | str | Unset
        if isinstance(self.ordering_key, Unset):
            ordering_key = UNSET
        else:
            ordering_key = self.ordering_key

        ordering_on_failure: None | str | Unset
        if isinstance(self.ordering_on_failure, Unset):
            ordering_on_failure = UNSET
        elif isinstance(self.ordering_on_failure, HookInputOrderingOnFailureType0):
            ordering_on_failure = self.ordering_on_failure.value
        else:
            ordering_on_failure = self.ordering_on_failure

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "url": url,
                "events": events,
            }
        )
        if active is not UNSET:
            field_dict["active"] = active
        if format_ is not UNSET:
            field_dict["format"] = format_
        if send_traceparent is not UNSET:
            field_dict["send_traceparent"] = send_traceparent
        if description is not UNSET:
            field_dict["description"] = description
        if filter_ is not UNSET:
            field_dict["filter"] = filter_
        if headers is not UNSET:
            field_dict["headers"] = headers
        if secret is not UNSET:
            field_dict["secret"] = secret
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
        from ..models.hook_input_headers import HookInputHeaders  # noqa: PLC0415
        from ..models.rate_limit import RateLimit  # noqa: PLC0415

        d = dict(src_dict)
        url = d.pop("url")

        events = cast(list[str], d.pop("events"))

        active = d.pop("active", UNSET)

        def _parse_format_(
            data: object,
        ) -> (
            HookInputFormatType1
            | HookInputFormatType2Type1
            | HookInputFormatType3Type1
            | None
            | Unset
        ):
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                format_type_1 = HookInputFormatType1(data)

                return format_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                format_type_2_type_1 = HookInputFormatType2Type1(data)

                return format_type_2_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, str):
                    raise TypeError()
                format_type_3_type_1 = HookInputFormatType3Type1(data)

                return format_type_3_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                HookInputFormatType1
                | HookInputFormatType2Type1
                | HookInputFormatType3Type1
                | None
                | Unset,
                data,
            )

        format_ = _parse_format_(d.pop("format", UNSET))

        send_traceparent = d.pop("send_traceparent", UNSET)

        description = d.pop("description", UNSET)

        def _parse_filter_(
            data: object,
        ) -> FilterAll | FilterAny | FilterCondition | FilterNot | None | Unset:
            if data is None:
                return data
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
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_filter_type_3 = FilterNot.from_dict(data)

                return componentsschemas_filter_type_3
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(
                FilterAll | FilterAny | FilterCondition | FilterNot | None | Unset, data
            )

        filter_ = _parse_filter_(d.pop("filter", UNSET))

        _headers = d.pop("headers", UNSET)
        headers: HookInputHeaders | Unset
        if isinstance(_headers, Unset):
            headers = UNSET
        else:
            headers = HookInputHeaders.from_dict(_headers)

        secret = d.pop("secret", UNSET)

        def _parse_rate_limit(data: object) -> None | RateLimit | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                rate_limit_type_0 = RateLimit.from_dict(data)

                return rate_limit_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RateLimit | Unset, data)

        rate_limit = _parse_rate_limit(d.pop("rate_limit", UNSET))

        def _parse_max_in_flight(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_in_flight = _parse_max_in_flight(d.pop("max_in_flight", UNSET))

        def _parse_retry_schedule(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                retry_schedule_type_0 = cast(list[str], data)

                return retry_schedule_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        retry_schedule = _parse_retry_schedule(d.pop("retry_schedule", UNSET))

        def _parse_ordering(data: object) -> HookInputOrderingType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                ordering_type_0 = HookInputOrderingType0(data)

                return ordering_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(HookInputOrderingType0 | None | Unset, data)

        ordering = _parse_ordering(d.pop("ordering", UNSET))

        def _parse_ordering_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ordering_key = _parse_ordering_key(d.pop("ordering_key", UNSET))

        def _parse_ordering_on_failure(
            data: object,
        ) -> HookInputOrderingOnFailureType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                ordering_on_failure_type_0 = HookInputOrderingOnFailureType0(data)

                return ordering_on_failure_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(HookInputOrderingOnFailureType0 | None | Unset, data)

        ordering_on_failure = _parse_ordering_on_failure(
            d.pop("ordering_on_failure", UNSET)
        )

        hook_input = cls(
            url=url,
            events=events,
            active=active,
            format_=format_,
            send_traceparent=send_traceparent,
            description=description,
            filter_=filter_,
            headers=headers,
            secret=secret,
            rate_limit=rate_limit,
            max_in_flight=max_in_flight,
            retry_schedule=retry_schedule,
            ordering=ordering,
            ordering_key=ordering_key,
            ordering_on_failure=ordering_on_failure,
        )

        return hook_input
