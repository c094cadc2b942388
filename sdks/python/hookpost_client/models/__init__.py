"""Contains all the data models used in inputs/outputs"""

from .attempt import Attempt
from .attempt_outcome import AttemptOutcome
from .attempt_signatures import AttemptSignatures
from .audit_entry import AuditEntry
from .audit_list import AuditList
from .batch_accepted import BatchAccepted
from .delivery import Delivery
from .delivery_list import DeliveryList
from .delivery_summary import DeliverySummary
from .delivery_summary_status import DeliverySummaryStatus
from .error import Error
from .error_error import ErrorError
from .event import Event
from .event_accepted import EventAccepted
from .event_data import EventData
from .event_type import EventType
from .event_type_input import EventTypeInput
from .event_type_input_schema_type_0 import EventTypeInputSchemaType0
from .event_type_list import EventTypeList
from .event_type_patch import EventTypePatch
from .event_type_patch_schema_type_0 import EventTypePatchSchemaType0
from .event_type_scope import EventTypeScope
from .event_with_deliveries import EventWithDeliveries
from .event_with_deliveries_event import EventWithDeliveriesEvent
from .event_with_deliveries_event_data import EventWithDeliveriesEventData
from .filter_all import FilterAll
from .filter_any import FilterAny
from .filter_condition import FilterCondition
from .filter_condition_op import FilterConditionOp
from .filter_not import FilterNot
from .get_open_api_response_200 import GetOpenApiResponse200
from .get_retry_stats_response_200 import GetRetryStatsResponse200
from .hook import Hook
from .hook_format import HookFormat
from .hook_headers import HookHeaders
from .hook_input import HookInput
from .hook_input_format_type_1 import HookInputFormatType1
from .hook_input_format_type_2_type_1 import HookInputFormatType2Type1
from .hook_input_format_type_3_type_1 import HookInputFormatType3Type1
from .hook_input_headers import HookInputHeaders
from .hook_input_ordering_on_failure_type_0 import HookInputOrderingOnFailureType0
from .hook_input_ordering_type_0 import HookInputOrderingType0
from .hook_list import HookList
from .hook_ordering import HookOrdering
from .hook_ordering_on_failure import HookOrderingOnFailure
from .hook_patch import HookPatch
from .hook_patch_format_type_1 import HookPatchFormatType1
from .hook_patch_format_type_2_type_1 import HookPatchFormatType2Type1
from .hook_patch_format_type_3_type_1 import HookPatchFormatType3Type1
from .hook_patch_headers import HookPatchHeaders
from .hook_patch_ordering_on_failure_type_0 import HookPatchOrderingOnFailureType0
from .hook_patch_ordering_type_0 import HookPatchOrderingType0
from .hook_secret import HookSecret
from .hook_test_input import HookTestInput
from .intake_limit import IntakeLimit
from .key_created import KeyCreated
from .key_info import KeyInfo
from .key_list import KeyList
from .list_deliveries_status import ListDeliveriesStatus
from .portal_link import PortalLink
from .portal_link_input import PortalLinkInput
from .rate_limit import RateLimit
from .ready import Ready
from .ready_problems import ReadyProblems
from .resend_delivery_response_202 import ResendDeliveryResponse202
from .resend_failed_deliveries_body import ResendFailedDeliveriesBody
from .resend_failed_deliveries_response_202 import ResendFailedDeliveriesResponse202
from .rotate_secret_input import RotateSecretInput
from .skip_delivery_response_200 import SkipDeliveryResponse200
from .subscription import Subscription
from .subscription_input import SubscriptionInput
from .tenant import Tenant
from .tenant_input import TenantInput
from .tenant_list import TenantList
from .tenant_patch import TenantPatch
from .test_result import TestResult
from .test_result_outcome import TestResultOutcome
from .web_hook import WebHook
from .web_hook_envelope import WebHookEnvelope
from .web_hook_input import WebHookInput
from .web_hook_input_web_hook import WebHookInputWebHook
from .web_hook_list import WebHookList
from .web_hook_test import WebHookTest

__all__ = (
    "Attempt",
    "AttemptOutcome",
    "AttemptSignatures",
    "AuditEntry",
    "AuditList",
    "BatchAccepted",
    "Delivery",
    "DeliveryList",
    "DeliverySummary",
    "DeliverySummaryStatus",
    "Error",
    "ErrorError",
    "Event",
    "EventAccepted",
    "EventData",
    "EventType",
    "EventTypeInput",
    "EventTypeInputSchemaType0",
    "EventTypeList",
    "EventTypePatch",
    "EventTypePatchSchemaType0",
    "EventTypeScope",
    "EventWithDeliveries",
    "EventWithDeliveriesEvent",
    "EventWithDeliveriesEventData",
    "FilterAll",
    "FilterAny",
    "FilterCondition",
    "FilterConditionOp",
    "FilterNot",
    "GetOpenApiResponse200",
    "GetRetryStatsResponse200",
    "Hook",
    "HookFormat",
    "HookHeaders",
    "HookInput",
    "HookInputFormatType1",
    "HookInputFormatType2Type1",
    "HookInputFormatType3Type1",
    "HookInputHeaders",
    "HookInputOrderingOnFailureType0",
    "HookInputOrderingType0",
    "HookList",
    "HookOrdering",
    "HookOrderingOnFailure",
    "HookPatch",
    "HookPatchFormatType1",
    "HookPatchFormatType2Type1",
    "HookPatchFormatType3Type1",
    "HookPatchHeaders",
    "HookPatchOrderingOnFailureType0",
    "HookPatchOrderingType0",
    "HookSecret",
    "HookTestInput",
    "IntakeLimit",
    "KeyCreated",
    "KeyInfo",
    "KeyList",
    "ListDeliveriesStatus",
    "PortalLink",
    "PortalLinkInput",
    "RateLimit",
    "Ready",
    "ReadyProblems",
    "ResendDeliveryResponse202",
    "ResendFailedDeliveriesBody",
    "ResendFailedDeliveriesResponse202",
    "RotateSecretInput",
    "SkipDeliveryResponse200",
    "Subscription",
    "SubscriptionInput",
    "Tenant",
    "TenantInput",
    "TenantList",
    "TenantPatch",
    "TestResult",
    "TestResultOutcome",
    "WebHook",
    "WebHookEnvelope",
    "WebHookInput",
    "WebHookInputWebHook",
    "WebHookList",
    "WebHookTest",
)
