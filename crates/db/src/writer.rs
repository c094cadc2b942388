//! The worker's writes to the log, group-committed. Each [`Db::write`] is one event's
//! outcomes; a free writer task takes every write waiting and commits them in one
//! statement, its own transaction (`synchronous_commit` on: its answer comes once the
//! commit is durable), then answers each. Under load the groups grow by themselves; at
//! a steady rate the task waits up to 2 ms for more ([`crate::group_pace`]); alone, a
//! write commits at once. Rows go in key order, so that the writers of two worker
//! processes never wait on each other in a cycle.
//!
//! Every statement is idempotent, so a group written again after a lost answer is
//! stored once: events and attempts by their keys, deliveries by an upsert. A group of
//! first sights goes first as plain inserts, cheaper for PostgreSQL; should one of its
//! rows be there already (a write made again), that statement fails, leaving nothing,
//! and the group goes by its keys.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use std::time::{Instant, SystemTime};

use deadpool_postgres::Object;
use hookpost_core::outcome::{Attempt, OutcomeKind};
use hookpost_store::log::{Record, Status};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tracing::debug;

use crate::group_pace::{GroupPace, LINGER};
use crate::log::{attempt_columns, ATTEMPT_FIELDS};
use crate::parked::{self, Parked};
use crate::payload::Payload;
use crate::signature_macs;
use crate::time::from_ms;
use crate::{Db, DbError, DbMetrics, DeliveryKey, EnumColumn, HookKey, Result};

/// Most writes one transaction takes.
const MAX_GROUP: usize = 256;

/// An event, stored once, on its first sight.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub occurred_at: Option<String>,
    /// The trace context it came with, for its attempts that read it from the log.
    pub traceparent: Option<String>,
    /// The event's `data`, packed where the worker handled it ([`Payload::pack`]), not in
    /// the writer's one task.
    pub data: Payload,
    /// The deliveries its first sight parked in their slow hooks' backlogs (see
    /// [`crate::parked`]).
    pub parked: Vec<Parked>,
}

/// A delivery's new state.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub hook_id: String,
    pub kind: String,
    pub status: Status,
    /// The attempt that led to it (0: none).
    pub attempts: i32,
    pub next_at: Option<i64>,
    /// The body's `hook` object as the first attempt sent it, and its
    /// [`snapshot_digest`]: the row names it by the digest (migration 10).
    pub hook: String,
    pub hook_digest: i64,
    /// Failed, and holds its ordering key (see [`Record::blocking`]).
    pub blocking: bool,
    /// Written only where the delivery has no row yet (see [`Record::if_new`]).
    pub if_new: bool,
}

/// The name of a hook snapshot in `hook_snapshots`: the first 8 bytes of its SHA-256.
/// Two versions of one hook's snapshot with one digest (one chance in 2^64) would show
/// a delivery the other's.
pub fn snapshot_digest(hook_json: &str) -> i64 {
    let hash = Sha256::digest(hook_json.as_bytes());
    i64::from_be_bytes(hash[..8].try_into().expect("8 bytes"))
}

/// An attempt made.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: Attempt,
}

/// One event's outcomes: written together, in one transaction.
#[derive(Debug, Clone)]
pub struct Batch {
    pub tenant: String,
    /// The event's receive time (ms): every row's partition.
    pub event_at: i64,
    pub event: Option<EventRow>,
    pub deliveries: Vec<DeliveryRow>,
    pub attempts: Vec<AttemptRow>,
    /// An ordering key waits for it (its next delivery goes once it is durable): its
    /// group commits without waiting for more writes.
    pub urgent: bool,
}

impl Batch {
    /// The rows of an event's log records; `event` on its first sight.
    pub fn of(
        tenant: &str,
        event_id: &str,
        event_at: i64,
        event: Option<EventRow>,
        records: &[Record<'_>],
    ) -> Batch {
        let deliveries = records
            .iter()
            .map(|r| DeliveryRow {
                id: r.delivery_id.to_owned(),
                event_id: event_id.to_owned(),
                hook_id: r.hook_id.to_owned(),
                kind: r.kind.to_owned(),
                status: r.status,
                attempts: r.attempt.map_or(0, |a| a.attempt as i32),
                next_at: r.next_at,
                hook: r.hook_json.to_owned(),
                hook_digest: snapshot_digest(r.hook_json),
                blocking: r.blocking,
                if_new: r.if_new,
            })
            .collect();
        let attempts = records
            .iter()
            .filter_map(|r| {
                r.attempt.map(|a| AttemptRow {
                    delivery_id: r.delivery_id.to_owned(),
                    attempt: a.clone(),
                })
            })
            .collect();
        Batch {
            tenant: tenant.to_owned(),
            event_at,
            event,
            deliveries,
            attempts,
            urgent: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.event.is_none() && self.deliveries.is_empty() && self.attempts.is_empty()
    }
}

pub(crate) struct Job {
    batch: Arc<Batch>,
    done: oneshot::Sender<std::result::Result<(), String>>,
}

impl Db {
    /// Writes `batch`, committed with whatever else came meanwhile; `Ok` once the
    /// commit is durable. The rows of an event older than the retention are not kept
    /// (their days are dropped).
    pub async fn write(&self, batch: Arc<Batch>) -> Result<()> {
        let oldest = hookpost_core::now_ms() - self.retention.as_millis() as i64;
        if batch.is_empty() || batch.event_at < oldest {
            return Ok(());
        }
        let (done, answer) = oneshot::channel();
        self.writes
            .send(Job { batch, done })
            .await
            .map_err(|_| DbError::Write("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| DbError::Write("the writer has stopped".into()))?
            .map_err(DbError::Write)
    }
}

/// The writer task, until every handle is gone: takes the waiting writes, commits
/// them, answers each. One per process: a second one overlapping its commits was
/// measured no faster here, where the CPU is the limit (docs/benchmarks.md).
pub(crate) async fn run(db: Db, mut jobs: mpsc::Receiver<Job>) {
    // Its own connection, kept from one group to the next: the pool's check of each
    // connection handed out would cost a round trip a group. Let go after a failure.
    let mut conn = None;
    let mut pace = GroupPace::default();
    while let Some(first) = jobs.recv().await {
        let mut group = vec![first];
        take_waiting(&mut jobs, &mut group);
        let urgent = |group: &[Job]| group.iter().any(|j| j.batch.urgent);
        if pace.worth_waiting() && !urgent(&group) {
            let until = tokio::time::Instant::now() + LINGER;
            while group.len() < MAX_GROUP && !urgent(&group) {
                match tokio::time::timeout_at(until, jobs.recv()).await {
                    Ok(Some(job)) => group.push(job),
                    _ => break,
                }
                take_waiting(&mut jobs, &mut group);
            }
        }
        pace.took(group.len(), Instant::now());
        let batches: Vec<&Batch> = group.iter().map(|j| &*j.batch).collect();
        let result = commit_group(&db, &mut conn, &batches)
            .await
            .map_err(|e| e.to_string());
        if let Some(m) = &db.metrics {
            m.batch_size.observe(group.len() as f64);
        }
        for job in group {
            let _ = job.done.send(result.clone());
        }
    }
}

/// Adds the writes waiting now to `group`, up to [`MAX_GROUP`].
fn take_waiting(jobs: &mut mpsc::Receiver<Job>, group: &mut Vec<Job>) {
    while group.len() < MAX_GROUP {
        match jobs.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
}

/// Commits a group; a day without its partition yet (no scheduler has run since the
/// day began) is made, and the group tried once more.
async fn commit_group(db: &Db, conn: &mut Option<Object>, group: &[&Batch]) -> Result<()> {
    match commit(db, conn, group).await {
        Err(e) => {
            crate::partitions::make_missing(db, e).await?;
            commit(db, conn, group).await
        }
        done => done,
    }
}

/// Commits a group on the writer's connection (one from the pool when it has none), or
/// gives that connection up when
/// PostgreSQL has not answered within the write timeout: a half-open connection (a
/// server or network gone without a word) would otherwise hold the writer until TCP
/// itself gives up. Whether a timed-out commit happened is unknown; the write is made
/// again, and is idempotent.
async fn commit(db: &Db, conn: &mut Option<Object>, group: &[&Batch]) -> Result<()> {
    let client = match conn {
        Some(client) => client,
        None => conn.insert(db.client().await?),
    };
    let started = Instant::now();
    let written = write(client, group, db.metrics.as_deref());
    let timed = tokio::time::timeout(db.write_timeout, written).await;
    let written = match timed {
        Ok(written) => written,
        Err(_) => {
            // Out of the pool, and closed with the last handle on it.
            if let Some(client) = conn.take() {
                drop(Object::take(client));
            }
            return Err(DbError::Write(format!(
                "PostgreSQL did not answer a write within {:?}; its connection is given up",
                db.write_timeout
            )));
        }
    };
    if written.is_err() {
        // Back to the pool, which checks it before anyone uses it again.
        *conn = None;
    }
    written?;
    if let Some(m) = &db.metrics {
        m.commit_seconds.observe(started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The group's rows in one statement, its own transaction: one round trip and one
/// statement's overhead a group, which a transaction of a statement per table (five
/// round trips) spent again on every group. A delivery twice in the group (a resend
/// beside a retry, say) goes in later statements of the same transaction, in order: an
/// upsert may not touch one row twice.
async fn write(client: &mut Object, group: &[&Batch], metrics: Option<&DbMetrics>) -> Result<()> {
    let mut rows: Vec<(&Batch, &DeliveryRow)> = group
        .iter()
        .flat_map(|b| b.deliveries.iter().map(move |d| (*b, d)))
        .collect();
    // Stable: a delivery's writes keep their order.
    rows.sort_by(|(a, x), (b, y)| (&a.tenant, &x.id).cmp(&(&b.tenant, &y.id)));
    let splits: Vec<Split> = rounds(rows)
        .into_iter()
        .map(Split::of)
        .collect::<Result<_>>()?;
    let mut splits = splits.into_iter();
    let first = splits.next().unwrap_or_default();
    let later: Vec<Split> = splits.collect();
    let (events, attempts) = (Events::of(group), Attempts::of(group)?);
    let snapshots = Snapshots::of(group)?;
    let params: Vec<&(dyn ToSql + Sync)> = [
        &events.params()[..],
        &first.upserts.params(),
        &first.new_only.params(),
        &attempts.params(),
        &snapshots.params(),
    ]
    .concat();
    if later.is_empty() {
        if first_sights(group) {
            let stmt = client.prepare_cached(&GROUP_NEW).await?;
            match client.execute(&stmt, &params).await {
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    // Written before (nothing of this try stays): by its keys, then.
                    debug!("a group of first sights found rows written before");
                    if let Some(m) = metrics {
                        m.groups_again.inc();
                    }
                }
                written => {
                    written?;
                    return Ok(());
                }
            }
        }
        let stmt = client.prepare_cached(&GROUP).await?;
        client.execute(&stmt, &params).await?;
        return Ok(());
    }
    let tx = client.transaction().await?;
    let stmt = tx.prepare_cached(&GROUP).await?;
    tx.execute(&stmt, &params).await?;
    for round in &later {
        for (sql, rows) in [(&*UPSERT, &round.upserts), (&*INSERT_NEW, &round.new_only)] {
            if !rows.id.is_empty() {
                let stmt = tx.prepare_cached(sql).await?;
                tx.execute(&stmt, &rows.params()).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Sorted delivery rows in rounds, each with a delivery at most once: the first of
/// each in the first round, its next write in the next, and so on.
fn rounds<'a>(
    mut rest: Vec<(&'a Batch, &'a DeliveryRow)>,
) -> Vec<Vec<(&'a Batch, &'a DeliveryRow)>> {
    let mut rounds = Vec::new();
    while !rest.is_empty() {
        let mut seen = HashSet::new();
        let (now, later): (Vec<_>, Vec<_>) = rest
            .into_iter()
            .partition(|(b, d)| seen.insert((b.tenant.as_str(), d.id.as_str(), b.event_at)));
        rounds.push(now);
        rest = later;
    }
    rounds
}

/// A round's delivery rows: those that move a delivery on, and those written only
/// where it has no row yet (see [`Record::if_new`]).
#[derive(Default)]
struct Split<'a> {
    upserts: Deliveries<'a>,
    new_only: Deliveries<'a>,
}

impl<'a> Split<'a> {
    fn of(round: Vec<(&'a Batch, &'a DeliveryRow)>) -> Result<Self> {
        let (new_only, upserts): (Vec<_>, Vec<_>) = round.into_iter().partition(|(_, d)| d.if_new);
        Ok(Split {
            upserts: Deliveries::of(&upserts)?,
            new_only: Deliveries::of(&new_only)?,
        })
    }
}

/// The group's statement: events, the hook snapshots its deliveries name, deliveries
/// (moved on, and new only) and attempts, each from its columns ([`Events::params`],
/// …), empty ones included. Each part's parameters follow the ones before it. A
/// delivery's attempt numbered 1 goes into its row when the row holds none yet
/// (`first_` and its [`ATTEMPT_FIELDS`]); every attempt that no row written here
/// returned as its own goes to `attempts`, so that each lands in one place or the
/// other, never in neither.
static GROUP: LazyLock<String> = LazyLock::new(|| group(Rows::Found));
/// [`GROUP`] for a group of first sights ([`first_sights`]), whose rows are all new:
/// plain inserts, which cost PostgreSQL about a quarter less a delivery than `ON
/// CONFLICT` (whose speculative insertion probes the key first and confirms after).
/// Should a row be there after all, the statement fails and the group goes again as
/// [`GROUP`].
static GROUP_NEW: LazyLock<String> = LazyLock::new(|| group(Rows::New));

/// The group's statement, its events and deliveries written as `rows` says.
fn group(rows: Rows) -> String {
    let (events, upserts_on, new_only_on) = match rows {
        Rows::Found => (insert_events(1, true), Conflict::Upsert, Conflict::Skip),
        Rows::New => (insert_events(1, false), Conflict::Refuse, Conflict::Refuse),
    };
    let upserts = 1 + EVENT_TYPES.len();
    let new_only = upserts + DELIVERY_TYPES.len();
    let attempts = new_only + DELIVERY_TYPES.len();
    let snapshots = attempts + ATTEMPT_TYPES.len();
    let columns = format!(
        "tenant_id, delivery_id, event_at, attempt, {}",
        attempt_columns("")
    );
    format!(
        "WITH e AS ({}),
         s AS (INSERT INTO hook_snapshots (tenant_id, hook_id, digest, hook)
               SELECT * FROM unnest({}) ON CONFLICT DO NOTHING),
         a AS (SELECT * FROM unnest({}) AS a({columns})),
         f AS (SELECT DISTINCT ON (tenant_id, delivery_id, event_at) * FROM a
               WHERE attempt = 1 ORDER BY tenant_id, delivery_id, event_at, at),
         u AS ({}), n AS ({})
         INSERT INTO attempts ({columns})
         SELECT * FROM a WHERE NOT EXISTS (
             SELECT 1 FROM (SELECT * FROM u UNION ALL SELECT * FROM n) k
             WHERE a.attempt = 1 AND k.first_at = a.at
               AND (k.tenant_id, k.id, k.event_at) = (a.tenant_id, a.delivery_id, a.event_at))
         ON CONFLICT DO NOTHING",
        events,
        arrays(snapshots, &SNAPSHOT_TYPES),
        arrays(attempts, &ATTEMPT_TYPES),
        insert_deliveries(upserts, upserts_on, true),
        insert_deliveries(new_only, new_only_on, true),
    )
}

/// What a group's events and deliveries may find already written.
#[derive(Clone, Copy)]
enum Rows {
    /// Any of them: each is written by its key ([`Conflict`]).
    Found,
    /// None: they are inserted, and one found fails the statement.
    New,
}

/// Whether every write of `group` is an event's first sight with its deliveries' first
/// attempts (or none): rows that none wrote before, unless a write is made again (after
/// a lost answer, or by a take-over).
fn first_sights(group: &[&Batch]) -> bool {
    group
        .iter()
        .all(|b| b.event.is_some() && b.deliveries.iter().all(|d| d.attempts <= 1))
}

/// A later round's deliveries, alone, their first attempts left as they are.
static UPSERT: LazyLock<String> = LazyLock::new(|| insert_deliveries(1, Conflict::Upsert, false));
static INSERT_NEW: LazyLock<String> = LazyLock::new(|| insert_deliveries(1, Conflict::Skip, false));

/// `$p::t[], $p+1::t[], …` for the column types `types`.
fn arrays(p: usize, types: &[&str]) -> String {
    let list: Vec<String> = (p..)
        .zip(types)
        .map(|(i, t)| format!("${i}::{t}[]"))
        .collect();
    list.join(", ")
}

/// Each table's columns' types, in the order of its `params`.
const EVENT_TYPES: [&str; 9] = [
    "text",
    "text",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "bytea",
    "text",
];
const DELIVERY_TYPES: [&str; 11] = [
    "text",
    "uuid",
    "timestamptz",
    "text",
    "uuid",
    "text",
    "delivery_status",
    "int4",
    "timestamptz",
    "int8",
    "bool",
];
const SNAPSHOT_TYPES: [&str; 4] = ["text", "uuid", "int8", "text"];
/// An attempt's key (tenant, delivery, event time, number), then its
/// [`ATTEMPT_FIELDS`]' types, taken from there.
const ATTEMPT_TYPES: [&str; 4 + ATTEMPT_FIELDS.len()] = {
    let key = ["text", "uuid", "timestamptz", "int4"];
    let mut types = [""; 4 + ATTEMPT_FIELDS.len()];
    let mut i = 0;
    while i < types.len() {
        types[i] = match i < key.len() {
            true => key[i],
            false => ATTEMPT_FIELDS[i - key.len()].1,
        };
        i += 1;
    }
    types
};

/// Events, each stored once; an event seen again adds what it parked to what its row
/// already lists (an entry twice is read once: see [`parked::unattempted`]). Without
/// `found`, an event seen again fails the statement.
fn insert_events(p: usize, found: bool) -> String {
    let on_conflict = match found {
        true => {
            "ON CONFLICT (tenant_id, id, event_at) DO UPDATE
               SET parked = coalesce(ev.parked, '[]'::jsonb) || EXCLUDED.parked
               WHERE EXCLUDED.parked IS NOT NULL"
        }
        false => "",
    };
    format!(
        "INSERT INTO events AS ev
           (tenant_id, id, event_at, type, occurred_at, traceparent, data, data_zstd, parked)
         SELECT t, i, a, ty, o, tp, d, z, pk::jsonb
         FROM unnest({}) AS r(t, i, a, ty, o, tp, d, z, pk)
         {on_conflict}",
        arrays(p, &EVENT_TYPES)
    )
}

/// What a delivery's write does to a row it finds.
#[derive(Clone, Copy)]
enum Conflict {
    /// Moves it on: its state moves on, except that one seen waiting for its turn does
    /// not undo a delivery made meanwhile by another handler; its attempt count never
    /// goes back.
    Upsert,
    /// Leaves it be: written only where the delivery has no row yet (see
    /// [`Record::if_new`]).
    Skip,
    /// Fails the statement ([`Rows::New`]).
    Refuse,
}

/// Deliveries' rows, as [`Deliveries`] gives their columns, from parameter `p`. With
/// `first`, each takes its first attempt from `f` where its row has none yet, and the
/// statement returns the first attempt each row it wrote holds.
fn insert_deliveries(p: usize, conflict: Conflict, first: bool) -> String {
    let (mut columns, mut values, mut join, mut returning) =
        (String::new(), String::new(), String::new(), String::new());
    let mut keep_first = String::new();
    if first {
        for (field, _) in ATTEMPT_FIELDS {
            columns.push_str(&format!(", first_{field}"));
            values.push_str(&format!(", f.{field}"));
            keep_first.push_str(&format!(
                ", first_{field} = CASE WHEN d.first_at IS NULL THEN EXCLUDED.first_{field} ELSE d.first_{field} END"
            ));
        }
        join = "LEFT JOIN f ON (f.tenant_id, f.delivery_id, f.event_at) = (r.t, r.i, r.ea)".into();
        returning = "RETURNING d.tenant_id, d.id, d.event_at, d.first_at".into();
    }
    let on_conflict = match conflict {
        Conflict::Refuse => String::new(),
        Conflict::Skip => "ON CONFLICT DO NOTHING".to_owned(),
        Conflict::Upsert => format!(
            "ON CONFLICT (tenant_id, id, event_at) DO UPDATE SET
                status = EXCLUDED.status,
                attempts = greatest(d.attempts, EXCLUDED.attempts),
                updated_at = EXCLUDED.updated_at,
                next_at = EXCLUDED.next_at,
                blocking = EXCLUDED.blocking{keep_first}
             WHERE NOT (EXCLUDED.status = 'pending' AND d.status = 'delivered')"
        ),
    };
    format!(
        "INSERT INTO deliveries AS d
           (tenant_id, id, event_at, event_id, hook_id, type, status, attempts, created_at,
            updated_at, next_at, hook_digest, blocking{columns})
         SELECT r.t, r.i, r.ea, r.e, r.h, r.ty, r.s, r.a, now(), now(), r.n, r.hk, r.b{values}
         FROM unnest({}) AS r(t, i, ea, e, h, ty, s, a, n, hk, b) {join}
         {on_conflict} {returning}",
        arrays(p, &DELIVERY_TYPES)
    )
}

/// PostgreSQL's text cannot hold NUL; a response may.
fn text(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| s.replace('\0', "\u{fffd}"))
}

/// The group's events as columns.
#[derive(Default)]
struct Events<'a> {
    tenant: Vec<&'a str>,
    id: Vec<&'a str>,
    at: Vec<SystemTime>,
    kind: Vec<&'a str>,
    occurred: Vec<Option<&'a str>>,
    traceparent: Vec<Option<&'a str>>,
    data: Vec<Option<&'a str>>,
    data_zstd: Vec<Option<&'a [u8]>>,
    parked: Vec<Option<String>>,
}

impl<'a> Events<'a> {
    fn params(&self) -> [&(dyn ToSql + Sync); EVENT_TYPES.len()] {
        [
            &self.tenant,
            &self.id,
            &self.at,
            &self.kind,
            &self.occurred,
            &self.traceparent,
            &self.data,
            &self.data_zstd,
            &self.parked,
        ]
    }

    /// Each event once (an upsert may not touch one row twice), with what all its
    /// writes in the group parked.
    fn of(group: &[&'a Batch]) -> Self {
        let mut c = Events::default();
        let mut parked: Vec<Vec<&Parked>> = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for b in group {
            let Some(e) = &b.event else { continue };
            let key = (b.tenant.as_str(), e.id.as_str(), b.event_at);
            let i = *seen.entry(key).or_insert_with(|| {
                c.tenant.push(&b.tenant);
                c.id.push(&e.id);
                c.at.push(from_ms(b.event_at));
                c.kind.push(&e.kind);
                c.occurred.push(e.occurred_at.as_deref());
                c.traceparent.push(e.traceparent.as_deref());
                let (text, frame) = e.data.columns();
                c.data.push(text);
                c.data_zstd.push(frame);
                parked.push(Vec::new());
                parked.len() - 1
            });
            parked[i].extend(&e.parked);
        }
        c.parked = parked.into_iter().map(parked::encode).collect();
        c
    }
}

/// Deliveries as columns.
#[derive(Default)]
struct Deliveries<'a> {
    tenant: Vec<&'a str>,
    id: Vec<DeliveryKey>,
    at: Vec<SystemTime>,
    event_id: Vec<&'a str>,
    hook_id: Vec<HookKey>,
    kind: Vec<&'a str>,
    status: Vec<EnumColumn<Status>>,
    attempts: Vec<i32>,
    next_at: Vec<Option<SystemTime>>,
    hook_digest: Vec<i64>,
    blocking: Vec<bool>,
}

impl<'a> Deliveries<'a> {
    fn params(&self) -> [&(dyn ToSql + Sync); DELIVERY_TYPES.len()] {
        [
            &self.tenant,
            &self.id,
            &self.at,
            &self.event_id,
            &self.hook_id,
            &self.kind,
            &self.status,
            &self.attempts,
            &self.next_at,
            &self.hook_digest,
            &self.blocking,
        ]
    }

    fn of(rows: &[(&'a Batch, &'a DeliveryRow)]) -> Result<Self> {
        let mut c = Deliveries::default();
        for (b, d) in rows {
            c.tenant.push(&b.tenant);
            c.id.push(DeliveryKey::of_made(&d.id)?);
            c.at.push(from_ms(b.event_at));
            c.event_id.push(&d.event_id);
            c.hook_id.push(HookKey::of_made(&d.hook_id)?);
            c.kind.push(&d.kind);
            c.status.push(EnumColumn(d.status));
            c.attempts.push(d.attempts);
            c.next_at.push(d.next_at.map(from_ms));
            c.hook_digest.push(d.hook_digest);
            c.blocking.push(d.blocking);
        }
        Ok(c)
    }
}

/// The hook snapshots the group's deliveries name, each once.
#[derive(Default)]
struct Snapshots<'a> {
    tenant: Vec<&'a str>,
    hook_id: Vec<HookKey>,
    digest: Vec<i64>,
    hook: Vec<&'a str>,
}

impl<'a> Snapshots<'a> {
    fn params(&self) -> [&(dyn ToSql + Sync); SNAPSHOT_TYPES.len()] {
        [&self.tenant, &self.hook_id, &self.digest, &self.hook]
    }

    fn of(group: &[&'a Batch]) -> Result<Self> {
        let mut c = Snapshots::default();
        let mut seen = HashSet::new();
        for b in group {
            let rows = b
                .deliveries
                .iter()
                .map(|d| (&d.hook_id, d.hook_digest, &d.hook));
            let parked = b.event.iter().flat_map(|e| &e.parked);
            for (hook_id, digest, hook) in
                rows.chain(parked.map(|p| (&p.hook_id, p.digest, &p.hook)))
            {
                if seen.insert((b.tenant.as_str(), hook_id.as_str(), digest)) {
                    c.tenant.push(&b.tenant);
                    c.hook_id.push(HookKey::of_made(hook_id)?);
                    c.digest.push(digest);
                    c.hook.push(hook);
                }
            }
        }
        Ok(c)
    }
}

/// The group's attempts as columns.
#[derive(Default)]
struct Attempts<'a> {
    tenant: Vec<&'a str>,
    id: Vec<DeliveryKey>,
    at: Vec<SystemTime>,
    attempt: Vec<i32>,
    started: Vec<SystemTime>,
    duration: Vec<i64>,
    outcome: Vec<EnumColumn<OutcomeKind>>,
    status: Vec<Option<i32>>,
    error: Vec<Option<String>>,
    response: Vec<Option<String>>,
    retry_after: Vec<Option<i64>>,
    uuid: Vec<Option<&'a str>>,
    /// The signature headers' MACs, each its own column (see [`signature_macs`]).
    sha1: Vec<Option<Vec<u8>>>,
    sha1_previous: Vec<Option<Vec<u8>>>,
    signed_at: Vec<Option<i64>>,
    standard: Vec<Option<Vec<u8>>>,
}

impl<'a> Attempts<'a> {
    fn params(&self) -> [&(dyn ToSql + Sync); ATTEMPT_TYPES.len()] {
        [
            &self.tenant,
            &self.id,
            &self.at,
            &self.attempt,
            &self.started,
            &self.duration,
            &self.outcome,
            &self.status,
            &self.error,
            &self.response,
            &self.retry_after,
            &self.uuid,
            &self.sha1,
            &self.sha1_previous,
            &self.signed_at,
            &self.standard,
        ]
    }

    fn of(group: &[&'a Batch]) -> Result<Self> {
        let mut c = Attempts::default();
        for b in group {
            for r in &b.attempts {
                let a = &r.attempt;
                c.tenant.push(&b.tenant);
                c.id.push(DeliveryKey::of_made(&r.delivery_id)?);
                c.at.push(from_ms(b.event_at));
                c.attempt.push(a.attempt as i32);
                c.started.push(from_ms(a.at));
                c.duration.push(a.duration_ms as i64);
                c.outcome.push(EnumColumn(a.outcome));
                c.status.push(a.status.map(i32::from));
                c.error.push(text(&a.error));
                c.response.push(text(&a.response));
                c.retry_after.push(a.retry_after_s.map(|s| s as i64));
                c.uuid.push(a.uuid.as_deref());
                let s = a.signatures.as_ref();
                let previous = s.and_then(|s| s.sha1_previous.as_deref());
                c.sha1
                    .push(s.map(|s| signature_macs::sha1_mac(&s.sha1)).transpose()?);
                c.sha1_previous
                    .push(previous.map(signature_macs::sha1_mac).transpose()?);
                c.signed_at.push(s.map(|s| s.timestamp));
                c.standard.push(
                    s.map(|s| signature_macs::standard_macs(&s.standard))
                        .transpose()?,
                );
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpost_core::ids::ordered_id;

    #[test]
    fn a_snapshots_digest_is_the_start_of_its_sha256() {
        // Worked out apart from this code (Python's hashlib): the digests stored name
        // snapshots across versions.
        let json = r#"{"id":"hook_1","url":"https://example.com/hook","events":["*"]}"#;
        assert_eq!(snapshot_digest(json), 2_128_726_862_957_165_078);
        assert_ne!(
            snapshot_digest(json),
            snapshot_digest(&json.replace('*', "a.b"))
        );
    }

    #[test]
    fn an_event_twice_in_a_group_is_one_row_with_all_it_parked() {
        let sight = |hooks: &[&str]| Batch {
            tenant: "acme".into(),
            event_at: 7,
            event: Some(EventRow {
                id: "e".into(),
                kind: "t".into(),
                occurred_at: None,
                traceparent: None,
                data: Payload::pack("{}"),
                parked: hooks.iter().map(|h| Parked::new(h, "{}", 9)).collect(),
            }),
            deliveries: Vec::new(),
            attempts: Vec::new(),
            urgent: false,
        };
        let (a, b, other) = (
            sight(&["h1"]),
            sight(&["h2"]),
            Batch {
                tenant: "other".into(),
                ..sight(&[])
            },
        );
        let e = Events::of(&[&a, &b, &other]);
        assert_eq!((e.tenant.clone(), e.id.len()), (vec!["acme", "other"], 2));
        let digest = snapshot_digest("{}");
        assert_eq!(
            e.parked,
            [
                Some(format!(r#"[["h1",{digest},9],["h2",{digest},9]]"#)),
                None
            ]
        );
    }

    #[test]
    fn a_groups_snapshots_are_each_named_once() {
        let batch = |tenant: &str, hooks: &[(&str, &str)]| Batch {
            tenant: tenant.into(),
            event_at: 0,
            event: None,
            deliveries: hooks
                .iter()
                .map(|(hook_id, json)| DeliveryRow {
                    id: format!("dlv_{hook_id}"),
                    event_id: "e".into(),
                    hook_id: (*hook_id).into(),
                    kind: "t".into(),
                    status: Status::Delivered,
                    attempts: 1,
                    next_at: None,
                    hook: (*json).into(),
                    hook_digest: snapshot_digest(json),
                    blocking: false,
                    if_new: false,
                })
                .collect(),
            attempts: Vec::new(),
            urgent: false,
        };
        let (h1, h2) = (ordered_id("hook"), ordered_id("hook"));
        let (h1, h2) = (h1.as_str(), h2.as_str());
        let (a, b) = (
            batch("acme", &[(h1, "v1"), (h2, "v1"), (h1, "v1")]),
            batch("acme", &[(h1, "v1"), (h1, "v2")]),
        );
        let other = batch("other", &[(h1, "v1")]);
        let s = Snapshots::of(&[&a, &b, &other]).unwrap();
        let named: Vec<(&str, String, &str)> = (0..s.tenant.len())
            .map(|i| (s.tenant[i], s.hook_id[i].id(), s.hook[i]))
            .collect();
        let (h1, h2) = (h1.to_owned(), h2.to_owned());
        assert_eq!(
            named,
            [
                ("acme", h1.clone(), "v1"),
                ("acme", h2, "v1"),
                ("acme", h1.clone(), "v2"),
                ("other", h1, "v1")
            ]
        );
    }
}
