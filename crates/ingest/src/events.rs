//! Event intake: `POST /v1/events` and `POST /v1/events/batch`. 202 only after
//! RabbitMQ confirmed every publish; 503 (and nothing accepted) when it cannot.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hookpost_broker::Outgoing;
use hookpost_core::Event;
use hookpost_store::intake::{Intake, IntakeLimit};
use serde_json::value::RawValue;
use serde_json::{json, Value};

// The service's error under the name the publish path has always used.
use hookpost_service::ServiceError as ApiError;

use crate::auth::Tenant;
use crate::error::HttpError;
use crate::{body, AppState, SharedState};

pub async fn publish_one(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let bytes = body::bytes(raw, state.config.max_body_bytes).inspect_err(|e| reject(&state, e))?;
    let event = Event::parse(&bytes, Some(&tenant))
        .map_err(|e| ApiError::BadRequest(e.code, e.message))
        .inspect_err(|e| reject(&state, e))?;
    publish(&state, &tenant, std::slice::from_ref(&event)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": event.id, "ids": [event.id] })),
    ))
}

pub async fn publish_batch(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let events = parse_batch(&state, &tenant, raw).inspect_err(|e| reject(&state, e))?;
    publish(&state, &tenant, &events).await?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    Ok((StatusCode::ACCEPTED, Json(json!({ "ids": ids }))))
}

/// Validates the whole batch before anything is published: one bad event refuses all.
fn parse_batch(
    state: &AppState,
    tenant: &str,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Vec<Event>, ApiError> {
    let bytes = body::bytes(raw, state.config.max_body_bytes)?;
    let items: Vec<Box<RawValue>> = body::json(&bytes).map_err(|_| {
        ApiError::BadRequest(
            "invalid_json",
            "the body must be a JSON array of events".into(),
        )
    })?;
    let max = state.config.max_batch;
    if items.is_empty() || items.len() > max {
        return Err(ApiError::BadRequest(
            "invalid_batch",
            format!("a batch holds 1 to {max} events, not {}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            Event::from_raw(raw, Some(tenant))
                .map_err(|e| ApiError::BadRequest(e.code, format!("event {i}: {}", e.message)))
        })
        .collect()
}

/// Publishes `events` with confirms, their ordered deliveries registered first, once
/// the tenant's intake limit let them all in.
async fn publish(state: &AppState, tenant: &str, events: &[Event]) -> Result<(), ApiError> {
    take_intake(state, tenant, events.len()).await?;
    let registered = crate::ordering::register(state, tenant, events).await?;
    let exchange = &state.publisher.topology().exchange;
    let bodies: Vec<Vec<u8>> = events.iter().map(Event::to_json).collect();
    let msgs: Vec<Outgoing<'_>> = events
        .iter()
        .zip(&bodies)
        .map(|(e, body)| Outgoing {
            exchange,
            routing_key: &e.kind,
            body,
            message_id: Some(&e.id),
            headers: &[],
        })
        .collect();
    match state.publisher.publish_all(&msgs).await {
        Ok(()) => {
            for e in events {
                let label = state.config.event_types.label(&e.kind);
                state
                    .metrics
                    .events_published
                    .with_label_values(&[label])
                    .inc();
            }
            Ok(())
        }
        Err(e) => {
            crate::ordering::unregister(state, tenant, &registered).await;
            let err = ApiError::BrokerUnavailable(e.to_string());
            reject(state, &err);
            Err(err)
        }
    }
}

/// Takes one token per event from the tenant's intake limit, all or none: over it,
/// nothing is published and the answer says when the same request would go.
async fn take_intake(state: &AppState, tenant: &str, count: usize) -> Result<(), ApiError> {
    let default = IntakeLimit {
        per_second: state.config.tenant_rate,
        burst: state.config.tenant_burst,
    };
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    let refused = match state.store.take_intake(tenant, count, default).await? {
        Intake::Go => return Ok(()),
        Intake::Wait(wait) => {
            let secs = crate::error::retry_after_secs(wait);
            ApiError::TooManyRequests(
                "rate_limited",
                format!("the tenant's intake limit is reached; try again in {secs} s"),
                secs,
            )
        }
        Intake::OverBurst(burst) => ApiError::Unprocessable(
            "batch_over_burst",
            format!("{count} events are more than the tenant's intake burst of {burst}: send smaller batches"),
        ),
    };
    reject(state, &refused);
    Err(refused)
}

fn reject(state: &AppState, e: &ApiError) {
    let reason = match e {
        ApiError::TooLarge(_) => "too_large",
        ApiError::BrokerUnavailable(_) => "broker_unavailable",
        ApiError::BadRequest(..) => "invalid",
        ApiError::TooManyRequests("rate_limited", ..)
        | ApiError::Unprocessable("batch_over_burst", _) => "rate_limited",
        _ => return,
    };
    state
        .metrics
        .events_rejected
        .with_label_values(&[reason])
        .inc();
}
