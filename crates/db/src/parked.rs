//! Deliveries parked in their slow hooks' backlogs at their event's first sight. They
//! are kept in the event's row (`events.parked`, migration 11), not as a `pending` row
//! each: a hanging hook parks every delivery it is sent, and a row in `deliveries`
//! costs its key and five indexes. Until its first attempt gives it a row of its own,
//! such a delivery reads as `pending`, due when its drain comes: in its event's
//! deliveries, to a take-over, and to a rebuild of Redis.

use std::collections::HashMap;
use std::time::SystemTime;

use hookpost_core::delivery::delivery_id;
use hookpost_store::log::{Delivery, Status};
use tokio_postgres::{Client, Row};

use crate::log::corrupt;
use crate::time::to_ms;
use crate::writer::snapshot_digest;
use crate::{DeliveryKey, HookKey, Result};

/// A delivery parked in its hook's backlog, as its event's row keeps it.
#[derive(Debug, Clone)]
pub struct Parked {
    pub hook_id: String,
    /// The body's hook snapshot (stored once in `hook_snapshots`), and its digest.
    pub hook: String,
    pub digest: i64,
    /// When its hook's drain comes for it (ms).
    pub due_ms: i64,
}

impl Parked {
    pub fn new(hook_id: &str, hook: &str, due_ms: i64) -> Parked {
        Parked {
            hook_id: hook_id.to_owned(),
            hook: hook.to_owned(),
            digest: snapshot_digest(hook),
            due_ms,
        }
    }
}

/// The column's text: `[[hook_id, digest, due_ms], …]`; `None` for none.
pub(crate) fn encode<'a>(parked: impl IntoIterator<Item = &'a Parked>) -> Option<String> {
    let entries: Vec<(&str, i64, i64)> = parked
        .into_iter()
        .map(|p| (p.hook_id.as_str(), p.digest, p.due_ms))
        .collect();
    if entries.is_empty() {
        return None;
    }
    Some(serde_json::to_string(&entries).expect("strings and integers"))
}

/// The columns a row of `events` is read with for [`unattempted`].
pub(crate) const EVENT_COLUMNS: &str = "id, type, event_at, parked";

/// The deliveries that rows of `events` (read with [`EVENT_COLUMNS`]) parked and that
/// have no row of their own yet, as the log shows them: `pending`, no attempt made,
/// due when their drains come, created when their events came. Each with the index of
/// its event's row in `events`. One query, whatever the number of events.
pub(crate) async fn unattempted(
    client: &Client,
    tenant: &str,
    events: &[Row],
) -> Result<Vec<(usize, Delivery)>> {
    // An event parked again after a lost answer lists a hook twice: the last one stands.
    let mut by_id: HashMap<String, (usize, String, i64, i64)> = HashMap::new();
    for (i, row) in events.iter().enumerate() {
        let Some(parked) = row.get::<_, Option<serde_json::Value>>("parked") else {
            continue;
        };
        let entries: Vec<(String, i64, i64)> =
            serde_json::from_value(parked).map_err(|e| corrupt("parked deliveries", e))?;
        let event_id: &str = row.get("id");
        for (hook_id, digest, due) in entries {
            let id = delivery_id(tenant, event_id, &hook_id);
            by_id.insert(id, (i, hook_id, digest, due));
        }
    }
    if by_id.is_empty() {
        return Ok(Vec::new());
    }
    let (mut ids, mut ats, mut hooks, mut digests) = (vec![], vec![], vec![], vec![]);
    for (id, (i, hook_id, digest, _)) in &by_id {
        ids.push(DeliveryKey::of_made(id)?);
        ats.push(events[*i].get::<_, SystemTime>("event_at"));
        hooks.push(HookKey::of_made(hook_id)?);
        digests.push(*digest);
    }
    // Those without a row (each looked up in its event's partition), with their hook
    // snapshots.
    let rows = client
        .query(
            "SELECT k.id, s.hook FROM unnest($2::uuid[], $3::timestamptz[], $4::uuid[], $5::int8[])
                 AS k(id, at, h, dg)
             LEFT JOIN hook_snapshots s
               ON s.tenant_id = $1 AND s.hook_id = k.h AND s.digest = k.dg
             WHERE NOT EXISTS (SELECT 1 FROM deliveries d
                               WHERE d.tenant_id = $1 AND d.id = k.id AND d.event_at = k.at)",
            &[&tenant, &ids, &ats, &hooks, &digests],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id = row.get::<_, DeliveryKey>(0).id();
        let hook_json: Option<String> = row.get(1);
        let hook_json = hook_json.ok_or_else(|| corrupt("parked delivery's hook snapshot", &id))?;
        let Some((i, hook_id, _, due)) = by_id.remove(&id) else {
            continue;
        };
        let event = &events[i];
        let created_at = to_ms(event.get("event_at"));
        out.push((
            i,
            Delivery {
                id,
                event_id: event.get("id"),
                hook_id,
                kind: event.get("type"),
                status: Status::Pending,
                attempt_count: 0,
                created_at,
                updated_at: created_at,
                next_attempt_at: Some(due),
                hook_json,
                blocking: false,
                attempts: Vec::new(),
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_deliveries_are_kept_as_hook_digest_and_due() {
        assert_eq!(encode(&[]), None);
        let p = Parked::new("hook_1", r#"{"id":"hook_1"}"#, 1_700_000_000_000);
        let text = encode(std::slice::from_ref(&p)).unwrap();
        assert_eq!(text, format!(r#"[["hook_1",{},1700000000000]]"#, p.digest));
    }
}
