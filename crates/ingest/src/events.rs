//! Event intake: `POST /v1/events` and `POST /v1/events/batch`. 202 only after
//! RabbitMQ confirmed every publish; 503 (and nothing accepted) when it cannot.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hookpost_broker::Outgoing;
use hookpost_core::Event;
use hookpost_ops::telemetry;
use hookpost_store::intake::{Intake, Lane};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tracing::Instrument;

// The service's error under the name the publish path has always used.
use hookpost_service::ServiceError;

use crate::auth::Tenant;
use crate::error::HttpError;
use crate::{body, AppState, SharedState};

pub async fn publish_one(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let bytes = body::bytes(raw, state.config.max_body_bytes).inspect_err(|e| reject(&state, e))?;
    let event = Event::parse(&bytes, Some(&tenant))
        .map_err(|e| ServiceError::BadRequest(e.code, e.message))
        .inspect_err(|e| reject(&state, e))?;
    check_types(&state, &tenant, std::slice::from_ref(&event), false).await?;
    let (span, trace) = traced(&headers, 1);
    publish(&state, &tenant, std::slice::from_ref(&event), &trace)
        .instrument(span)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": event.id, "ids": [event.id] })),
    ))
}

pub async fn publish_batch(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let events = parse_batch(&state, &tenant, raw).inspect_err(|e| reject(&state, e))?;
    check_types(&state, &tenant, &events, true).await?;
    let (span, trace) = traced(&headers, events.len());
    publish(&state, &tenant, &events, &trace)
        .instrument(span)
        .await?;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    Ok((StatusCode::ACCEPTED, Json(json!({ "ids": ids }))))
}

/// The span of a publish request, in the trace of the request's `traceparent` if it has
/// a well-formed one, and the AMQP header that carries that trace on to the worker: the
/// span's own context, or the caller's as it came when traces are off.
fn traced(headers: &HeaderMap, events: usize) -> (tracing::Span, Vec<(&'static str, String)>) {
    let span = tracing::info_span!("ingest.publish", events);
    let given = headers
        .get(telemetry::TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .filter(|t| telemetry::continue_trace(&span, t));
    let carried = telemetry::traceparent(&span).or(given.map(str::to_owned));
    let header = carried.map(|t| (telemetry::TRACEPARENT, t));
    (span, header.into_iter().collect())
}

/// Refuses the request unless the tenant knows every event's type and each `data`
/// matches its type's schema (a `batch`'s event named by its index).
async fn check_types(
    state: &AppState,
    tenant: &str,
    events: &[Event],
    batch: bool,
) -> Result<(), ServiceError> {
    for (i, e) in events.iter().enumerate() {
        let checked = match state.event_types.check(tenant, &e.kind, &e.data).await {
            Ok(Ok(())) => continue,
            Ok(Err(refusal)) => {
                match hookpost_service::event_types::refused(tenant, &e.kind, refusal) {
                    ServiceError::BadRequest(code, m) if batch => {
                        ServiceError::BadRequest(code, format!("event {i}: {m}"))
                    }
                    refused => refused,
                }
            }
            Err(e) => e.into(),
        };
        reject(state, &checked);
        return Err(checked);
    }
    Ok(())
}

/// Validates the whole batch before anything is published: one bad event refuses all.
fn parse_batch(
    state: &AppState,
    tenant: &str,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Vec<Event>, ServiceError> {
    let bytes = body::bytes(raw, state.config.max_body_bytes)?;
    let items: Vec<Box<RawValue>> = body::json(&bytes).map_err(|_| {
        ServiceError::BadRequest(
            "invalid_json",
            "the body must be a JSON array of events".into(),
        )
    })?;
    let max = state.config.max_batch;
    if items.is_empty() || items.len() > max {
        return Err(ServiceError::BadRequest(
            "invalid_batch",
            format!("a batch holds 1 to {max} events, not {}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            Event::from_raw(raw, Some(tenant))
                .map_err(|e| ServiceError::BadRequest(e.code, format!("event {i}: {}", e.message)))
        })
        .collect()
}

/// Publishes `events` with confirms, their ordered deliveries registered first, once
/// the tenant's intake limit let them all in: to the exchange within the tenant's fair
/// lane (to the light queue when the tenant is light), else all of them to the overflow
/// queue (see [`crate::lanes`]).
async fn publish(
    state: &AppState,
    tenant: &str,
    events: &[Event],
    trace: &[(&str, String)],
) -> Result<(), ServiceError> {
    // The tenant's hooks, read (or taken from the cache) once for the whole request.
    let hooks = state.ordered_hooks.of(state, tenant).await?;
    let weight = crate::lanes::weigh(&hooks, events);
    let lane = take_intake(state, tenant, events.len(), weight).await?;
    let lane = state.light_tenants.route(tenant, weight, lane);
    let registered = crate::ordering::register(state, tenant, &hooks, events).await?;
    let topology = state.publisher.topology();
    let accepted = hookpost_core::now_ms();
    let bodies: Vec<Vec<u8>> = events
        .iter()
        .map(|e| e.to_json_accepted(accepted))
        .collect();
    let msgs: Vec<Outgoing<'_>> = events
        .iter()
        .zip(&bodies)
        .map(|(e, body)| {
            let (exchange, routing_key) = crate::lanes::route(topology, lane, &e.kind);
            Outgoing {
                exchange,
                routing_key,
                body,
                message_id: Some(&e.id),
                headers: trace,
            }
        })
        .collect();
    let started = std::time::Instant::now();
    match state.publisher_of(lane).publish_all(&msgs).await {
        Ok(()) => {
            state
                .metrics
                .publish_confirm_seconds
                .with_label_values(&[lane.as_str()])
                .observe(started.elapsed().as_secs_f64());
            for e in events {
                let label = state.config.event_types.label(&e.kind);
                state.metrics.event_accepted(label, "api");
            }
            if lane == Lane::Overflow {
                state.metrics.events_overflowed.inc_by(events.len() as u64);
            }
            Ok(())
        }
        Err(e) => {
            crate::ordering::unregister(state, tenant, &registered).await;
            let err = ServiceError::BrokerUnavailable(e.to_string());
            reject(state, &err);
            Err(err)
        }
    }
}

/// Takes one token per event from the tenant's intake limit, all or none (from this
/// process's lease of them when it has enough, see [`hookpost_service::intake`]): over
/// it, nothing is published and the answer says when the same request would go.
/// Accepted, `weight` is taken from the tenant's fair lane if it fits: the lane the
/// events take.
async fn take_intake(
    state: &AppState,
    tenant: &str,
    count: usize,
    weight: u32,
) -> Result<Lane, ServiceError> {
    let request = hookpost_service::intake::Request {
        events: u32::try_from(count).unwrap_or(u32::MAX),
        weight,
    };
    let refused = match state.intake.take(&state.store, tenant, request).await? {
        Intake::Go(lane) => return Ok(lane),
        Intake::Wait(wait) => {
            let secs = crate::error::retry_after_secs(wait);
            ServiceError::TooManyRequests(
                "rate_limited",
                format!("the tenant's intake limit is reached; try again in {secs} s"),
                secs,
            )
        }
        Intake::OverBurst(burst) => ServiceError::Unprocessable(
            "batch_over_burst",
            format!("{count} events are more than the tenant's intake burst of {burst}: send smaller batches"),
        ),
    };
    reject(state, &refused);
    Err(refused)
}

fn reject(state: &AppState, e: &ServiceError) {
    let reason = match e {
        ServiceError::TooLarge(_) => "too_large",
        ServiceError::BrokerUnavailable(_) => "broker_unavailable",
        ServiceError::BadRequest(..) => "invalid",
        ServiceError::TooManyRequests("rate_limited", ..)
        | ServiceError::Unprocessable("batch_over_burst", _) => "rate_limited",
        _ => return,
    };
    state
        .metrics
        .events_rejected
        .with_label_values(&[reason])
        .inc();
}
