//! Operators' routes (admin token): tenants and their API keys.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hookpost_store::intake::IntakeLimit;
use hookpost_store::tenants::Tenant;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::{auth, body, AppState, SharedState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantInput {
    id: String,
    name: Option<String>,
}

pub async fn create(
    State(state): State<SharedState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    auth::admin(&state, &headers)?;
    let input: TenantInput = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    hookpost_core::event::check_tenant_id(&input.id).map_err(|m| ApiError::invalid("id", m))?;
    let name = input.name.unwrap_or_else(|| input.id.clone());
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    let tenant = Tenant {
        id: input.id,
        name,
        created_at: hookpost_core::now_ms(),
    };
    if !state.store.create_tenant(&tenant).await? {
        return Err(ApiError::Conflict(
            "tenant_exists",
            format!("tenant `{}` exists", tenant.id),
        ));
    }
    Ok((StatusCode::CREATED, Json(tenant)))
}

pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth::admin(&state, &headers)?;
    Ok(Json(json!({ "tenants": state.store.tenants().await? })))
}

/// `PATCH /v1/tenants/{id}`: what may change of a tenant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantPatch {
    /// Present and `null`: back to the deployment's default.
    #[serde(default, deserialize_with = "present")]
    intake: Option<Option<IntakeLimit>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Sets or clears the tenant's own intake limit; answers the tenant with it.
pub async fn update(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    auth::admin(&state, &headers)?;
    let input: TenantPatch = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let Some(intake) = input.intake else {
        return Err(ApiError::invalid(
            "intake",
            "is required (`null` for the default)",
        ));
    };
    if let Some(limit) = &intake {
        limit
            .check()
            .map_err(|m| ApiError::BadRequest("invalid_field", m))?;
    }
    let Some(tenant) = state.store.tenant(&id).await? else {
        return Err(ApiError::NotFound("tenant"));
    };
    state.store.set_intake_limit(&id, intake).await?;
    let mut shown = serde_json::to_value(tenant).expect("tenant serialises");
    shown["intake"] = serde_json::to_value(intake).expect("limit serialises");
    Ok(Json(shown))
}

async fn existing(state: &SharedState, id: &str) -> Result<(), ApiError> {
    let id = crate::path_id::tenant(id)?;
    match state.store.tenant(id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("tenant")),
    }
}

pub async fn create_key(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth::admin(&state, &headers)?;
    existing(&state, &id).await?;
    let (info, key) = state.store.create_key(&id).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "id": info.id, "key": key, "prefix": info.prefix, "created_at": info.created_at }),
        ),
    ))
}

pub async fn list_keys(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth::admin(&state, &headers)?;
    existing(&state, &id).await?;
    Ok(Json(json!({ "keys": state.store.keys_of(&id).await? })))
}

pub async fn revoke_key(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    auth::admin(&state, &headers)?;
    let (id, key_id) = (crate::path_id::tenant(&id)?, crate::path_id::key(&key_id)?);
    if state.store.revoke_key(id, key_id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("key"))
    }
}

/// `GET /v1/retries/stats` (admin): the retry backlog by when it falls due.
pub async fn retry_stats(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    auth::admin(&state, &headers)?;
    Ok(Json(
        serde_json::to_value(retry_backlog(&state).await?).expect("serialises"),
    ))
}

/// The retry backlog: entries due by now and within the next minute, hour and day.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Backlog {
    pub due_now: u64,
    pub due_next_minute: u64,
    pub due_next_hour: u64,
    pub due_next_day: u64,
    /// Every entry, claimed ones included.
    pub total: u64,
}

pub async fn retry_backlog(state: &AppState) -> Result<Backlog, ApiError> {
    let counts = state
        .store
        .due_within(&[0, 60_000, 3_600_000, 86_400_000])
        .await?;
    let stats = state.store.retry_stats().await?;
    Ok(Backlog {
        due_now: counts[0],
        due_next_minute: counts[1],
        due_next_hour: counts[2],
        due_next_day: counts[3],
        total: stats.size,
    })
}
