//! The delivery log's reads. Each list is one indexed query, newest first, with keyset
//! pagination: a page continues after the `(created_at, id)` of the last row seen, so a
//! deep page costs what the first does.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::SystemTime;

use hookpost_core::outcome::{Attempt, OutcomeKind};
use hookpost_core::signing::Signatures;
use hookpost_store::log::{Delivery, HookActivity, Status};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::parked;
use crate::signature_macs;
use crate::time::{from_ms, from_us, to_ms, to_us};
use crate::{Db, DbError, DeliveryKey, EnumColumn, HookKey, Result};

/// Where a page ends: the last row's `created_at` (µs since the epoch) and id.
pub type Cursor = (i64, String);

/// Which deliveries a list shows; `None`: any.
#[derive(Debug, Default, Clone)]
pub struct Filter<'a> {
    pub hook: Option<&'a str>,
    pub status: Option<Status>,
    pub kind: Option<&'a str>,
    /// Created at or after (ms).
    pub from: Option<i64>,
    /// Created at or before (ms).
    pub to: Option<i64>,
}

/// An event as the log keeps it.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    pub id: String,
    pub kind: String,
    pub data: String,
    /// ms since the epoch.
    pub received_at: i64,
    pub occurred_at: Option<String>,
    pub traceparent: Option<String>,
}

impl LoggedEvent {
    /// The event as Redis keeps it for its next attempts: processed.
    pub fn stored(self, tenant: &str) -> hookpost_store::events::StoredEvent {
        hookpost_store::events::StoredEvent {
            id: self.id,
            tenant: tenant.to_owned(),
            kind: self.kind,
            data: self.data,
            received_at: self.received_at,
            occurred_at: self.occurred_at,
            state: "done".into(),
            traceparent: self.traceparent,
        }
    }
}

/// A delivery's columns, from `deliveries` (unaliased): its hook snapshot is the row's own
/// text when written before migration 10, else the one its digest names.
pub(crate) const DELIVERY: &str =
    "id, event_id, hook_id, type, status, attempts, created_at, updated_at, next_at,
    coalesce(hook, (SELECT s.hook FROM hook_snapshots s
                    WHERE s.tenant_id = deliveries.tenant_id AND s.hook_id = deliveries.hook_id
                      AND s.digest = deliveries.hook_digest)) AS hook,
    event_at";

/// What an attempt records besides its key (delivery and number): each column as
/// `attempts` names it, with its PostgreSQL type. A delivery's row keeps its first
/// attempt's as `first_` and the name (migration 8).
pub(crate) const ATTEMPT_FIELDS: [(&str, &str); 12] = [
    ("at", "timestamptz"),
    ("duration_ms", "int8"),
    ("outcome", "attempt_outcome"),
    ("status", "int4"),
    ("error", "text"),
    ("response", "text"),
    ("retry_after_s", "int8"),
    ("uuid", "text"),
    ("sig_sha1", "bytea"),
    ("sig_sha1_previous", "bytea"),
    ("sig_timestamp", "int8"),
    ("sig_standard", "bytea"),
];

/// The columns of [`ATTEMPT_FIELDS`], each named after `prefix`, joined by commas.
pub(crate) fn attempt_columns(prefix: &str) -> String {
    let names: Vec<String> = ATTEMPT_FIELDS
        .iter()
        .map(|(name, _)| format!("{prefix}{name}"))
        .collect();
    names.join(", ")
}

/// The attempts of deliveries `$2` of tenant `$1`, whose event came at `$3`, in order:
/// the rows of `attempts` and the first attempts kept in the deliveries' own rows. The
/// same attempt in both places (a write made again after a lost answer may put it in
/// each) is one.
static ATTEMPTS_OF: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT delivery_id, attempt, {}, signatures
         FROM attempts WHERE tenant_id = $1 AND delivery_id = ANY($2) AND event_at = $3
         UNION
         SELECT id, 1, {}, NULL
         FROM deliveries
         WHERE tenant_id = $1 AND id = ANY($2) AND event_at = $3 AND first_at IS NOT NULL
         ORDER BY attempt, at",
        attempt_columns(""),
        attempt_columns("first_")
    )
});

impl Db {
    /// A tenant's delivery with its attempts (`blocking` is the ordering state's, in Redis).
    pub async fn delivery(&self, tenant: &str, id: &str) -> Result<Option<Delivery>> {
        let Some(key) = DeliveryKey::of(id) else {
            return Ok(None);
        };
        let client = self.client().await?;
        let Some((mut d, event_at)) = delivery_row(&client, tenant, key).await? else {
            return Ok(None);
        };
        for a in client
            .query(&*ATTEMPTS_OF, &[&tenant, &[key].as_slice(), &event_at])
            .await?
        {
            d.attempts.push(attempt(&a)?);
        }
        Ok(Some(d))
    }

    /// A tenant's delivery without its attempts: its status, attempt count and hook
    /// snapshot, what its next attempt reads.
    /// `event_at`: its event's receive time (ms) where the caller knows it, which names
    /// the one day's partition the read is then planned over.
    pub async fn delivery_state(
        &self,
        tenant: &str,
        id: &str,
        event_at: Option<i64>,
    ) -> Result<Option<Delivery>> {
        let Some(key) = DeliveryKey::of(id) else {
            return Ok(None);
        };
        let client = self.client().await?;
        let Some(at) = event_at else {
            return Ok(delivery_row(&client, tenant, key).await?.map(|(d, _)| d));
        };
        let sql = DELIVERY_BY_ID_AT.as_str();
        let row = client
            .query_opt(sql, &[&tenant, &key, &from_ms(at)])
            .await?;
        row.as_ref().map(delivery).transpose()
    }

    /// A skipped delivery lets its ordering key go for good: a Redis rebuilt from here
    /// does not block the key on it again.
    pub async fn unblock(&self, tenant: &str, id: &str) -> Result<()> {
        let Some(key) = DeliveryKey::of(id) else {
            return Ok(());
        };
        self.client()
            .await?
            .execute(
                "UPDATE deliveries SET blocking = false WHERE tenant_id = $1 AND id = $2 AND blocking",
                &[&tenant, &key],
            )
            .await?;
        Ok(())
    }

    /// A tenant's event as it was received. Prepared once per connection: its only index
    /// that holds the id is the primary key, so the cached plan cannot go astray, and
    /// planning over every day's partition cost far more than the read.
    pub async fn event(&self, tenant: &str, id: &str) -> Result<Option<LoggedEvent>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&EVENT_BY_ID).await?;
        match client.query_opt(&stmt, &[&tenant, &id]).await? {
            Some(row) => Ok(Some(logged_event(&row, tenant)?)),
            None => Ok(None),
        }
    }

    /// A tenant's events among `ids`, as they were received, in one query (a backlog's
    /// drain reads its chunk's events so, where Redis keeps none).
    pub async fn events(&self, tenant: &str, ids: &[&str]) -> Result<Vec<LoggedEvent>> {
        let client = self.client().await?;
        let stmt = client.prepare_cached(&EVENTS_BY_ID).await?;
        let rows = client.query(&stmt, &[&tenant, &ids]).await?;
        rows.iter().map(|row| logged_event(row, tenant)).collect()
    }

    /// Whether the log has the event (its payload unread: a duplicate's check).
    pub async fn event_logged(&self, tenant: &str, id: &str) -> Result<bool> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM events WHERE tenant_id = $1 AND id = $2)",
                &[&tenant, &id],
            )
            .await?;
        Ok(row.get(0))
    }

    /// The deliveries an event caused, by id, each with its attempts.
    pub async fn event_deliveries(&self, tenant: &str, event_id: &str) -> Result<Vec<Delivery>> {
        let client = self.client().await?;
        let (mut out, event_at) = event_delivery_rows(&client, tenant, event_id).await?;
        let Some(event_at) = event_at else {
            return Ok(out);
        };
        let keys: Vec<DeliveryKey> = out.iter().filter_map(|d| DeliveryKey::of(&d.id)).collect();
        let attempts = client
            .query(&*ATTEMPTS_OF, &[&tenant, &keys, &event_at])
            .await?;
        let mut by_delivery: HashMap<String, Vec<Attempt>> = HashMap::new();
        for a in &attempts {
            let id = a.get::<_, DeliveryKey>(0).id();
            by_delivery.entry(id).or_default().push(attempt(a)?);
        }
        for d in &mut out {
            d.attempts = by_delivery.remove(&d.id).unwrap_or_default();
        }
        Ok(out)
    }

    /// The deliveries an event caused, by id, without their attempts: what a take-over
    /// reads of what the event's last holder made durable.
    pub async fn event_delivery_states(
        &self,
        tenant: &str,
        event_id: &str,
    ) -> Result<Vec<Delivery>> {
        let client = self.client().await?;
        Ok(event_delivery_rows(&client, tenant, event_id).await?.0)
    }

    /// One page of a tenant's deliveries that pass `filter`, newest first, after
    /// `cursor`; the cursor of the next page (`None` after the last).
    pub async fn deliveries_page(
        &self,
        tenant: &str,
        filter: &Filter<'_>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<(Vec<Delivery>, Option<Cursor>)> {
        let status = filter.status.map(Status::as_str);
        let from = filter.from.map(from_ms);
        let to = filter.to.map(|t| from_ms(t.saturating_add(1)));
        let after = match cursor {
            Some((t, id)) => Some((from_us(*t), DeliveryKey::of_made(id)?)),
            None => None,
        };
        // A hook id of another form names no hook: no delivery has it.
        let hook = match filter.hook.map(HookKey::of) {
            Some(None) => return Ok((Vec::new(), None)),
            hook => hook.flatten(),
        };
        let limit = limit as i64;
        let mut sql = format!("SELECT {DELIVERY} FROM deliveries WHERE tenant_id = $1");
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tenant];
        // Each condition compares with the parameter just pushed.
        let cond = |sql: &mut String, params: &mut Vec<&(dyn ToSql + Sync)>, c: &str| {
            sql.push_str(&format!(" AND {c}${}", params.len()));
        };
        if let Some(h) = &hook {
            params.push(h);
            cond(&mut sql, &mut params, "hook_id = ");
        }
        if let Some(s) = status {
            // A literal (one of Status's own words): the partial index on the statuses
            // other than `delivered` is used only when the planner sees which one.
            sql.push_str(&format!(" AND status = '{s}'"));
        }
        if let Some(k) = &filter.kind {
            params.push(k);
            cond(&mut sql, &mut params, "type = ");
        }
        if let Some(f) = &from {
            params.push(f);
            cond(&mut sql, &mut params, "created_at >= ");
        }
        if let Some(t) = &to {
            params.push(t);
            cond(&mut sql, &mut params, "created_at < ");
        }
        if let Some((t, id)) = &after {
            params.push(t);
            params.push(id);
            let n = params.len();
            sql.push_str(&format!(" AND (created_at, id) < (${}, ${n})", n - 1));
        }
        params.push(&limit);
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT ${}",
            params.len()
        ));
        let rows = self.client().await?.query(&sql, &params).await?;
        let page = rows.iter().map(delivery).collect::<Result<Vec<_>>>()?;
        let next = match rows.last() {
            Some(last) if rows.len() as i64 == limit => Some((
                to_us(last.get("created_at")),
                last.get::<_, DeliveryKey>("id").id(),
            )),
            _ => None,
        };
        Ok((page, next))
    }

    /// What each of a tenant's hooks saw among the newest `cap` deliveries created since
    /// `since_ms`; `true` beside it when more were there.
    pub async fn hook_activity(
        &self,
        tenant: &str,
        since_ms: i64,
        cap: usize,
    ) -> Result<(HashMap<String, HookActivity>, bool)> {
        let since = from_ms(since_ms);
        let cap = cap as i64;
        let rows = self
            .client()
            .await?
            .query(
                "WITH recent AS (
                    SELECT hook_id, status, attempts, updated_at, created_at, id FROM deliveries
                    WHERE tenant_id = $1 AND created_at >= $2
                    ORDER BY created_at DESC, id DESC LIMIT $3::int8 + 1),
                 shown AS (SELECT * FROM recent ORDER BY created_at DESC, id DESC LIMIT $3::int8)
                 SELECT hook_id, sum(attempts)::int8,
                        sum(greatest(attempts - (status = 'delivered')::int, 0))::int8,
                        (array_agg(status ORDER BY created_at DESC, id DESC))[1],
                        (array_agg(updated_at ORDER BY created_at DESC, id DESC))[1],
                        (SELECT count(*) FROM recent) > $3::int8
                 FROM shown GROUP BY hook_id",
                &[&tenant, &since, &cap],
            )
            .await?;
        let mut truncated = false;
        let mut out = HashMap::new();
        for r in rows {
            let status = status_of(&r, 3)?;
            truncated |= r.get::<_, bool>(5);
            out.insert(
                r.get::<_, HookKey>(0).id(),
                HookActivity {
                    attempts: r.get::<_, i64>(1) as u64,
                    failed_attempts: r.get::<_, i64>(2) as u64,
                    last: Some((status, to_ms(r.get(4)))),
                },
            );
        }
        Ok((out, truncated))
    }
}

/// Column `i`'s status: one of a schema newer than this build's is an error, not a panic.
pub(crate) fn status_of(
    r: &Row,
    i: impl tokio_postgres::row::RowIndex + std::fmt::Display,
) -> Result<Status> {
    let EnumColumn(status) = r.try_get(i).map_err(|e| corrupt("delivery status", e))?;
    Ok(status)
}

pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> DbError {
    DbError::Corrupt(format!("{what}: {value}"))
}

/// An event's deliveries by id: its delivery rows, and those it parked that have none
/// yet ([`parked::unattempted`]); and the event's receive time (their partition; `None`
/// without either).
async fn event_delivery_rows(
    client: &tokio_postgres::Client,
    tenant: &str,
    event_id: &str,
) -> Result<(Vec<Delivery>, Option<SystemTime>)> {
    let sql = format!("SELECT {DELIVERY} FROM deliveries WHERE tenant_id = $1 AND event_id = $2");
    let rows = client.query(&sql, &[&tenant, &event_id]).await?;
    let parking = format!(
        "SELECT {} FROM events WHERE tenant_id = $1 AND id = $2 AND parked IS NOT NULL",
        parked::EVENT_COLUMNS
    );
    let events = client.query(&parking, &[&tenant, &event_id]).await?;
    let event_at = (rows.first().or(events.first())).map(|r| r.get::<_, SystemTime>("event_at"));
    let mut out = rows.iter().map(delivery).collect::<Result<Vec<_>>>()?;
    let waiting = parked::unattempted(client, tenant, &events).await?;
    out.extend(waiting.into_iter().map(|(_, d)| d));
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((out, event_at))
}

/// An event's columns, as [`logged_event`] reads them.
const EVENT: &str = "id, type, data, data_zstd, event_at, occurred_at, traceparent";
static EVENT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {EVENT} FROM events WHERE tenant_id = $1 AND id = $2"));
static EVENTS_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {EVENT} FROM events WHERE tenant_id = $1 AND id = ANY($2)"));

fn logged_event(row: &Row, tenant: &str) -> Result<LoggedEvent> {
    let id: String = row.get("id");
    let data = crate::payload::of_row(row)?
        .ok_or_else(|| corrupt("event payload", format!("`{id}` of `{tenant}` has none")))?;
    Ok(LoggedEvent {
        id,
        kind: row.get("type"),
        data,
        received_at: to_ms(row.get("event_at")),
        occurred_at: row.get("occurred_at"),
        traceparent: row.get("traceparent"),
    })
}

/// A delivery's row by its id alone, which names no partition.
static DELIVERY_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {DELIVERY} FROM deliveries WHERE tenant_id = $1 AND id = $2"));

static DELIVERY_BY_ID_AT: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {DELIVERY} FROM deliveries WHERE tenant_id = $1 AND id = $2 AND event_at = $3")
});

/// A delivery's row, and its event's receive time (its partition). Planned for each
/// read, not prepared: a plan made while today's partition was empty and not analyzed
/// takes one of the list indexes, which all lead with the tenant and end with the id,
/// and a cached one then walks every entry of the tenant's day for each read (seen in
/// `backlog-drain`). Only the primary key holds an event's id: see [`Db::event`].
async fn delivery_row(
    client: &tokio_postgres::Client,
    tenant: &str,
    key: DeliveryKey,
) -> Result<Option<(Delivery, SystemTime)>> {
    match client
        .query_opt(DELIVERY_BY_ID.as_str(), &[&tenant, &key])
        .await?
    {
        Some(row) => Ok(Some((delivery(&row)?, row.get("event_at")))),
        None => Ok(None),
    }
}

pub(crate) fn delivery(r: &Row) -> Result<Delivery> {
    Ok(Delivery {
        id: r.get::<_, DeliveryKey>("id").id(),
        event_id: r.get("event_id"),
        hook_id: r.get::<_, HookKey>("hook_id").id(),
        kind: r.get("type"),
        status: status_of(r, "status")?,
        attempt_count: r.get::<_, i32>("attempts") as u32,
        created_at: to_ms(r.get("created_at")),
        updated_at: to_ms(r.get("updated_at")),
        next_attempt_at: r.get::<_, Option<SystemTime>>("next_at").map(to_ms),
        hook_json: r
            .get::<_, Option<String>>("hook")
            .ok_or_else(|| corrupt("delivery's hook snapshot", "missing"))?,
        blocking: false,
        attempts: Vec::new(),
    })
}

fn attempt(r: &Row) -> Result<Attempt> {
    let EnumColumn::<OutcomeKind>(outcome) = r
        .try_get("outcome")
        .map_err(|e| corrupt("attempt outcome", e))?;
    let signatures = match r.get::<_, Option<&[u8]>>("sig_sha1") {
        Some(sha1) => {
            let missing = || corrupt("attempt signatures", "a header without the others");
            let previous = r.get::<_, Option<&[u8]>>("sig_sha1_previous");
            Some(Signatures {
                sha1: signature_macs::sha1_header(sha1)?,
                sha1_previous: previous.map(signature_macs::sha1_header).transpose()?,
                timestamp: r
                    .get::<_, Option<i64>>("sig_timestamp")
                    .ok_or_else(missing)?,
                standard: signature_macs::standard_header(
                    r.get::<_, Option<&[u8]>>("sig_standard")
                        .ok_or_else(missing)?,
                )?,
            })
        }
        // Written before the headers had columns of their own (migration 8).
        None => r
            .get::<_, Option<serde_json::Value>>("signatures")
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| corrupt("attempt signatures", e))?,
    };
    Ok(Attempt {
        attempt: r.get::<_, i32>("attempt") as u32,
        at: to_ms(r.get("at")),
        duration_ms: r.get::<_, i64>("duration_ms") as u64,
        outcome,
        status: r.get::<_, Option<i32>>("status").map(|s| s as u16),
        error: r.get("error"),
        response: r.get("response"),
        retry_after_s: r.get::<_, Option<i64>>("retry_after_s").map(|s| s as u64),
        signatures,
        uuid: r.get("uuid"),
    })
}
