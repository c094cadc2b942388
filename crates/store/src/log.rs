//! Each delivery's hot state (event × hook): its status, attempt count and the body's
//! hook snapshot, for the next attempt, ordering, take-overs and the failing streak. The
//! log's truth is in PostgreSQL (hookpost-db); these keys expire after the retention.

use hookpost_core::outcome::Attempt;
use redis::AsyncCommands;
use serde::Serialize;

use crate::durable::Durable;
use crate::{Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not attempted yet (waiting for a slot at its hook).
    Pending,
    /// Failed; the next attempt is in the retry set.
    Retrying,
    Delivered,
    /// Failed after the whole schedule.
    Failed,
    /// Dropped because its hook was deleted or deactivated.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Retrying => "retrying",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "retrying" => Status::Retrying,
            "delivered" => Status::Delivered,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Whether the delivery ended (no attempt will follow unless resent).
    pub fn is_final(self) -> bool {
        matches!(self, Status::Delivered | Status::Failed | Status::Cancelled)
    }
}

/// What [`Store::record`] wrote: the proof, and the hooks whose attempts have all
/// failed for longer than the span.
#[derive(Debug)]
pub struct Recorded {
    pub durable: Durable,
    pub failing: Vec<String>,
}

/// One delivery's new state, and the attempt that led to it if any.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub delivery_id: &'a str,
    pub hook_id: &'a str,
    pub kind: &'a str,
    /// The body's `hook` object, kept so every attempt sends the same body.
    pub hook_json: &'a str,
    pub status: Status,
    /// When the next attempt is due (ms), for `retrying` and `pending`.
    pub next_at: Option<i64>,
    pub attempt: Option<&'a Attempt>,
    /// Failed, and its ordered hook holds the key until it is resent or skipped.
    pub blocking: bool,
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub hook_id: String,
    #[serde(rename = "event")]
    pub kind: String,
    pub status: Status,
    /// Attempts made so far.
    pub attempt_count: u32,
    #[serde(with = "hookpost_core::timestamp")]
    pub created_at: i64,
    #[serde(with = "hookpost_core::timestamp")]
    pub updated_at: i64,
    #[serde(with = "hookpost_core::timestamp::option")]
    pub next_attempt_at: Option<i64>,
    #[serde(skip)]
    pub hook_json: String,
    /// Failed for good, and its ordered hook holds the key until it is resent or skipped.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blocking: bool,
    pub attempts: Vec<Attempt>,
}

/// One hook's deliveries over a span of the log ([`Store::hook_activity`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookActivity {
    pub attempts: u64,
    pub failed_attempts: u64,
    /// The newest delivery's status and when it last changed (ms).
    pub last: Option<(Status, i64)>,
}

/// What recording an event's deliveries does to the event itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMark<'a> {
    /// Nothing.
    Keep,
    /// Processed: a duplicate of it is not delivered again. Redis keeps its payload,
    /// given here (the claim stores none), for the deliveries that go on.
    Done(&'a str),
    /// Processed, and every delivery of it ended delivered or cancelled in this record:
    /// nothing waits to read its payload or their hot state, so Redis keeps neither
    /// (PostgreSQL has both, for a resend), only the mark that tells a duplicate apart.
    DoneAndSlim,
}

/// The fields of a claimed event that only its processing reads: a delivered event's
/// hash lets them go and keeps its `state`.
const EVENT_PAYLOAD: [&str; 6] = [
    "data",
    "traceparent",
    "lease",
    "type",
    "received_at",
    "occurred_at",
];

impl<'a> EventMark<'a> {
    /// record.lua's `mark` and `payload` arguments.
    fn args(self) -> (&'static str, &'a str) {
        match self {
            EventMark::Keep => ("0", ""),
            EventMark::Done(payload) => ("1", payload),
            EventMark::DoneAndSlim => ("1", ""),
        }
    }
}

impl Store {
    /// Records deliveries of one event, atomically, and marks the event as `mark` says.
    /// Call only after everything these records promise is durable (their log records,
    /// and the retries and backlog entries they wait for).
    pub async fn record(
        &self,
        tenant: &str,
        event_id: &str,
        records: &[Record<'_>],
        mark: EventMark<'_>,
        failing_span_ms: i64,
    ) -> Result<Recorded> {
        if mark == EventMark::DoneAndSlim {
            return self.record_delivered(tenant, event_id, records).await;
        }
        let mut inv = self.scripts.record.prepare_invoke();
        inv.key(self.keys.event(tenant, event_id))
            .key(self.keys.hook_failing(tenant));
        let (mark, payload) = mark.args();
        inv.arg(mark)
            .arg(self.retention_secs)
            .arg(failing_span_ms)
            .arg(payload);
        for r in records {
            inv.key(self.keys.delivery(tenant, r.delivery_id));
            inv.arg(r.hook_id)
                .arg(r.status.as_str())
                .arg(r.hook_json)
                .arg(r.attempt.map(|a| a.attempt).unwrap_or(0))
                .arg(if r.attempt.is_some_and(|a| a.delivered()) {
                    "1"
                } else {
                    "0"
                });
        }
        // Lua turns an empty table into an empty array (or nil): both read as "none".
        let failing: Option<Vec<String>> = inv.invoke_async(&mut self.conn()).await?;
        Ok(Recorded {
            durable: Durable::written(),
            failing: failing.unwrap_or_default(),
        })
    }

    /// The record of an event whose every delivery ended delivered (or cancelled) at its
    /// first processing, the usual case: no hot state to write, so no script. Each
    /// delivered attempt ends its hook's failing streak, and the event keeps only its
    /// `done` mark (PostgreSQL has the payload, for a resend). Three commands in one
    /// round trip, in this order on one connection, each idempotent: a claim between
    /// them finds the event done, or still processing under its holder's lease.
    async fn record_delivered(
        &self,
        tenant: &str,
        event_id: &str,
        records: &[Record<'_>],
    ) -> Result<Recorded> {
        let ekey = self.keys.event(tenant, event_id);
        let delivered: Vec<&str> = records
            .iter()
            .filter(|r| r.attempt.is_some_and(|a| a.delivered()))
            .map(|r| r.hook_id)
            .collect();
        let mut pipe = redis::pipe();
        if !delivered.is_empty() {
            pipe.hdel(self.keys.hook_failing(tenant), &delivered)
                .ignore();
        }
        pipe.hset(&ekey, "state", "done")
            .hdel(&ekey, &EVENT_PAYLOAD[..])
            .ignore();
        let (made,): (i64,) = pipe.query_async(&mut self.conn()).await?;
        if made == 1 {
            // Redis lost the event's claim while it was processed: the mark is a key of
            // its own now, which expires with the retention as the claim's would.
            let _: () = self
                .conn()
                .expire(&ekey, self.retention_secs as i64)
                .await?;
        }
        Ok(Recorded {
            durable: Durable::written(),
            failing: Vec::new(),
        })
    }

    /// Puts a delivery's hot state back (Redis came back empty), with its event marked
    /// processed: what its next attempt reads.
    pub async fn restore_delivery(
        &self,
        tenant: &str,
        d: &Delivery,
        event: &crate::events::StoredEvent,
    ) -> Result<()> {
        let (dkey, ekey) = (
            self.keys.delivery(tenant, &d.id),
            self.keys.event(tenant, &event.id),
        );
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &dkey,
                &[
                    ("hook", d.hook_json.as_str()),
                    ("status", d.status.as_str()),
                    ("attempts", &d.attempt_count.to_string()),
                ],
            )
            .ignore()
            .expire(&dkey, self.retention_secs as i64)
            .ignore()
            .hset_multiple(
                &ekey,
                &[
                    ("state", "done"),
                    ("type", event.kind.as_str()),
                    ("data", event.data.as_str()),
                    ("occurred_at", event.occurred_at.as_deref().unwrap_or("")),
                ],
            )
            .ignore()
            .hset(&ekey, "received_at", event.received_at)
            .ignore()
            .expire(&ekey, self.retention_secs as i64)
            .ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Whether each of some deliveries of a tenant holds its ordering key, failed for
    /// good (set by the ordering scripts on the delivery's state).
    pub async fn blocking(&self, tenant: &str, ids: &[&str]) -> Result<Vec<bool>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hget(self.keys.delivery(tenant, id), "blocking");
        }
        let raw: Vec<Option<String>> = pipe.query_async(&mut self.conn()).await?;
        Ok(raw.iter().map(|b| b.as_deref() == Some("1")).collect())
    }

    /// The statuses of some deliveries of a tenant (`None`: no record).
    pub async fn statuses(&self, tenant: &str, ids: &[String]) -> Result<Vec<Option<Status>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hget(self.keys.delivery(tenant, id), "status");
        }
        let raw: Vec<Option<String>> = pipe.query_async(&mut self.conn()).await?;
        Ok(raw
            .into_iter()
            .map(|s| s.and_then(|s| Status::parse(&s)))
            .collect())
    }

    /// The hook snapshot and attempt count of a delivery, for the next attempt.
    pub async fn delivery_progress(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(String, u32, Status)>> {
        let (hook, attempts, status): (Option<String>, Option<u32>, Option<String>) =
            redis::cmd("HMGET")
                .arg(self.keys.delivery(tenant, id))
                .arg(&["hook", "attempts", "status"])
                .query_async(&mut self.conn())
                .await?;
        Ok(match (hook, status.as_deref().and_then(Status::parse)) {
            (Some(hook), Some(status)) => Some((hook, attempts.unwrap_or(0), status)),
            _ => None,
        })
    }
}
