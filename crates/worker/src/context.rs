//! What one attempt works on: the event, the delivery, the hook.

use hookpost_core::task::{AttemptTask, Task};
use hookpost_store::events::StoredEvent;
use hookpost_store::log::Kept;
use hookpost_store::retries::Due;

use hookpost_delivery::ReadyHook;

/// An event with everything needed to build its deliveries' bodies.
#[derive(Clone, Copy)]
pub(crate) struct EventParts<'a> {
    pub tenant: &'a str,
    pub id: &'a str,
    pub kind: &'a str,
    pub data: &'a str,
    pub received_at: i64,
    pub occurred_at: Option<&'a str>,
    /// `data` parsed, when a subscribed hook needed it (a filter, an ordering key).
    pub payload: Option<&'a serde_json::Value>,
    /// The W3C trace context the event came with: its attempts' spans join that trace.
    pub traceparent: Option<&'a str>,
    /// Its tenant has an ordered hook (known once its hooks are read): its ordering keys
    /// may read its state once it is done, so that state is kept.
    pub ordered_tenant: bool,
}

impl<'a> EventParts<'a> {
    pub fn of(e: &'a StoredEvent) -> Self {
        EventParts {
            tenant: &e.tenant,
            id: &e.id,
            kind: &e.kind,
            data: &e.data,
            received_at: e.received_at,
            occurred_at: e.occurred_at.as_deref(),
            payload: None,
            traceparent: e.traceparent.as_deref(),
            ordered_tenant: false,
        }
    }

    /// The event as Redis keeps it for its deliveries that wait.
    pub fn kept(&self) -> Kept<'a> {
        Kept {
            kind: self.kind,
            data: self.data,
            received_at: self.received_at,
            occurred_at: self.occurred_at,
            traceparent: self.traceparent,
        }
    }
}

/// One delivery (event × hook) as its log record names it.
#[derive(Debug)]
pub(crate) struct DeliveryRef {
    pub id: String,
    pub hook_id: String,
    /// The body's `hook` object, kept so that every attempt sends the same body.
    pub hook_json: String,
}

/// One attempt of one delivery: what the ordering, the gate and the attempter share.
pub(crate) struct AttemptCtx<'a> {
    pub ev: &'a EventParts<'a>,
    pub hook: &'a ReadyHook,
    pub delivery: DeliveryRef,
    /// The attempt's number (1: the first).
    pub n: u32,
    /// A resend: made even if the delivery ended meanwhile.
    pub resend: bool,
}

impl AttemptCtx<'_> {
    /// The task of this delivery's attempt `n`, due at `at_ms`.
    pub fn task(&self, n: u32, at_ms: i64) -> Due {
        attempt_task(self.ev, &self.delivery.hook_id, &self.delivery.id, n, at_ms)
    }
}

/// The task of a delivery's attempt `n`, due at `at_ms`.
pub(crate) fn attempt_task(
    ev: &EventParts<'_>,
    hook_id: &str,
    id: &str,
    n: u32,
    at_ms: i64,
) -> Due {
    Due {
        at_ms,
        task: Task::Attempt(AttemptTask {
            tenant: ev.tenant.to_owned(),
            event_id: ev.id.to_owned(),
            hook_id: hook_id.to_owned(),
            delivery_id: id.to_owned(),
            attempt: n,
            resend: false,
        }),
    }
}
