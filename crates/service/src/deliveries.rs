//! The delivery log (HappyFox's "webhooks log"), event lookup, resend and skip, each
//! scoped to one tenant. Times are RFC 3339 with milliseconds (milliseconds since the
//! epoch are read too, in queries). The log is read from
//! PostgreSQL; whether a delivery blocks its ordering key is ordering state, in Redis.

use hookpost_broker::Outgoing;
use hookpost_core::task::{AttemptTask, Task};
use hookpost_db::log::{Filter, LoggedEvent};
use hookpost_store::log::{Delivery, Status};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AppState, ServiceError};

/// A delivery as the list shows it (attempts only on the delivery's own page).
pub fn summary(d: &Delivery) -> Value {
    use hookpost_core::rfc3339;
    json!({
        "id": d.id, "event_id": d.event_id, "hook_id": d.hook_id, "event": d.kind,
        "status": d.status, "attempt_count": d.attempt_count,
        "created_at": rfc3339(d.created_at), "updated_at": rfc3339(d.updated_at),
        "next_attempt_at": d.next_attempt_at.map(rfc3339),
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
    /// RFC 3339, or milliseconds since the epoch.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

fn parse_cursor(c: &str) -> Result<(i64, String), ServiceError> {
    c.split_once('.')
        .filter(|(_, id)| hookpost_core::delivery::is_delivery_id(id))
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
    let time = |field: &str, given: &Option<String>| {
        given
            .as_deref()
            .map(|t| {
                hookpost_core::timestamp::parse(t)
                    .ok_or_else(|| ServiceError::invalid(field, "must be an RFC 3339 time"))
            })
            .transpose()
    };
    let filter = Filter {
        hook: q.hook.as_deref(),
        status,
        kind: q.event.as_deref(),
        from: time("from", &q.from)?,
        to: time("to", &q.to)?,
    };
    let (page, next) = state
        .db
        .deliveries_page(tenant, &filter, cursor.as_ref(), limit)
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
    let mut d = state
        .db
        .delivery(tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("delivery"))?;
    d.blocking = state.store.blocking(tenant, &[id]).await?[0];
    Ok(d)
}

/// A tenant's event and every delivery it caused, as `GET /v1/events/{id}` shows them.
pub async fn event(state: &AppState, tenant: &str, id: &str) -> Result<Value, ServiceError> {
    let (e, deliveries) = event_with_deliveries(state, tenant, id).await?;
    let deliveries: Vec<Value> = deliveries.iter().map(detail).collect();
    let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
    Ok(json!({
        "event": { "id": e.id, "type": e.kind, "occurred_at": e.occurred_at, "received_at": hookpost_core::rfc3339(e.received_at), "data": data },
        "deliveries": deliveries,
    }))
}

/// A tenant's event and every delivery it caused; 404 when the tenant has no such event.
pub async fn event_with_deliveries(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<(LoggedEvent, Vec<Delivery>), ServiceError> {
    let id = crate::path_id::event(id)?;
    let e = state
        .db
        .event(tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("event"))?;
    let mut deliveries = state.db.event_deliveries(tenant, id).await?;
    let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    let blocking = state.store.blocking(tenant, &ids).await?;
    for (d, b) in deliveries.iter_mut().zip(blocking) {
        d.blocking = b;
    }
    Ok((e, deliveries))
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
        state.db.event(tenant, &d.event_id)
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
    // The truth first: a skip that fails after it is made again (Redis still blocks).
    state.db.unblock(tenant, &d.id).await?;
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
    let failed = Filter {
        hook: Some(hook_id),
        status: Some(Status::Failed),
        from: since,
        ..Filter::default()
    };
    let mut queued = 0;
    let mut cursor = None;
    loop {
        let (page, next) = state
            .db
            .deliveries_page(tenant, &failed, cursor.as_ref(), 100)
            .await?;
        queue_resends(state, tenant, &page).await?;
        queued += page.len();
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(queued),
        }
    }
}
