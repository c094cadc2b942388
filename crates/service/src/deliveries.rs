//! The delivery log (HappyFox's "webhooks log"), event lookup, resend and skip, each
//! scoped to one tenant. Times are milliseconds since the epoch.

use hookpost_broker::Outgoing;
use hookpost_core::task::{AttemptTask, Task};
use hookpost_store::events::StoredEvent;
use hookpost_store::log::{Delivery, Status};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AppState, ServiceError};

/// A delivery as the list shows it (attempts only on the delivery's own page).
pub fn summary(d: &Delivery) -> Value {
    json!({
        "id": d.id, "event_id": d.event_id, "hook_id": d.hook_id, "event": d.kind,
        "status": d.status, "attempt_count": d.attempt_count, "created_at": d.created_at,
        "updated_at": d.updated_at, "next_attempt_at": d.next_attempt_at,
    })
}

/// A delivery with its attempts, as its own page shows it.
pub fn detail(d: &Delivery) -> Value {
    let mut v = summary(d);
    if d.blocking {
        v["blocking"] = json!(true);
    }
    v["attempts"] = serde_json::to_value(&d.attempts).expect("attempts serialise");
    v
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub hook: Option<String>,
    pub status: Option<String>,
    pub event: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

fn parse_cursor(c: &str) -> Result<(i64, String), ServiceError> {
    c.split_once('.')
        .and_then(|(t, id)| Some((t.parse().ok()?, id.to_owned())))
        .ok_or_else(|| ServiceError::invalid("cursor", "is not a cursor of this list"))
}

/// A tenant's deliveries newest first, filtered by hook, status, event type and creation
/// time, `limit` (1 to 100, default 50) a page: `{deliveries, next_cursor}`.
pub async fn list(state: &AppState, tenant: &str, q: ListQuery) -> Result<Value, ServiceError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ServiceError::invalid("limit", "must be 1 to 100"));
    }
    let status = match &q.status {
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ServiceError::invalid(
                "status",
                "must be pending, retrying, delivered, failed or cancelled",
            )
        })?),
        None => None,
    };
    let cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
    let cursor = cursor.map(parse_cursor).transpose()?;
    let keep = |d: &Delivery| {
        q.hook.as_ref().is_none_or(|h| &d.hook_id == h)
            && status.is_none_or(|s| d.status == s)
            && q.event.as_ref().is_none_or(|e| &d.kind == e)
    };
    let (page, next) = state
        .store
        .deliveries_page(tenant, cursor, (q.from, q.to), limit, keep)
        .await?;
    let items: Vec<Value> = page.iter().map(summary).collect();
    Ok(json!({
        "deliveries": items,
        "next_cursor": next.map(|(t, id)| format!("{t}.{id}")),
    }))
}

/// A tenant's delivery `id`; not found when the tenant has no such delivery.
pub async fn get(state: &AppState, tenant: &str, id: &str) -> Result<Delivery, ServiceError> {
    let id = crate::path_id::delivery(id)?;
    state
        .store
        .delivery(tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("delivery"))
}

/// A tenant's event and every delivery it caused, as `GET /v1/events/{id}` shows them.
pub async fn event(state: &AppState, tenant: &str, id: &str) -> Result<Value, ServiceError> {
    let (e, deliveries) = event_with_deliveries(state, tenant, id).await?;
    let deliveries: Vec<Value> = deliveries.iter().map(detail).collect();
    let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
    Ok(json!({
        "event": { "id": e.id, "type": e.kind, "occurred_at": e.occurred_at, "received_at": e.received_at, "data": data },
        "deliveries": deliveries,
    }))
}

/// A tenant's event and every delivery it caused; 404 when the tenant has no such event.
pub async fn event_with_deliveries(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<(StoredEvent, Vec<Delivery>), ServiceError> {
    let id = crate::path_id::event(id)?;
    let e = state
        .store
        .event(tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("event"))?;
    Ok((e, state.store.event_deliveries(tenant, id).await?))
}

/// Queues attempts through RabbitMQ like any delivery; `Ok` once it confirmed them all.
pub async fn queue_resends(
    state: &AppState,
    tenant: &str,
    deliveries: &[Delivery],
) -> Result<(), ServiceError> {
    let bodies: Vec<String> = deliveries
        .iter()
        .map(|d| {
            Task::Attempt(AttemptTask {
                tenant: tenant.to_owned(),
                event_id: d.event_id.clone(),
                hook_id: d.hook_id.clone(),
                delivery_id: d.id.clone(),
                attempt: d.attempt_count + 1,
                resend: true,
            })
            .to_json()
        })
        .collect();
    let queue = &state.publisher.topology().deliveries_queue;
    let msgs: Vec<Outgoing<'_>> = bodies
        .iter()
        .map(|b| Outgoing {
            exchange: "",
            routing_key: queue,
            body: b.as_bytes(),
            message_id: None,
            headers: &[],
        })
        .collect();
    state
        .publisher
        .publish_all(&msgs)
        .await
        .map_err(|e| ServiceError::BrokerUnavailable(e.to_string()))
}

/// A new attempt of a tenant's delivery (same id and body), whatever its status; the
/// delivery as it was, once RabbitMQ confirmed the attempt.
pub async fn resend(state: &AppState, tenant: &str, id: &str) -> Result<Delivery, ServiceError> {
    let d = get(state, tenant, id).await?;
    queue_resends(state, tenant, std::slice::from_ref(&d)).await?;
    Ok(d)
}

/// A failed delivery of a tenant that blocks its ordering key lets it go; the next
/// delivery for the key is sent. Conflict when the delivery blocks nothing.
pub async fn skip(state: &AppState, tenant: &str, id: &str) -> Result<Delivery, ServiceError> {
    use hookpost_store::ordering::{turn_task, Ordered, Release};
    let d = get(state, tenant, id).await?;
    let not_blocking = || {
        ServiceError::Conflict(
            "not_blocking",
            "only a failed delivery that blocks its ordering key can be skipped".into(),
        )
    };
    if !d.blocking {
        return Err(not_blocking());
    }
    let (hook, event) = tokio::join!(
        state.store.hook(tenant, &d.hook_id),
        state.store.event(tenant, &d.event_id)
    );
    let (Some(hook), Some(event)) = (hook?, event?) else {
        return Err(not_blocking());
    };
    let Ok(Some(order)) = hook.controls.ordering() else {
        return Err(not_blocking());
    };
    let key_id = order.key_id(&serde_json::from_str(&event.data).unwrap_or_default());
    let ordered = Ordered {
        hook_id: &d.hook_id,
        key_id: &key_id,
        delivery_id: &d.id,
        event_id: &d.event_id,
    };
    let next = state
        .store
        .order_release(tenant, &ordered, Release::Done, "")
        .await?;
    let next: Vec<_> = next
        .and_then(|m| turn_task(tenant, &d.hook_id, &m))
        .into_iter()
        .collect();
    state.store.schedule(&next).await?;
    Ok(d)
}

/// Queues every failed delivery of a tenant's hook created since `since` (ms); how many.
/// 404 when the tenant has no such hook.
pub async fn resend_failed_since(
    state: &AppState,
    tenant: &str,
    hook_id: &str,
    since: Option<i64>,
) -> Result<usize, ServiceError> {
    let hook_id = crate::path_id::hook(hook_id)?;
    state
        .store
        .hook(tenant, hook_id)
        .await?
        .ok_or(ServiceError::NotFound("hook"))?;
    let keep = |d: &Delivery| d.hook_id == hook_id && d.status == Status::Failed;
    let mut queued = 0;
    let mut cursor = None;
    loop {
        let (page, next) = state
            .store
            .deliveries_page(tenant, cursor, (since, None), 100, keep)
            .await?;
        queue_resends(state, tenant, &page).await?;
        queued += page.len();
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(queued),
        }
    }
}
