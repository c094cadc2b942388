//! `/v1/hooks`: a tenant's subscriptions, each handler a call of
//! `hookpost_service::hooks`. Another tenant's hook id answers 404.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use hookpost_service::hooks::{self, HookInput, HookView, HookWithBacklog, ListQuery};
use hookpost_service::test_send::TestResult;
use hookpost_service::ServiceError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Tenant;
use crate::error::HttpError;
use crate::{body, SharedState};

pub async fn create(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<HookView>), HttpError> {
    let input: HookInput = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let hook = hooks::create(&state, &tenant, input).await?;
    Ok((StatusCode::CREATED, Json(HookView::of(&hook, true))))
}

/// Hooks oldest first, `limit` (1 to 100, default 50) a page; `next_cursor` continues.
pub async fn list(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, HttpError> {
    let Query(q) = query.map_err(invalid_query)?;
    let page = hooks::list(&state, &tenant, q).await?;
    Ok(Json(
        json!({ "hooks": page.items, "next_cursor": page.next_cursor }),
    ))
}

/// A query string that does not parse: 400 with what is wrong.
pub fn invalid_query(e: QueryRejection) -> ServiceError {
    ServiceError::BadRequest("invalid_query", e.body_text())
}

pub async fn get(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<Json<HookWithBacklog>, HttpError> {
    Ok(Json(hooks::get_with_backlog(&state, &tenant, &id).await?))
}

/// `GET /v1/hooks/{id}/secret`: the owner reads the secret (and the previous one during
/// a rotation).
pub async fn secret(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<Json<Value>, HttpError> {
    Ok(Json(hooks::secret(&state, &tenant, &id).await?))
}

/// `PATCH`: changes the fields given.
pub async fn patch(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<HookView>, HttpError> {
    let input: HookInput = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let hook = hooks::patch(&state, &tenant, &id, input).await?;
    Ok(Json(HookView::of(&hook, false)))
}

/// `PUT`: replaces the hook's settings.
pub async fn put(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<HookView>, HttpError> {
    let input: HookInput = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let hook = hooks::replace(&state, &tenant, &id, input).await?;
    Ok(Json(HookView::of(&hook, false)))
}

pub async fn delete(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<StatusCode, HttpError> {
    hooks::remove_hook(&state, &tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn activate(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<Json<HookView>, HttpError> {
    let hook = hooks::set_active(&state, &tenant, &id, true).await?;
    Ok(Json(HookView::of(&hook, false)))
}

pub async fn deactivate(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
) -> Result<Json<HookView>, HttpError> {
    let hook = hooks::set_active(&state, &tenant, &id, false).await?;
    Ok(Json(HookView::of(&hook, false)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateInput {
    #[serde(default, deserialize_with = "hookpost_service::fields::present")]
    secret: Option<String>,
}

/// `POST /v1/hooks/{id}/rotate-secret`: a new secret; the old one keeps signing (beside
/// the new) for `HOOKPOST_ROTATION_GRACE`.
pub async fn rotate_secret(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<HookView>, HttpError> {
    let input: RotateInput = body::optional_json(raw, state.config.max_body_bytes)?;
    let hook = hooks::rotate(&state, &tenant, &id, input.secret).await?;
    Ok(Json(HookView::of(&hook, true)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestInput {
    #[serde(default, deserialize_with = "hookpost_service::fields::present")]
    event_type: Option<String>,
}

/// `POST /v1/hooks/{id}/test`: sends a sample event now; 200 with what the receiver
/// answered, also when it failed.
pub async fn test(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    Tenant(tenant): Tenant,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<TestResult>, HttpError> {
    let hook = hooks::get(&state, &tenant, &id).await?;
    let input: TestInput = body::optional_json(raw, state.config.max_body_bytes)?;
    Ok(Json(
        hooks::send_test(&state, &hook, input.event_type).await?,
    ))
}
