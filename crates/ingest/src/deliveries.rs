//! The delivery log (HappyFox's "webhooks log"), event lookup and resend.
//! Times are milliseconds since the epoch.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hookpost_broker::Outgoing;
use hookpost_core::task::{AttemptTask, Task};
use hookpost_store::events::StoredEvent;
use hookpost_store::log::{Delivery, Status};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::{auth, body, AppState, SharedState};

/// A delivery as the list shows it (attempts only on the delivery's own page).
fn summary(d: &Delivery) -> Value {
    json!({
        "id": d.id, "event_id": d.event_id, "hook_id": d.hook_id, "event": d.kind,
        "status": d.status, "attempt_count": d.attempt_count, "created_at": d.created_at,
        "updated_at": d.updated_at, "next_attempt_at": d.next_attempt_at,
    })
}

fn detail(d: &Delivery) -> Value {
    let mut v = summary(d);
    if d.blocking {
        v["blocking"] = json!(true);
    }
    v["attempts"] = serde_json::to_value(&d.attempts).expect("attempts serialise");
    v
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    hook: Option<String>,
    status: Option<String>,
    event: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn parse_cursor(c: &str) -> Result<(i64, String), ApiError> {
    c.split_once('.')
        .and_then(|(t, id)| Some((t.parse().ok()?, id.to_owned())))
        .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor of this list"))
}

/// `GET /v1/deliveries`: newest first, filtered by hook, status, event type and creation
/// time, `limit` (1 to 100, default 50) a page.
pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let tenant = auth::tenant(&state, &headers).await?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest("invalid_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 100"));
    }
    let status = match &q.status {
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "must be pending, retrying, delivered, failed or cancelled",
            )
        })?),
        None => None,
    };
    let cursor = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let keep = |d: &Delivery| {
        q.hook.as_ref().is_none_or(|h| &d.hook_id == h)
            && status.is_none_or(|s| d.status == s)
            && q.event.as_ref().is_none_or(|e| &d.kind == e)
    };
    let (page, next) = state
        .store
        .deliveries_page(&tenant, cursor, (q.from, q.to), limit, keep)
        .await?;
    let items: Vec<Value> = page.iter().map(summary).collect();
    Ok(Json(json!({
        "deliveries": items,
        "next_cursor": next.map(|(t, id)| format!("{t}.{id}")),
    })))
}

/// The caller's tenant and its delivery `id`; 404 when the tenant has no such delivery.
async fn owned_delivery(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<(String, Delivery), ApiError> {
    let tenant = auth::tenant(state, headers).await?;
    let id = crate::path_id::delivery(id)?;
    let d = state
        .store
        .delivery(&tenant, id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok((tenant, d))
}

pub async fn get(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, d) = owned_delivery(&state, &headers, &id).await?;
    Ok(Json(detail(&d)))
}

/// `GET /v1/events/{id}`: the event and every delivery it caused.
pub async fn event(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tenant = auth::tenant(&state, &headers).await?;
    let (e, deliveries) = event_with_deliveries(&state, &tenant, &id).await?;
    let deliveries: Vec<Value> = deliveries.iter().map(detail).collect();
    let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
    Ok(Json(json!({
        "event": { "id": e.id, "type": e.kind, "occurred_at": e.occurred_at, "received_at": e.received_at, "data": data },
        "deliveries": deliveries,
    })))
}

/// A tenant's event and every delivery it caused; 404 when the tenant has no such event.
pub async fn event_with_deliveries(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<(StoredEvent, Vec<Delivery>), ApiError> {
    let id = crate::path_id::event(id)?;
    let e = state
        .store
        .event(tenant, id)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    Ok((e, state.store.event_deliveries(tenant, id).await?))
}

/// Queues attempts through RabbitMQ like any delivery; `Ok` once it confirmed them all.
pub async fn queue_resends(
    state: &AppState,
    tenant: &str,
    deliveries: &[Delivery],
) -> Result<(), ApiError> {
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
        .map_err(|e| ApiError::BrokerUnavailable(e.to_string()))
}

/// `POST /v1/deliveries/{id}/resend`: a new attempt of the same delivery (same id and
/// body), whatever its status.
pub async fn resend(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (tenant, d) = owned_delivery(&state, &headers, &id).await?;
    queue_resends(&state, &tenant, std::slice::from_ref(&d)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "delivery_id": d.id, "attempt": d.attempt_count + 1 })),
    ))
}

/// `POST /v1/deliveries/{id}/skip`: a failed delivery that blocks its ordering key lets
/// it go; the next delivery for the key is sent.
pub async fn skip(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    use hookpost_store::ordering::{turn_task, Ordered, Release};
    let (tenant, d) = owned_delivery(&state, &headers, &id).await?;
    let not_blocking = || {
        ApiError::Conflict(
            "not_blocking",
            "only a failed delivery that blocks its ordering key can be skipped".into(),
        )
    };
    if !d.blocking {
        return Err(not_blocking());
    }
    let (hook, event) = tokio::join!(
        state.store.hook(&tenant, &d.hook_id),
        state.store.event(&tenant, &d.event_id)
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
        .order_release(&tenant, &ordered, Release::Done, "")
        .await?;
    let next: Vec<_> = next
        .and_then(|m| turn_task(&tenant, &d.hook_id, &m))
        .into_iter()
        .collect();
    state.store.schedule(&next).await?;
    Ok(Json(json!({ "delivery_id": d.id, "skipped": true })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResendFailedInput {
    /// Only deliveries created at or after this time (ms).
    since: Option<i64>,
}

/// `POST /v1/hooks/{id}/resend-failed`: every failed delivery of the hook (since a time),
/// queued; 202 with how many.
pub async fn resend_failed(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(hook_id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tenant = auth::tenant(&state, &headers).await?;
    let input: ResendFailedInput = body::optional_json(raw, state.config.max_body_bytes)?;
    let queued = resend_failed_since(&state, &tenant, &hook_id, input.since).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": queued }))))
}

/// Queues every failed delivery of a tenant's hook created since `since` (ms); how many.
/// 404 when the tenant has no such hook.
pub async fn resend_failed_since(
    state: &AppState,
    tenant: &str,
    hook_id: &str,
    since: Option<i64>,
) -> Result<usize, ApiError> {
    let hook_id = crate::path_id::hook(hook_id)?;
    state
        .store
        .hook(tenant, hook_id)
        .await?
        .ok_or(ApiError::NotFound("hook"))?;
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
