//! The delivery log (HappyFox's "webhooks log"), event lookup and resend, each handler a
//! call of `hookpost_service::deliveries`. Times are RFC 3339 (see `hookpost_core::timestamp`).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use hookpost_service::deliveries::{self, ListQuery};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Tenant;
use crate::error::HttpError;
use crate::hooks::invalid_query;
use crate::{body, SharedState};

/// `GET /v1/deliveries`: newest first, filtered by hook, status, event type and creation
/// time, `limit` (1 to 100, default 50) a page.
pub async fn list(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, HttpError> {
    let Query(q) = query.map_err(invalid_query)?;
    Ok(Json(deliveries::list(&state, &tenant, q).await?))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<Json<Value>, HttpError> {
    let d = deliveries::get(&state, &tenant, &id).await?;
    Ok(Json(deliveries::detail(&d)))
}

/// `GET /v1/events/{id}`: the event and every delivery it caused.
pub async fn event(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<Json<Value>, HttpError> {
    Ok(Json(deliveries::event(&state, &tenant, &id).await?))
}

/// `POST /v1/deliveries/{id}/resend`: a new attempt of the same delivery (same id and
/// body), whatever its status.
pub async fn resend(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let d = deliveries::resend(&state, &tenant, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "delivery_id": d.id, "attempt": d.attempt_count + 1 })),
    ))
}

/// `POST /v1/deliveries/{id}/skip`: a failed delivery that blocks its ordering key lets
/// it go; the next delivery for the key is sent.
pub async fn skip(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<Json<Value>, HttpError> {
    let d = deliveries::skip(&state, &tenant, &id).await?;
    Ok(Json(json!({ "delivery_id": d.id, "skipped": true })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResendFailedInput {
    /// Only deliveries created at or after this time (RFC 3339, or ms since the epoch).
    #[serde(default, deserialize_with = "since")]
    since: Option<i64>,
}

/// A `since` that is present: `null` is refused like any other wrong type.
fn since<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match hookpost_core::timestamp::option::deserialize(d)? {
        Some(ms) => Ok(Some(ms)),
        None => Err(serde::de::Error::custom("`since` must be a time, not null")),
    }
}

/// `POST /v1/hooks/{id}/resend-failed`: every failed delivery of the hook (since a time),
/// queued; 202 with how many.
pub async fn resend_failed(
    State(state): State<SharedState>,
    Path(hook_id): Path<String>,
    Tenant(tenant): Tenant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let input: ResendFailedInput = body::optional_json(raw, state.config.max_body_bytes)?;
    let queued = deliveries::resend_failed_since(&state, &tenant, &hook_id, input.since).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "queued": queued }))))
}
