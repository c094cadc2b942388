//! Claiming an event for processing.
//!
//! The first worker to see an event marks it as being processed (with its receive time;
//! the message carries the rest: see [`Store::keep_payload`]) and holds a lease on it,
//! renewed while it works; the event is `done` once every delivery's outcome is
//! recorded. A duplicate (a producer's, or RabbitMQ's redelivery after a cut connection)
//! finds it `done` (dropped) or leased (`Busy`: looked at again when the lease ends);
//! once the lease has run out (its holder died), the next one takes over and redoes only
//! what the log does not show as decided.

use std::time::Duration;

use hookpost_core::Event;

use redis::AsyncCommands;

use crate::log::{ProgressFields, Status};
use crate::tracked::{Cached, Lookup, Tracked};
use crate::{corrupt, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First sight: process every delivery.
    New,
    /// The holder's lease ran out: process what is not yet decided.
    TakeOver,
    /// Another worker holds it now, for as long again at most: look again then.
    Busy(Duration),
    /// Already processed: a duplicate.
    Done,
    /// Redis had no state of it, but its fingerprint is among the done marks: a
    /// duplicate if the log has the event ([`Store::forget_claim`] then undoes this
    /// claim), else a fingerprint's collision, and `New` (this claim holds it).
    MarkedDone,
    /// The event names a tenant that does not exist.
    UnknownTenant,
}

impl Claim {
    pub fn as_str(self) -> &'static str {
        match self {
            Claim::New => "new",
            Claim::TakeOver => "takeover",
            Claim::Busy(_) => "busy",
            Claim::Done | Claim::MarkedDone => "duplicate",
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

/// The claim's answers: the state it was (`None`: this claim set it), whether its mark
/// was added to the current period's marks (1) or there already (0), whether the
/// previous period's hold it, and the tenant's hooks version (`None`: no such tenant).
type ClaimAnswers = (Option<String>, i64, bool, Option<u64>);

/// What event_hold.lua found of an event's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The event is done, or Redis has no state of it.
    NotProcessing,
    /// No lease holds it (and it is the caller's now, when it asked to take it).
    Free,
    /// Its holder's lease has this long left.
    Left(Duration),
}

/// The tenant's record and its hooks version, as `MGET` reads them.
type TenantRead = (Option<String>, Option<u64>);

/// The hooks version of a tenant read, `None` when the tenant does not exist.
fn version_of((tenant, version): TenantRead) -> Option<u64> {
    tenant.map(|_| version.unwrap_or(0))
}

/// `type`, `data`, `received_at`, `occurred_at`, `traceparent` of a kept event.
type EventFields = (
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

impl Store {
    /// Claims `event`, leasing it for `lease_ms` on Redis's clock; returns the claim and
    /// the tenant's hooks version. `received_at` becomes the event's receive time on
    /// first sight (the body's `timestamp`). Its payload is not stored.
    ///
    /// Plain commands in one round trip, no script: the state with the lease in it
    /// (`SET NX GET` of `p:<received_at>:<lease end>`: whoever sets it holds the event,
    /// else it tells what it was; the end is Redis's time as [`crate::clock`] reckons
    /// it), the event's mark ([`crate::done_marks`]: `SADD` into this period's set,
    /// which tells whether it was there, and `SISMEMBER` of the period before's) and the
    /// tenant with its hooks version. On one connection they run in this order, but
    /// another claimer's may run between them:
    ///
    /// | state was | marked | claim |
    /// | --- | --- | --- |
    /// | `done` | either | `Done` |
    /// | none | yes | `MarkedDone` (done, once the log confirms it) |
    /// | `p:…`, its removal queued here | either | `Done` (this process recorded it) |
    /// | none | no | `New` |
    /// | `p:…`, its lease run out | either | `TakeOver` (event_hold.lua: one claimer takes it) |
    /// | `p:…`, leased | either | `Busy` (another holds it) |
    ///
    /// The mark goes with the claim, so that a record of an event delivered at once only
    /// removes the state: a mark found with no state is an event done (its state removed)
    /// or a collision, which the log tells apart (the worker's `confirm_done`).
    pub async fn claim_event(
        &self,
        event: &Event,
        lease_ms: u64,
        received_at: i64,
    ) -> Result<(Claim, u64)> {
        let t = &event.tenant;
        let state = self.keys.event_state(t, &event.id);
        let ends = self.redis_now_ms().await? + lease_ms as i64;
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&state)
            .arg(format!("p:{received_at}:{ends}"))
            .arg("NX")
            .arg("GET")
            .arg("EX")
            .arg(self.retention_secs);
        let mark = self.done_mark(t, &event.id).await?;
        let (marks, marks_before) = (self.done_set(t, &mark, 0), self.done_set(t, &mark, 1));
        let (member, set) = (mark.print.member, mark.print.set(mark.sets.now));
        pipe.sadd(&marks, member);
        let expire = self.expiries.due(mark.at, set);
        if expire {
            pipe.expire_at(&marks, mark.expires_at as i64).ignore();
        }
        pipe.sismember(&marks_before, member);
        let claiming = self.tracked_lookup(&self.keys.tenant(t)).await;
        let forget_expiry = || self.expiries.forget(mark.at, set);
        let answers = self.claim_answers(pipe, claiming, t).await;
        let (was, added, marked_before, version) = match answers {
            Ok(answers) => answers,
            Err(e) => {
                if expire {
                    forget_expiry();
                }
                return Err(e);
            }
        };
        let Some(version) = version else {
            // Nothing of an unknown tenant stays behind: neither what this claim made, nor
            // (Redis came back empty) a claim that a redelivery would find.
            let mut undo = redis::pipe();
            if was.is_none() {
                undo.del(&state).ignore();
            }
            if added == 1 {
                // A set left empty goes, and with it the expiry this process set.
                undo.srem(&marks, member).ignore();
                forget_expiry();
            }
            if mark.wrote_count {
                undo.del(self.keys.done_sets(t, mark.period)).ignore();
                self.forget_done_set_count(mark.at);
            }
            let () = undo.query_async(&mut self.conn()).await?;
            return Ok((Claim::UnknownTenant, 0));
        };
        let marked = added == 0 || marked_before;
        let claim = match was.as_deref() {
            Some("done") => Claim::Done,
            None if marked => Claim::MarkedDone,
            None => Claim::New,
            Some(p) if p.starts_with("p:") && self.removals.holds(t, &state) => Claim::Done,
            Some(p) if p.starts_with("p:") => {
                match self.hold_event(t, &event.id, lease_ms).await? {
                    // Done (its state removed, or expired) since the claim read it.
                    Held::NotProcessing => Claim::Done,
                    Held::Free => Claim::TakeOver,
                    Held::Left(left) => Claim::Busy(left),
                }
            }
            Some(other) => return Err(corrupt("event state", other)),
        };
        Ok((claim, version))
    }

    /// Sends a claim's `pipe`: on the claims' tracked connection when there is one,
    /// reading the tenant's record and hooks version only when it does not have them
    /// (with `CLIENT CACHING YES`, so that Redis tells it when they change); else on the
    /// store's connection, with the read.
    async fn claim_answers(
        &self,
        mut pipe: redis::Pipeline,
        claiming: Option<(&Tracked, Lookup)>,
        t: &str,
    ) -> Result<ClaimAnswers> {
        let Some((tracked, claiming)) = claiming else {
            pipe.mget(&[self.keys.tenant(t), self.keys.hooks_version(t)]);
            let (a, b, c, read) = pipe.query_async(&mut self.conn()).await?;
            return Ok((a, b, c, version_of(read)));
        };
        let cached = match claiming.cached {
            Some(Cached::Version(v)) => v,
            _ => {
                let keys = self.read_tracked(&mut pipe, t);
                let (a, b, c, read) = tracked.query(&claiming, &pipe).await?;
                return Ok((a, b, c, self.keep_tenant(tracked, &claiming, keys, read)));
            }
        };
        let (a, b, c) = tracked.query(&claiming, &pipe).await?;
        if !tracked.still(&claiming) {
            // Its hooks changed meanwhile, or the data went: read them again. Boxed, as
            // rare: every claim's state would otherwise make room for this read.
            return Ok((a, b, c, Box::pin(self.tenant_read(t)).await?));
        }
        Ok((a, b, c, Some(cached)))
    }

    /// The tenant's hooks version read again, after a change reached the claims'
    /// connection while a claim was under way: on that connection as it is now, so that
    /// what it reads is kept unless another change comes meanwhile.
    async fn tenant_read(&self, t: &str) -> Result<Option<u64>> {
        let mut pipe = redis::pipe();
        let Some((tracked, lookup)) = self.tracked_lookup(&self.keys.tenant(t)).await else {
            pipe.mget(&[self.keys.tenant(t), self.keys.hooks_version(t)]);
            let (read,) = pipe.query_async(&mut self.conn()).await?;
            return Ok(version_of(read));
        };
        let keys = self.read_tracked(&mut pipe, t);
        let (read,) = tracked.query(&lookup, &pipe).await?;
        Ok(self.keep_tenant(tracked, &lookup, keys, read))
    }

    /// Reads the tenant's record and hooks version at the end of `pipe`, on the claims'
    /// connection: after `CLIENT CACHING YES`, so that Redis tells it when they change.
    /// The keys read.
    fn read_tracked(&self, pipe: &mut redis::Pipeline, t: &str) -> [String; 2] {
        let keys = [self.keys.tenant(t), self.keys.hooks_version(t)];
        crate::tracked::track_next(pipe);
        pipe.mget(&keys);
        keys
    }

    /// Caches a tenant a claim read, when it exists; its hooks version.
    fn keep_tenant(
        &self,
        tracked: &Tracked,
        lookup: &Lookup,
        keys: [String; 2],
        read: TenantRead,
    ) -> Option<u64> {
        let version = version_of(read);
        if let Some(version) = version {
            // Named by the tenant's record, the first of its keys.
            tracked.keep(lookup, &keys[0], &keys, Cached::Version(version));
        }
        version
    }

    /// Undoes the claim of an event found [`Claim::MarkedDone`] that the log confirms
    /// done: the state it set, and its lease with it.
    pub async fn forget_claim(&self, event: &Event) -> Result<()> {
        let state = self.keys.event_state(&event.tenant, &event.id);
        let () = self.conn().del(state).await?;
        Ok(())
    }

    /// Keeps an event another handler holds (the claim keeps none), for the resume task
    /// of a duplicate told [`Claim::Busy`]; nothing when it is done.
    pub async fn keep_payload(&self, event: &Event) -> Result<()> {
        let (t, id) = (&event.tenant, &event.id);
        let _: i64 = self
            .scripts
            .event_keep_payload
            .key(self.keys.event_state(t, id))
            .key(self.keys.event(t, id))
            .arg(&event.kind)
            .arg(event.data.get())
            .arg(event.occurred_at.as_deref().unwrap_or(""))
            .arg(event.traceparent.as_deref().unwrap_or(""))
            .arg(self.retention_secs)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Whether event `event_id` of `tenant` is held, taking it over for `lease_ms` when
    /// no lease holds it (0 only tells): event_hold.lua.
    pub async fn hold_event(&self, tenant: &str, event_id: &str, lease_ms: u64) -> Result<Held> {
        let left: i64 = self
            .scripts
            .event_hold
            .key(self.keys.event_state(tenant, event_id))
            .key(self.keys.event_lease(tenant, event_id))
            .arg(lease_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match left {
            ..0 => Held::NotProcessing,
            0 => Held::Free,
            left => Held::Left(Duration::from_millis(left as u64)),
        })
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
            .key(self.keys.event_state(tenant, event_id))
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

    /// A claimed event as Redis holds it, in one round trip: the whole event when it is
    /// kept ([`Store::event`]), and its receive time (the body's `timestamp`, kept for
    /// its take-overs) either way.
    pub async fn claimed(
        &self,
        tenant: &str,
        event_id: &str,
    ) -> Result<(Option<StoredEvent>, Option<i64>)> {
        let mut pipe = redis::pipe();
        self.read_claimed(&mut pipe, tenant, event_id);
        let (state, fields): (Option<String>, EventFields) =
            pipe.query_async(&mut self.conn()).await?;
        Ok(claimed_event(tenant, event_id, state, fields))
    }

    /// What a delivery's next attempt reads of its tenant's keys, in one round trip: its
    /// event where Redis keeps it ([`Store::event`]), its progress
    /// ([`Store::delivery_progress`]) and the tenant's hooks version.
    pub async fn retry_reads(
        &self,
        tenant: &str,
        event_id: &str,
        delivery_id: &str,
    ) -> Result<RetryReads> {
        let mut pipe = redis::pipe();
        self.read_claimed(&mut pipe, tenant, event_id);
        pipe.add_command(self.progress_read(tenant, delivery_id));
        pipe.get(self.keys.hooks_version(tenant));
        type Answers = (Option<String>, EventFields, ProgressFields, Option<u64>);
        let (state, fields, progress, version): Answers =
            pipe.query_async(&mut self.conn()).await?;
        Ok(RetryReads {
            event: claimed_event(tenant, event_id, state, fields).0,
            progress: crate::log::progress(progress),
            hooks_version: version.unwrap_or(0),
        })
    }

    /// [`Store::claimed`]'s reads, into `pipe`: the event's state, then its fields.
    fn read_claimed(&self, pipe: &mut redis::Pipeline, tenant: &str, event_id: &str) {
        pipe.get(self.keys.event_state(tenant, event_id));
        pipe.cmd("HMGET")
            .arg(self.keys.event(tenant, event_id))
            .arg(&["type", "data", "received_at", "occurred_at", "traceparent"]);
    }
}

/// What [`Store::retry_reads`] found.
pub struct RetryReads {
    pub event: Option<StoredEvent>,
    /// The hook snapshot, attempt count and status of the delivery.
    pub progress: Option<(String, u32, Status)>,
    pub hooks_version: u64,
}

/// A claimed event from its state and kept fields ([`Store::claimed`]).
fn claimed_event(
    tenant: &str,
    event_id: &str,
    state: Option<String>,
    fields: EventFields,
) -> (Option<StoredEvent>, Option<i64>) {
    // `p:<received_at>:<lease end>`, or `p:<received_at>` as an older version wrote it.
    let claimed_at = state
        .as_deref()
        .and_then(|s| s.strip_prefix("p:"))
        .and_then(|rest| rest.split(':').next()?.parse().ok());
    let state = match state.as_deref() {
        Some("done") => "done",
        Some(_) => "processing",
        None => "",
    };
    let (Some(kind), Some(data), Some(received_at), occurred_at, traceparent) = fields else {
        return (None, claimed_at);
    };
    let event = StoredEvent {
        id: event_id.to_owned(),
        tenant: tenant.to_owned(),
        kind,
        data,
        received_at,
        occurred_at: occurred_at.filter(|s| !s.is_empty()),
        state: state.to_owned(),
        traceparent: traceparent.filter(|s| !s.is_empty()),
    };
    (Some(event), Some(received_at))
}
