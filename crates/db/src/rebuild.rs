//! Putting back into a Redis that came back empty what PostgreSQL holds of the hot path:
//! deliveries waiting for an attempt (in the retry set, with the hot state that attempt
//! reads) and ordered hooks' keys (each key's deliveries not ended, in the order their
//! events were received, a blocking one holding its key).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use hookpost_core::ordering::Ordering;
use hookpost_core::Hook;
use hookpost_store::backlog::ParkedEntry;
use hookpost_store::events::StoredEvent;
use hookpost_store::log::{Delivery, Status};
use hookpost_store::ordering::{turn_task, Ordered};
use hookpost_store::Store;
use tokio_postgres::Row;

use crate::config::Rebuilt;
use crate::log::{status_of, LoggedEvent, DELIVERY};
use crate::time::to_ms;
use crate::{Db, DeliveryKey, HookKey, Result};

/// How long a rebuild holds its lock unrenewed: a process that died rebuilding lets
/// another take over then.
const LEASE: Duration = Duration::from_secs(30);

/// When Redis lacks the keyspace marker: puts back what PostgreSQL holds (tenants, keys,
/// hooks, deliveries waiting for an attempt, ordered hooks' keys), counts it in
/// `rebuilds` and logs it, then writes the marker; `true` when this call wrote it. Any
/// role may call it at any time: one process at a time rebuilds, under a lock in Redis,
/// and the others find the marker once it is done.
pub async fn rebuild_and_mark(
    db: &Db,
    store: &Store,
    rebuilds: &prometheus::IntCounter,
) -> Result<bool> {
    let missing = || async { Ok((!store.marker_present().await?).then_some(())) };
    let Some((token, ())) = lock_while(store, missing).await? else {
        return Ok(false);
    };
    let done = locked(store, &token, rebuild(db, store)).await?;
    if done.tenants > 0 {
        rebuilds.inc();
        tell(
            &done,
            "Redis had no keyspace marker: rebuilt from PostgreSQL",
        );
    }
    let written = store.init_marker().await?;
    store.rebuild_unlock().await?;
    Ok(written)
}

/// When Redis restarted or failed over since the keyspace was last made whole, and came
/// back with its marker but perhaps without its last writes (an append-only file fsynced
/// once a second, a snapshot, a replica behind): puts back every delivery waiting for an
/// attempt whose task or hot state it lost, as a rebuild does (a task it still holds is
/// the same entry; hot state it holds is kept), after making its API keys and hooks what
/// PostgreSQL holds ([`Db::resync_config`]); counts it in `resyncs` and logs it;
/// `true` when this call did. One process at a time, under the rebuild's lock.
pub async fn resync_after_restart(
    db: &Db,
    store: &Store,
    resyncs: &prometheus::IntCounter,
) -> Result<bool> {
    // A server back empty is a rebuild's job.
    let restarted = || async {
        match store.server_changed().await? {
            Some(run_id) if store.marker_present().await? => Ok(Some(run_id)),
            _ => Ok(None),
        }
    };
    let Some((token, run_id)) = lock_while(store, restarted).await? else {
        return Ok(false);
    };
    let done = locked(store, &token, resync(db, store)).await?;
    store.server_seen(&run_id).await?;
    store.rebuild_unlock().await?;
    resyncs.inc();
    tell(
        &done,
        "Redis restarted (or failed over) and may lack its last writes: made its keys and \
         hooks what PostgreSQL holds, and put back every delivery waiting for an attempt",
    );
    Ok(true)
}

/// Takes the rebuild's lock when `needed` finds work, and keeps it when `needed` still
/// finds it once the lock is held (another process may have done it in between): the
/// lock's token and what `needed` found.
async fn lock_while<T, F, Fut>(store: &Store, needed: F) -> Result<Option<(String, T)>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    if needed().await?.is_none() {
        return Ok(None);
    }
    let token = hookpost_core::ids::random_id("rb");
    if !store.rebuild_lock(&token, LEASE).await? {
        return Ok(None);
    }
    match needed().await? {
        Some(found) => Ok(Some((token, found))),
        None => {
            store.rebuild_unlock().await?;
            Ok(None)
        }
    }
}

/// Logs what a rebuild or a resync put back.
fn tell(done: &Rebuilt, what: &str) {
    tracing::warn!(
        tenants = done.tenants,
        keys = done.keys,
        hooks = done.hooks,
        retries = done.retries,
        ordered = done.ordered,
        "{what}"
    );
}

/// Config first, so that a retry put back finds its hook.
async fn resync(db: &Db, store: &Store) -> Result<Rebuilt> {
    let config = db.resync_config(store).await?;
    Ok(Rebuilt {
        retries: db.rebuild_retries(store).await?,
        ..config
    })
}

/// Runs `work` holding the rebuild's lock, renewed meanwhile; lets the lock go at once
/// if `work` fails (the next try need not wait for the lease to run out).
async fn locked<T>(
    store: &Store,
    token: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let renew = async {
        loop {
            tokio::time::sleep(LEASE / 3).await;
            if let Err(e) = store.rebuild_lock(token, LEASE).await {
                tracing::warn!(error = %e, "could not renew the rebuild's lock");
            }
        }
    };
    let done = tokio::select! {
        done = work => done,
        _ = renew => unreachable!("the renewal never ends"),
    };
    if done.is_err() {
        let _ = store.rebuild_unlock().await;
    }
    done
}

/// Keys and hooks last: until they are back, no request authenticates and no event is
/// accepted, so none is registered on an ordering key ahead of the deliveries that
/// waited on it before. Each tenant's record comes after its keys and hooks: a worker
/// takes an event of a tenant it finds as one whose hot state is whole.
async fn rebuild(db: &Db, store: &Store) -> Result<Rebuilt> {
    let ordered = db.rebuild_ordering(store).await?;
    let retries = db.rebuild_retries(store).await?;
    Ok(Rebuilt {
        retries,
        ordered,
        ..db.rebuild_config(store).await?
    })
}

impl Db {
    /// Puts every delivery waiting for its next attempt (`retrying`, or `pending` with a
    /// time, parked ones included: [`crate::parked`]) back into Redis's retry set, with
    /// the hot state that attempt reads; how many. A page of [`RESTORE_PAGE`]
    /// deliveries at a time, each page one query (the deliveries with their events) and
    /// two Redis round trips (their state, their retries), so that a million waiting
    /// retries come back in thousands of round trips, not millions. A delivery whose
    /// event's day was dropped (past the retention) is left out.
    pub async fn rebuild_retries(&self, store: &Store) -> Result<usize> {
        let client = self.client().await?;
        let mut done = 0;
        for tenant in self.tenant_ids().await? {
            // One status at a time, named as a literal: each page is a range of an index
            // of deliveries. The page is taken first and its events looked up for it
            // (LATERAL): joined plainly, the planner misjudged the join and read both
            // tables whole for every page (98 ms a page of 100,000, against 3.6).
            for status in ["retrying", "pending"] {
                let sql = format!(
                    "SELECT d.*, e.data, e.data_zstd, e.occurred_at, e.traceparent FROM (
                       SELECT tenant_id, {DELIVERY} FROM deliveries
                       WHERE tenant_id = $1 AND status = '{status}' AND next_at IS NOT NULL
                         AND (created_at, id) > ($2, $3)
                       ORDER BY created_at, id LIMIT {RESTORE_PAGE}) d
                     LEFT JOIN LATERAL (
                       SELECT data, data_zstd, occurred_at, traceparent FROM events e
                       WHERE e.tenant_id = d.tenant_id AND e.id = d.event_id
                         AND e.event_at = d.event_at) e ON true
                     ORDER BY d.created_at, d.id"
                );
                let mut after = (SystemTime::UNIX_EPOCH, DeliveryKey::FIRST);
                loop {
                    let rows = client.query(&sql, &[&tenant, &after.0, &after.1]).await?;
                    let Some(last) = rows.last() else { break };
                    after = (last.get("created_at"), last.get("id"));
                    let page = rows
                        .iter()
                        .filter_map(|row| restorable(row, &tenant).transpose())
                        .collect::<Result<Vec<_>>>()?;
                    done += restore(store, &tenant, &page).await?;
                    if rows.len() < RESTORE_PAGE {
                        break;
                    }
                }
            }
            done += restore_parked(&client, store, &tenant).await?;
        }
        Ok(done)
    }
}

/// Puts back a tenant's parked deliveries without rows of their own into their hooks'
/// backlogs, a page of events at a time, in the order the events came (the partial
/// index of those that parked); how many. As at their first sight, Redis keeps an
/// entry for each and not its payload: a hook that hung for hours before Redis was
/// lost does not fill the rebuilt Redis with its events.
async fn restore_parked(
    client: &tokio_postgres::Client,
    store: &Store,
    tenant: &str,
) -> Result<usize> {
    let sql = format!(
        "SELECT {} FROM events
             WHERE tenant_id = $1 AND parked IS NOT NULL AND (event_at, id) > ($2, $3)
             ORDER BY event_at, id LIMIT {PARKING_PAGE}",
        crate::parked::EVENT_COLUMNS
    );
    let (mut done, mut after) = (0, (SystemTime::UNIX_EPOCH, String::new()));
    loop {
        let events = client.query(&sql, &[&tenant, &after.0, &after.1]).await?;
        let Some(last) = events.last() else { break };
        after = (last.get("event_at"), last.get("id"));
        let mut waiting = crate::parked::unattempted(client, tenant, &events).await?;
        waiting.sort_by_key(|(i, _)| *i);
        let page: Vec<ParkedEntry<'_>> = (waiting.iter())
            .map(|(_, d)| ParkedEntry {
                hook_id: &d.hook_id,
                event_id: &d.event_id,
                due_ms: d.next_attempt_at.unwrap_or_else(hookpost_core::now_ms),
            })
            .collect();
        store.restore_backlogs(tenant, &page).await?;
        done += page.len();
        if events.len() < PARKING_PAGE {
            break;
        }
    }
    Ok(done)
}

/// Puts a page of waiting deliveries back: their hot state, then their next attempts'
/// tasks; how many.
async fn restore(store: &Store, tenant: &str, page: &[(Delivery, StoredEvent)]) -> Result<usize> {
    store.restore_deliveries(tenant, page).await?;
    let dues: Vec<_> = page.iter().map(|(d, _)| d.next_attempt(tenant)).collect();
    store.schedule(&dues).await?;
    Ok(dues.len())
}

/// Waiting deliveries restored a page at a time: one transaction in Redis each.
const RESTORE_PAGE: usize = 500;
/// Events that parked deliveries, read a page at a time (a hanging hook's tenant parks
/// one a hook: a page of up to a few hundred deliveries).
const PARKING_PAGE: usize = 50;

/// A waiting delivery of a page with its event, as Redis keeps them for its next
/// attempt; `None` when its event's day was dropped (past the retention).
fn restorable(row: &Row, tenant: &str) -> Result<Option<(Delivery, StoredEvent)>> {
    with_event(crate::log::delivery(row)?, row, tenant)
}

/// A waiting delivery with its event, from `row`'s event columns; `None` when the row
/// has no payload (its event's day was dropped).
fn with_event(d: Delivery, row: &Row, tenant: &str) -> Result<Option<(Delivery, StoredEvent)>> {
    let Some(data) = crate::payload::of_row(row)? else {
        return Ok(None);
    };
    let event = LoggedEvent {
        id: d.event_id.clone(),
        kind: d.kind.clone(),
        data,
        received_at: to_ms(row.get("event_at")),
        occurred_at: row.get("occurred_at"),
        traceparent: row.get("traceparent"),
    };
    Ok(Some((d, event.stored(tenant))))
}

impl Db {
    /// Puts ordered hooks' keys back: every delivery of theirs not ended (`pending`,
    /// `retrying`, or failed and blocking its key) registered on its key in the order
    /// their events were received (an attempted one first), a blocking one holding its
    /// key, and each key's first delivery sent for at once when it waits for its turn (a
    /// duplicate of that task finds it busy or ended). How many deliveries.
    /// Registrations that only Redis held, of events still on their way in RabbitMQ, are
    /// made again as those events arrive, behind these.
    ///
    /// The deliveries come sorted once, through a cursor read [`REGISTER_CHUNK`] at a
    /// time, so that a big ordered backlog (each with its payload, to find its key) is
    /// never held whole.
    pub async fn rebuild_ordering(&self, store: &Store) -> Result<usize> {
        let mut client = self.client().await?;
        let mut done = 0;
        for tenant in self.tenant_ids().await? {
            // The tenant's hooks that deliver in order, by id.
            let ordered: HashMap<String, Ordering> = self
                .hooks_of(&client, &tenant)
                .await?
                .into_iter()
                .filter_map(|(id, json)| {
                    let hook: Hook = serde_json::from_str(&json).ok()?;
                    Some((id, hook.controls.ordering().ok()??))
                })
                .collect();
            if ordered.is_empty() {
                continue;
            }
            // A hook id of another form has no deliveries to look for.
            let hook_ids: Vec<HookKey> = ordered.keys().filter_map(|h| HookKey::of(h)).collect();
            let tx = client.transaction().await?;
            // The status literals let the planner use the index of deliveries not delivered.
            // A key's attempted delivery goes first: only its first is ever attempted, and
            // its event may tie on time with the next one's (taken in the same ms).
            let stmt = tx
                .prepare_cached(
                    "SELECT d.id, d.event_id, d.hook_id, d.status, e.data, e.data_zstd
                     FROM deliveries d JOIN events e
                       ON e.tenant_id = d.tenant_id AND e.id = d.event_id AND e.event_at = d.event_at
                     WHERE d.tenant_id = $1 AND d.hook_id = ANY($2)
                       AND (d.status IN ('pending', 'retrying') OR (d.status = 'failed' AND d.blocking))
                     ORDER BY d.attempts = 0, d.event_at, d.created_at, d.id",
                )
                .await?;
            let cursor = tx.bind(&stmt, &[&tenant, &hook_ids]).await?;
            // The keys met so far: a key's first delivery is the head of its queue.
            let mut seen = HashSet::new();
            loop {
                let rows = tx.query_portal(&cursor, REGISTER_CHUNK as i32).await?;
                register_page(store, &tenant, &ordered, &rows, &mut seen).await?;
                done += rows.len();
                if rows.len() < REGISTER_CHUNK {
                    break;
                }
            }
            tx.commit().await?;
        }
        Ok(done)
    }
}

/// Registers a page of ordered deliveries (in order, after the pages before), and deals
/// with the keys whose first delivery it holds: a failed one blocks its key again; one
/// waiting for its turn is sent for now (a retrying one has its retry).
async fn register_page(
    store: &Store,
    tenant: &str,
    ordered: &HashMap<String, Ordering>,
    rows: &[Row],
    seen: &mut HashSet<(String, String)>,
) -> Result<()> {
    // Each one's ids as the API shows them, and its key, from its event's data.
    let ids: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            let (id, hook) = (row.get::<_, DeliveryKey>(0), row.get::<_, HookKey>(2));
            (id.id(), hook.id())
        })
        .collect();
    let key_ids: Vec<String> = rows
        .iter()
        .zip(&ids)
        .map(|(row, (_, hook_id))| {
            let data = crate::payload::of_row(row)?.unwrap_or_default();
            let data = serde_json::from_str(&data).unwrap_or_default();
            Ok(ordered[hook_id].key_id(&data))
        })
        .collect::<Result<_>>()?;
    let deliveries: Vec<Ordered<'_>> = rows
        .iter()
        .zip(&key_ids)
        .zip(&ids)
        .map(|((row, key_id), (id, hook_id))| Ordered {
            hook_id,
            key_id,
            delivery_id: id,
            event_id: row.get(1),
        })
        .collect();
    store.order_register_rebuilt(tenant, &deliveries).await?;
    let mut heads = Vec::new();
    for (d, row) in deliveries.iter().zip(rows) {
        if !seen.insert((d.hook_id.to_owned(), d.key_id.to_owned())) {
            continue;
        }
        match status_of(row, 3)? {
            Status::Failed => store.order_block(tenant, d).await?,
            Status::Pending => heads.extend(turn_task(tenant, d.hook_id, &d.member())),
            _ => {}
        }
    }
    store.schedule(&heads).await?;
    Ok(())
}

/// Ordered deliveries read and registered at a time (one script's keys).
const REGISTER_CHUNK: usize = 500;
