//! Operators' routes (admin token): tenants and their API keys. The [`Admin`] check
//! comes after the path, as the extractors' rejections did before it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hookpost_service::tenants;
use hookpost_store::tenants::Tenant;
use serde_json::Value;

use crate::auth::Admin;
use crate::error::HttpError;
use crate::{body, SharedState};

pub async fn create(
    State(state): State<SharedState>,
    _: Admin,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Tenant>), HttpError> {
    let input = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let tenant = tenants::create(&state, input).await?;
    Ok((StatusCode::CREATED, Json(tenant)))
}

pub async fn list(State(state): State<SharedState>, _: Admin) -> Result<Json<Value>, HttpError> {
    Ok(Json(tenants::list(&state).await?))
}

/// `PATCH /v1/tenants/{id}`: sets or clears the tenant's own intake limit; answers the
/// tenant with it.
pub async fn update(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    _: Admin,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, HttpError> {
    let input = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    Ok(Json(tenants::update(&state, &id, input).await?))
}

pub async fn create_key(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    _: Admin,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    Ok((
        StatusCode::CREATED,
        Json(tenants::create_key(&state, &id).await?),
    ))
}

/// `POST /v1/tenants/{id}/portal-links` (admin): a one-time console sign-in for the
/// tenant's end customer; `url` is `path` on the address this request came to.
pub async fn create_portal_link(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    _: Admin,
    headers: axum::http::HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let input = body::optional_json(raw, state.config.max_body_bytes)?;
    let mut link = tenants::create_portal_link(&state, &id, input).await?;
    if let Some(base) = hookpost_service::client::public_base(&headers, state.config.trust_proxy) {
        link["url"] = Value::String(format!(
            "{base}{}",
            link["path"].as_str().unwrap_or_default()
        ));
    }
    Ok((StatusCode::CREATED, Json(link)))
}

pub async fn list_keys(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    _: Admin,
) -> Result<Json<Value>, HttpError> {
    Ok(Json(tenants::list_keys(&state, &id).await?))
}

pub async fn revoke_key(
    State(state): State<SharedState>,
    Path((id, key_id)): Path<(String, String)>,
    _: Admin,
) -> Result<StatusCode, HttpError> {
    tenants::revoke_key(&state, &id, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/retries/stats` (admin): the retry backlog by when it falls due.
pub async fn retry_stats(
    State(state): State<SharedState>,
    _: Admin,
) -> Result<Json<tenants::Backlog>, HttpError> {
    Ok(Json(tenants::retry_backlog(&state).await?))
}
