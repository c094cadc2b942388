//! Operators' operations: tenants, their API keys and intake limits, and the retry
//! backlog. The caller has checked the admin token.

use hookpost_store::intake::IntakeLimit;
use hookpost_store::tenants::Tenant;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AppState, ServiceError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantInput {
    pub id: String,
    pub name: Option<String>,
}

/// A new tenant; conflict when the id is taken.
pub async fn create(state: &AppState, input: TenantInput) -> Result<Tenant, ServiceError> {
    hookpost_core::event::check_tenant_id(&input.id).map_err(|m| ServiceError::invalid("id", m))?;
    let name = input.name.unwrap_or_else(|| input.id.clone());
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ServiceError::invalid("name", "must be 1 to 200 characters"));
    }
    crate::fields::storable("name", &name)?;
    let tenant = Tenant {
        id: input.id,
        name,
        created_at: hookpost_core::now_ms(),
    };
    if !state.db.create_tenant(&state.store, &tenant).await? {
        return Err(ServiceError::Conflict(
            "tenant_exists",
            format!("tenant `{}` exists", tenant.id),
        ));
    }
    Ok(tenant)
}

/// Every tenant, as `{tenants}`.
pub async fn list(state: &AppState) -> Result<Value, ServiceError> {
    Ok(json!({ "tenants": state.store.tenants().await? }))
}

/// `PATCH /v1/tenants/{id}`: what may change of a tenant.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// Present and `null`: back to the deployment's default.
    #[serde(default, deserialize_with = "present")]
    pub intake: Option<Option<IntakeLimit>>,
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Sets or clears the tenant's own intake limit; the tenant with it.
pub async fn update(state: &AppState, id: &str, input: TenantPatch) -> Result<Value, ServiceError> {
    let Some(intake) = input.intake else {
        return Err(ServiceError::invalid(
            "intake",
            "is required (`null` for the default)",
        ));
    };
    if let Some(limit) = &intake {
        limit
            .check()
            .map_err(|m| ServiceError::BadRequest("invalid_field", m))?;
    }
    let Some(tenant) = state.store.tenant(id).await? else {
        return Err(ServiceError::NotFound("tenant"));
    };
    state.db.set_intake_limit(&state.store, id, intake).await?;
    let mut shown = serde_json::to_value(tenant).expect("tenant serialises");
    shown["intake"] = serde_json::to_value(intake).expect("limit serialises");
    Ok(shown)
}

async fn existing<'a>(state: &AppState, id: &'a str) -> Result<&'a str, ServiceError> {
    let id = crate::path_id::tenant(id)?;
    match state.store.tenant(id).await? {
        Some(_) => Ok(id),
        None => Err(ServiceError::NotFound("tenant")),
    }
}

/// A new API key of tenant `id`, shown this once: `{id, key, prefix, created_at}`.
pub async fn create_key(state: &AppState, id: &str) -> Result<Value, ServiceError> {
    let id = existing(state, id).await?;
    let (info, key) = state.db.create_key(&state.store, id).await?;
    let created_at = hookpost_core::rfc3339(info.created_at);
    Ok(json!({ "id": info.id, "key": key, "prefix": info.prefix, "created_at": created_at }))
}

/// How long a portal link, and the console session it opens, lasts unless asked.
pub const PORTAL_LINK_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The longest a portal link may last.
pub const PORTAL_LINK_MAX_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalLinkInput {
    /// `"15m"` by default, at most `"24h"`.
    #[serde(default, deserialize_with = "crate::fields::present")]
    pub ttl: Option<String>,
    /// The session may look but not change anything (default false).
    #[serde(default, deserialize_with = "crate::fields::present")]
    pub read_only: Option<bool>,
}

/// A one-time console sign-in for tenant `id`'s end customer: `{path, token,
/// expires_at, read_only}`. The token is shown this once; Redis keeps its hash.
pub async fn create_portal_link(
    state: &AppState,
    id: &str,
    input: PortalLinkInput,
) -> Result<Value, ServiceError> {
    let id = existing(state, id).await?;
    let ttl = match &input.ttl {
        Some(t) => {
            hookpost_core::duration::parse(t).map_err(|m| ServiceError::invalid("ttl", m))?
        }
        None => PORTAL_LINK_TTL,
    };
    if ttl.is_zero() || ttl > PORTAL_LINK_MAX_TTL {
        return Err(ServiceError::invalid(
            "ttl",
            "must be more than 0 and at most 24h",
        ));
    }
    let grant = hookpost_store::sessions::Portal {
        tenant: id.to_owned(),
        read_only: input.read_only.unwrap_or(false),
        expires_at: hookpost_core::now_ms() + ttl.as_millis() as i64,
    };
    let token = hookpost_core::ids::url_token();
    state.store.create_portal_link(&token, &grant).await?;
    Ok(json!({
        "path": format!("/console/portal/{token}"),
        "expires_at": hookpost_core::rfc3339(grant.expires_at),
        "read_only": grant.read_only,
    }))
}

/// Tenant `id`'s keys (never the keys themselves), as `{keys}`.
pub async fn list_keys(state: &AppState, id: &str) -> Result<Value, ServiceError> {
    let id = existing(state, id).await?;
    Ok(json!({ "keys": state.store.keys_of(id).await? }))
}

/// Revokes a tenant's key; not found when it has none by that id.
pub async fn revoke_key(state: &AppState, id: &str, key_id: &str) -> Result<(), ServiceError> {
    let (id, key_id) = (crate::path_id::tenant(id)?, crate::path_id::key(key_id)?);
    if state.db.revoke_key(&state.store, id, key_id).await? {
        Ok(())
    } else {
        Err(ServiceError::NotFound("key"))
    }
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

pub async fn retry_backlog(state: &AppState) -> Result<Backlog, ServiceError> {
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
