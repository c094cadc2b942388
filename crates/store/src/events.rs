//! Claiming an event for processing.
//!
//! The first worker to see an event stores it (all but its payload, which the message
//! carries: see [`Store::keep_payload`]) and holds a lease on it, renewed while it
//! works; the event is `done` once every delivery's outcome is recorded. A duplicate
//! (a producer's, or RabbitMQ's redelivery after a cut connection) finds it `done`
//! (dropped) or leased (`Busy`: looked at again when the lease ends); once the lease
//! has run out (its holder died), the next one takes over and redoes only what the log
//! does not show as decided.

use std::time::Duration;

use hookpost_core::Event;

use crate::{corrupt, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First sight: process every delivery.
    New,
    /// The holder's lease ran out: process what is not yet decided.
    TakeOver,
    /// Another worker holds it now: look again when its lease ends.
    Busy,
    /// Already processed: a duplicate.
    Done,
    /// The event names a tenant that does not exist.
    UnknownTenant,
}

impl Claim {
    pub fn as_str(self) -> &'static str {
        match self {
            Claim::New => "new",
            Claim::TakeOver => "takeover",
            Claim::Busy => "busy",
            Claim::Done => "duplicate",
            Claim::UnknownTenant => "unknown_tenant",
        }
    }
}

/// An event as stored.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub tenant: String,
    pub kind: String,
    pub data: String,
    pub received_at: i64,
    pub occurred_at: Option<String>,
    pub state: String,
    /// The W3C trace context it arrived with, for the spans of its retries.
    pub traceparent: Option<String>,
}

/// `type`, `data`, `received_at`, `occurred_at`, `state`, `traceparent` of a stored event.
type EventFields = (
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Claims `event`, leasing it for `lease_ms` on Redis's clock; returns the claim and
    /// the tenant's hooks version. `received_at` becomes the event's receive time on
    /// first sight (the body's `timestamp`). Its payload is not stored.
    pub async fn claim_event(
        &self,
        event: &Event,
        lease_ms: u64,
        received_at: i64,
    ) -> Result<(Claim, u64)> {
        let t = &event.tenant;
        let (state, version): (String, u64) = self
            .scripts
            .claim_event
            .key(self.keys.tenant(t))
            .key(self.keys.event(t, &event.id))
            .key(self.keys.hooks_version(t))
            .arg(received_at)
            .arg(lease_ms)
            .arg(self.retention_secs)
            .arg(&event.kind)
            .arg(event.occurred_at.as_deref().unwrap_or(""))
            .arg(event.traceparent.as_deref().unwrap_or(""))
            .invoke_async(&mut self.conn())
            .await?;
        let claim = match state.as_str() {
            "new" => Claim::New,
            "takeover" => Claim::TakeOver,
            "busy" => Claim::Busy,
            "done" => Claim::Done,
            "unknown_tenant" => Claim::UnknownTenant,
            other => return Err(corrupt("claim answer", other)),
        };
        Ok((claim, version))
    }

    /// Stores the payload of an event another handler holds (the claim stores none), for
    /// the resume task of a duplicate told [`Claim::Busy`]; nothing when it is done.
    pub async fn keep_payload(&self, event: &Event) -> Result<()> {
        let _: i64 = self
            .scripts
            .event_keep_payload
            .key(self.keys.event(&event.tenant, &event.id))
            .arg(event.data.get())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// How long a stored event's lease has left (zero when none, or run out).
    pub async fn event_lease_left(&self, tenant: &str, event_id: &str) -> Result<Duration> {
        let left: u64 = self
            .scripts
            .event_lease_left
            .key(self.keys.event(tenant, event_id))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(Duration::from_millis(left))
    }

    /// Leases an event still being processed for `lease` from now on Redis's clock
    /// (zero releases it); `false` when the event is done or gone.
    pub async fn set_event_lease(
        &self,
        tenant: &str,
        event_id: &str,
        lease: Duration,
    ) -> Result<bool> {
        let set: i64 = self
            .scripts
            .event_lease
            .key(self.keys.event(tenant, event_id))
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(set == 1)
    }

    /// A stored event with its payload; `None` when Redis keeps no payload for it (none
    /// waits for it, or it is gone): PostgreSQL has it once its outcomes are logged.
    pub async fn event(&self, tenant: &str, event_id: &str) -> Result<Option<StoredEvent>> {
        Ok(self.claimed(tenant, event_id).await?.0)
    }

    /// A claimed event as Redis holds it, in one read: the whole event when its payload
    /// is kept ([`Store::event`]), and its receive time (the body's `timestamp`, kept for
    /// its take-overs) either way.
    pub async fn claimed(
        &self,
        tenant: &str,
        event_id: &str,
    ) -> Result<(Option<StoredEvent>, Option<i64>)> {
        let fields: EventFields = redis::cmd("HMGET")
            .arg(self.keys.event(tenant, event_id))
            .arg(&[
                "type",
                "data",
                "received_at",
                "occurred_at",
                "state",
                "traceparent",
            ])
            .query_async(&mut self.conn())
            .await?;
        let (Some(kind), Some(data), Some(received_at), occurred_at, state, traceparent) = fields
        else {
            return Ok((None, fields.2));
        };
        let event = StoredEvent {
            id: event_id.to_owned(),
            tenant: tenant.to_owned(),
            kind,
            data,
            received_at,
            occurred_at: occurred_at.filter(|s| !s.is_empty()),
            state: state.unwrap_or_default(),
            traceparent: traceparent.filter(|s| !s.is_empty()),
        };
        Ok((Some(event), Some(received_at)))
    }
}
