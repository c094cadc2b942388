//! Each delivery's hot state (event × hook): its status, attempt count and the body's
//! hook snapshot, for the next attempt, ordering, take-overs and the failing streak. The
//! log's truth is in PostgreSQL (hookpost-db); these keys expire after the retention.

use hookpost_core::outcome::Attempt;
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
    /// Logged only where the log has nothing of the delivery yet, and no hot state
    /// written: a `pending` for a delivery another handler holds (or held, and died),
    /// whose own record stands. (Its key remembers that it is wanted: see
    /// order_turn.lua.)
    pub if_new: bool,
    /// Delivered, and not ordered: Redis keeps its hot state (and, once nothing else of
    /// the record ends with the event marked, the event it kept) only for
    /// [`ENDED_TTL_SECS`], long enough to tell a stale record of it apart; the log
    /// answers for it after that. Delivered at its event's first processing (the write
    /// with [`EventMark::Done`]), it gets none: no copy of its task exists yet.
    pub forget_soon: bool,
}

/// How long an ended delivery's hot state stays in Redis (see [`Record::forget_soon`]):
/// past the request timeout and the safety nets' margin, within which a copy of its
/// task could still be deferred.
pub const ENDED_TTL_SECS: u64 = 600;

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

impl Delivery {
    /// The task of this delivery's next attempt, due when the log says: what a delivery
    /// the log shows `retrying` or `pending` waits for.
    pub fn next_attempt(&self, tenant: &str) -> crate::retries::Due {
        use hookpost_core::task::{AttemptTask, Task};
        crate::retries::Due {
            at_ms: self.next_attempt_at.unwrap_or_else(hookpost_core::now_ms),
            task: Task::Attempt(AttemptTask {
                tenant: tenant.to_owned(),
                event_id: self.event_id.clone(),
                hook_id: self.hook_id.clone(),
                delivery_id: self.id.clone(),
                attempt: self.attempt_count + 1,
                resend: false,
            }),
        }
    }
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
    /// Processed: a duplicate of it is not delivered again. Redis keeps the event,
    /// given here (the claim keeps none), for the deliveries that go on.
    Done(Kept<'a>),
    /// Processed, and every delivery of it ended delivered or cancelled in this record,
    /// or waits in its hook's backlog: nothing waits to read its payload or their hot
    /// state from Redis (a backlog's drain, like a resend, reads them from PostgreSQL),
    /// so Redis keeps neither, only the mark that tells a duplicate apart.
    DoneAndSlim,
    /// As `DoneAndSlim`, for an event with no ordered delivery (whose keys would read
    /// its state): the event's state goes too, moments later with others (the worker
    /// sends the queued removals), and its mark is the fingerprint its claim put among
    /// the done marks ([`crate::done_marks`]), a few bytes instead of a key.
    DoneAndGone,
}

/// An event as Redis keeps it for its deliveries that wait (their attempts build their
/// bodies from it); the default is none (`data` empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kept<'a> {
    pub kind: &'a str,
    pub data: &'a str,
    pub received_at: i64,
    pub occurred_at: Option<&'a str>,
    pub traceparent: Option<&'a str>,
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
        // The write that marks the event done is its first processing's.
        let first_processing = matches!(mark, EventMark::Done(_));
        // record.lua's `mark` argument, and the event to keep (none: `data` empty).
        let (mark, kept) = match mark {
            EventMark::Keep => ("0", Kept::default()),
            EventMark::Done(kept) => ("1", kept),
            EventMark::DoneAndSlim => {
                return self
                    .record_delivered(tenant, event_id, records, false)
                    .await
            }
            EventMark::DoneAndGone => {
                return self.record_delivered(tenant, event_id, records, true).await
            }
        };
        let mut inv = self.scripts.record.prepare_invoke();
        inv.key(self.keys.event_state(tenant, event_id))
            .key(self.keys.event(tenant, event_id))
            .key(self.keys.hook_failing(tenant));
        inv.arg(mark)
            .arg(self.retention_secs)
            .arg(failing_span_ms)
            .arg(kept.kind)
            .arg(kept.data)
            .arg(kept.received_at)
            .arg(kept.occurred_at.unwrap_or(""))
            .arg(kept.traceparent.unwrap_or(""))
            .arg(ENDED_TTL_SECS);
        let clear = self.streaks_ended(tenant, records);
        for r in records.iter().filter(|r| !r.if_new) {
            inv.key(self.keys.delivery(tenant, r.delivery_id));
            let outcome = match r.attempt {
                Some(a) if a.delivered() && clear.contains(&r.hook_id) => "1",
                Some(a) if a.delivered() => "2",
                _ => "0",
            };
            // Delivered at its event's first processing (the write that marks it done):
            // no copy of its task can exist yet, so no stale record of it needs its hot
            // state to be told apart, as none does when every delivery of the event ended.
            let hot = match r.forget_soon {
                true if first_processing && r.status == Status::Delivered => "2",
                true => "1",
                false => "0",
            };
            inv.arg(r.hook_id)
                .arg(r.status.as_str())
                .arg(r.hook_json)
                .arg(r.attempt.map(|a| a.attempt).unwrap_or(0))
                .arg(outcome)
                .arg(hot);
        }
        // Lua turns an empty table into an empty array (or nil): both read as "none".
        let failing: redis::RedisResult<Option<Vec<String>>> =
            inv.invoke_async(&mut self.conn()).await;
        if failing.is_err() {
            self.streaks_not_ended(tenant, &clear);
        }
        let failing = failing?;
        for r in records {
            if r.attempt.is_some_and(|a| !a.delivered()) {
                self.cleared.forget(tenant, r.hook_id);
            }
        }
        Ok(Recorded {
            durable: Durable::written(),
            failing: failing.unwrap_or_default(),
        })
    }

    /// The record of an event whose every delivery ended delivered (or cancelled) at its
    /// first processing, the usual case: no hot state to write, so no script. The event
    /// keeps only its `done` mark (PostgreSQL has the payload, for a resend). `gone`: the
    /// state is removed with the lease, and the mark is the fingerprint the claim put
    /// among the done marks; the removal alone is queued and sent later with others
    /// ([`crate::removals`]), and nothing waits for it. A
    /// delivered attempt ends its hook's failing streak, at most once a second per
    /// process ([`crate::streaks`]). Else one round trip, each command idempotent: a
    /// claim between them finds the event done, or still processing under its holder's
    /// lease.
    async fn record_delivered(
        &self,
        tenant: &str,
        event_id: &str,
        records: &[Record<'_>],
        gone: bool,
    ) -> Result<Recorded> {
        let clear = self.streaks_ended(tenant, records);
        // Its lease goes with it: the lease is in the state.
        let state = self.keys.event_state(tenant, event_id);
        if gone && clear.is_empty() {
            self.removals.push(tenant, [state]);
            return Ok(Recorded {
                durable: Durable::written(),
                failing: Vec::new(),
            });
        }
        let mut pipe = redis::pipe();
        if !clear.is_empty() {
            pipe.hdel(self.keys.hook_failing(tenant), &clear).ignore();
        }
        match gone {
            true => pipe.del(state).ignore(),
            false => pipe.set_ex(state, "done", self.retention_secs).ignore(),
        };
        let written: redis::RedisResult<()> = pipe.query_async(&mut self.conn()).await;
        if written.is_err() {
            self.streaks_not_ended(tenant, &clear);
        }
        written?;
        Ok(Recorded {
            durable: Durable::written(),
            failing: Vec::new(),
        })
    }

    /// The hooks whose failing streak `records`' delivered attempts end now: each at
    /// most once a second per process ([`crate::streaks`]).
    fn streaks_ended<'a>(&self, tenant: &str, records: &[Record<'a>]) -> Vec<&'a str> {
        let delivered: Vec<&str> = records
            .iter()
            .filter(|r| r.attempt.is_some_and(|a| a.delivered()))
            .map(|r| r.hook_id)
            .collect();
        self.cleared.due(tenant, &delivered)
    }

    /// The write that was to end `clear`'s streaks failed: its retry ends them.
    fn streaks_not_ended(&self, tenant: &str, clear: &[&str]) {
        for hook in clear {
            self.cleared.forget(tenant, hook);
        }
    }

    /// Puts back the hot state of deliveries the log shows waiting, where Redis has none
    /// (a take-over finding what its dead holder logged but did not store): their next
    /// attempt and their ordering key read it. A handler's newer write stands.
    pub async fn put_back_progress(&self, tenant: &str, deliveries: &[&Delivery]) -> Result<()> {
        let mut pipe = redis::pipe();
        for d in deliveries {
            self.put_back(&mut pipe, tenant, d);
        }
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Adds to `pipe` the writes of a delivery's hot state as the log shows it, each
    /// field only where it is missing.
    fn put_back(&self, pipe: &mut redis::Pipeline, tenant: &str, d: &Delivery) {
        let dkey = self.keys.delivery(tenant, &d.id);
        pipe.hset_nx(&dkey, "hook", &d.hook_json)
            .ignore()
            .hset_nx(&dkey, "status", d.status.as_str())
            .ignore()
            .hset_nx(&dkey, "attempts", d.attempt_count)
            .ignore()
            .expire(&dkey, self.retention_secs as i64)
            .ignore();
    }

    /// Puts some deliveries' hot state back where Redis has none (it came back empty, or
    /// without its last writes), each with its event marked processed unless a live
    /// claim has it: what their next attempts read. One round trip, one transaction: an
    /// attempt reading a delivery meanwhile finds all of it or none (one tenant, one
    /// slot).
    pub async fn restore_deliveries(
        &self,
        tenant: &str,
        deliveries: &[(Delivery, crate::events::StoredEvent)],
    ) -> Result<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let ttl = self.retention_secs;
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut events = std::collections::HashSet::new();
        for (d, event) in deliveries {
            self.put_back(&mut pipe, tenant, d);
            if !events.insert(event.id.as_str()) {
                continue; // another delivery of the page wrote it
            }
            let ekey = self.keys.event(tenant, &event.id);
            self.restore_done(&mut pipe, tenant, &event.id);
            pipe.hset_multiple(
                &ekey,
                &[
                    ("type", event.kind.as_str()),
                    ("data", event.data.as_str()),
                    ("occurred_at", event.occurred_at.as_deref().unwrap_or("")),
                    ("received_at", &event.received_at.to_string()),
                ],
            )
            .ignore()
            .expire(&ekey, ttl as i64)
            .ignore();
        }
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

    /// The hook snapshot and attempt count of a delivery, for the next attempt.
    pub async fn delivery_progress(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<(String, u32, Status)>> {
        let raw: ProgressFields = self
            .progress_read(tenant, id)
            .query_async(&mut self.conn())
            .await?;
        Ok(progress(raw))
    }

    /// [`Store::delivery_progress`]'s read.
    pub(crate) fn progress_read(&self, tenant: &str, id: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.delivery(tenant, id))
            .arg(&["hook", "attempts", "status"]);
        cmd
    }

    /// A rebuild's mark of an event as processed, into `pipe`, unless it has a state: a
    /// duplicate is then not taken for a new event.
    pub(crate) fn restore_done(&self, pipe: &mut redis::Pipeline, tenant: &str, event_id: &str) {
        pipe.cmd("SET")
            .arg(self.keys.event_state(tenant, event_id))
            .arg("done")
            .arg("NX")
            .arg("EX")
            .arg(self.retention_secs)
            .ignore();
    }
}

/// A delivery's `hook`, `attempts` and `status`, as Redis keeps them.
pub(crate) type ProgressFields = (Option<String>, Option<u32>, Option<String>);

/// A delivery's progress from its fields; `None` where Redis keeps none.
pub(crate) fn progress((hook, attempts, status): ProgressFields) -> Option<(String, u32, Status)> {
    match (hook, status.as_deref().and_then(Status::parse)) {
        (Some(hook), Some(status)) => Some((hook, attempts.unwrap_or(0), status)),
        _ => None,
    }
}
