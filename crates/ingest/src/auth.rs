//! Who is calling: a tenant's API key or the operators' admin token, both as
//! `Authorization: Bearer …`.

use axum::http::HeaderMap;

use crate::error::ApiError;
use crate::AppState;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The tenant a request acts for: its API key's, or, with the admin token, the one named
/// in `X-Hookpost-Tenant` (operators' tools act for a tenant this way).
pub async fn tenant(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let key = bearer(headers).ok_or(ApiError::Unauthorized)?;
    if let Some(tenant) = headers.get(ACT_FOR).and_then(|v| v.to_str().ok()) {
        admin(state, headers)?;
        return match state.store.tenant(tenant).await? {
            Some(t) => Ok(t.id),
            None => Err(ApiError::NotFound("tenant")),
        };
    }
    state
        .store
        .authenticate(key)
        .await?
        .ok_or(ApiError::Unauthorized)
}

/// The header with which the admin token acts for a tenant.
pub const ACT_FOR: &str = "x-hookpost-tenant";

/// Passes when the request carries the admin token.
pub fn admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = state
        .config
        .admin_token
        .as_deref()
        .ok_or(ApiError::Unauthorized)?;
    let given = bearer(headers).ok_or(ApiError::Unauthorized)?;
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Compares without an early exit, so the time taken does not tell how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
