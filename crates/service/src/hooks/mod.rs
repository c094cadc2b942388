//! A tenant's hooks (subscriptions). Every operation is scoped to one tenant: another
//! tenant's hook id is not found.
//!
//! - [`input`]: what a client may send, and the checks of each field.
//! - [`view`]: a hook as the API shows it.

mod input;
mod view;

pub use input::{apply, check_secret, checked_url, set_active_flag, HookInput};
pub use view::HookView;

use hookpost_core::controls;
use hookpost_core::Hook;
use hookpost_store::hooks::HookWrite;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{AppState, ServiceError};

/// A tenant's hook `id`: not found when the tenant has no such hook.
pub async fn get(state: &AppState, tenant: &str, id: &str) -> Result<Hook, ServiceError> {
    let id = crate::path_id::hook(id)?;
    state
        .store
        .hook(tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("hook"))
}

fn now() -> String {
    hookpost_core::rfc3339(hookpost_core::now_ms())
}

/// Makes and stores a new hook from `input` (shared with the SupportBee routes).
pub async fn create_hook(
    state: &AppState,
    tenant: &str,
    input: HookInput,
) -> Result<Hook, ServiceError> {
    if input.url.is_none() {
        return Err(ServiceError::missing("url"));
    }
    let mut hook = Hook {
        id: hookpost_core::ids::ordered_id("hook"),
        tenant: tenant.to_owned(),
        events: vec!["*".into()],
        active: true,
        secret: hookpost_core::ids::new_secret(),
        created_at: now(),
        updated_at: now(),
        ..Hook::default()
    };
    apply(state, &mut hook, input).await?;
    match state
        .db
        .create_hook(&state.store, &hook, state.config.max_hooks)
        .await?
    {
        HookWrite::Ok => Ok(hook),
        HookWrite::Limit => Err(ServiceError::Unprocessable(
            "too_many_hooks",
            format!("a tenant may have at most {} hooks", state.config.max_hooks),
        )),
        HookWrite::Exists | HookWrite::Missing => Err(ServiceError::Conflict(
            "conflict",
            "the hook id is taken".into(),
        )),
    }
}

/// Loads a hook, changes it with `change`, and stores it.
pub async fn change_hook<F>(
    state: &AppState,
    tenant: &str,
    id: &str,
    change: F,
) -> Result<Hook, ServiceError>
where
    F: AsyncFnOnce(&mut Hook) -> Result<(), ServiceError>,
{
    let id = crate::path_id::hook(id)?;
    let mut hook = state
        .store
        .hook(tenant, id)
        .await?
        .ok_or(ServiceError::NotFound("hook"))?;
    change(&mut hook).await?;
    hook.updated_at = now();
    match state.db.update_hook(&state.store, &hook).await? {
        HookWrite::Ok => Ok(hook),
        _ => Err(ServiceError::NotFound("hook")),
    }
}

/// `POST /v1/hooks`: a new hook from `input`, whose `url` and `events` are required.
pub async fn create(
    state: &AppState,
    tenant: &str,
    input: HookInput,
) -> Result<Hook, ServiceError> {
    if input.events.is_none() {
        return Err(ServiceError::missing("events"));
    }
    create_hook(state, tenant, input).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    pub event: Option<String>,
    pub active: Option<bool>,
}

/// One page of a list: the items and the cursor of the next page, if any.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A tenant's hooks oldest first, `limit` (1 to 100, default 50) a page; `next_cursor`
/// continues.
pub async fn list(
    state: &AppState,
    tenant: &str,
    q: ListQuery,
) -> Result<Page<HookView>, ServiceError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ServiceError::invalid("limit", "must be 1 to 100"));
    }
    let mut hooks: Vec<Hook> = state
        .store
        .hooks(tenant)
        .await?
        .into_iter()
        .filter(|h| q.active.is_none_or(|a| h.active == a))
        .filter(|h| {
            q.event
                .as_ref()
                .is_none_or(|e| h.events.iter().any(|x| x == "*" || x == e))
        })
        .collect();
    // Hook ids sort by creation time: the cursor is the last id seen, and the page goes
    // on after it whether or not that hook is still there. An empty cursor, as a form
    // sends it, is no cursor: the first page.
    hooks.sort_by(|a, b| a.id.cmp(&b.id));
    let start = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => {
            crate::path_id::hook(c)
                .map_err(|_| ServiceError::invalid("cursor", "is not a cursor of this list"))?;
            hooks.partition_point(|h| h.id.as_str() <= c)
        }
    };
    let items: Vec<HookView> = hooks
        .iter()
        .skip(start)
        .take(limit)
        .map(|h| HookView::of(h, false))
        .collect();
    let next_cursor = (start + items.len() < hooks.len())
        .then(|| items.last().map(|h| h.id.clone()))
        .flatten();
    Ok(Page { items, next_cursor })
}

/// A hook as `GET /v1/hooks/{id}` shows it: with its backlog, the deliveries waiting for
/// it to keep up again.
#[derive(Serialize)]
pub struct HookWithBacklog {
    #[serde(flatten)]
    pub hook: HookView,
    pub backlog: u64,
}

/// A tenant's hook with its backlog.
pub async fn get_with_backlog(
    state: &AppState,
    tenant: &str,
    id: &str,
) -> Result<HookWithBacklog, ServiceError> {
    let hook = get(state, tenant, id).await?;
    let backlog = state.store.backlog_len(&hook.tenant, &hook.id).await?;
    Ok(HookWithBacklog {
        hook: HookView::of(&hook, false),
        backlog,
    })
}

/// The owner reads the secret (and the previous one during a rotation).
pub async fn secret(state: &AppState, tenant: &str, id: &str) -> Result<Value, ServiceError> {
    let hook = get(state, tenant, id).await?;
    let mut out = json!({ "secret": hook.secret });
    if let Some(prev) = hook.previous_secret_at(hookpost_core::now_ms()) {
        out["previous_secret"] = prev.into();
        out["previous_secret_expires_at"] = hook
            .previous_secret_expires_at
            .map(hookpost_core::rfc3339)
            .into();
    }
    Ok(out)
}

/// `PATCH`: changes the fields given.
pub async fn patch(
    state: &AppState,
    tenant: &str,
    id: &str,
    input: HookInput,
) -> Result<Hook, ServiceError> {
    change_hook(state, tenant, id, async |h: &mut Hook| {
        apply(state, h, input).await
    })
    .await
}

/// `PUT`: replaces the hook's settings; `url` and `events` are required, the rest
/// return to their defaults when absent (the secret stays unless given).
pub async fn replace(
    state: &AppState,
    tenant: &str,
    id: &str,
    input: HookInput,
) -> Result<Hook, ServiceError> {
    for (field, given) in [
        ("url", input.url.is_some()),
        ("events", input.events.is_some()),
    ] {
        if !given {
            return Err(ServiceError::missing(field));
        }
    }
    change_hook(state, tenant, id, async |h: &mut Hook| {
        set_active_flag(h, true);
        h.description = None;
        h.filter = None;
        h.headers.clear();
        h.controls = controls::Controls::default();
        apply(state, h, input).await
    })
    .await
}

/// Deletes a tenant's hook; not found when it has none by that id.
pub async fn remove_hook(state: &AppState, tenant: &str, id: &str) -> Result<(), ServiceError> {
    let id = crate::path_id::hook(id)?;
    match state.db.delete_hook(&state.store, tenant, id).await? {
        HookWrite::Ok => Ok(()),
        _ => Err(ServiceError::NotFound("hook")),
    }
}

/// Activates or deactivates a tenant's hook.
pub async fn set_active(
    state: &AppState,
    tenant: &str,
    id: &str,
    active: bool,
) -> Result<Hook, ServiceError> {
    change_hook(state, tenant, id, async |h: &mut Hook| {
        set_active_flag(h, active);
        Ok(())
    })
    .await
}

/// Gives a tenant's hook a new secret (`secret`, or a generated one); the old one keeps
/// signing beside it for `HOOKPOST_ROTATION_GRACE`.
pub async fn rotate(
    state: &AppState,
    tenant: &str,
    id: &str,
    secret: Option<String>,
) -> Result<Hook, ServiceError> {
    let new = match secret {
        Some(s) => {
            check_secret(&s)?;
            s
        }
        None => hookpost_core::ids::new_secret(),
    };
    let until = hookpost_core::now_ms() + state.config.rotation_grace.as_millis() as i64;
    change_hook(state, tenant, id, async |h: &mut Hook| {
        h.previous_secret = Some(std::mem::replace(&mut h.secret, new));
        h.previous_secret_expires_at = Some(until);
        Ok(())
    })
    .await
}

/// Sends `hook` a sample event of `event_type` (by default the first type it takes) now.
pub async fn send_test(
    state: &AppState,
    hook: &Hook,
    event_type: Option<String>,
) -> Result<crate::test_send::TestResult, ServiceError> {
    let kind = event_type
        .or_else(|| hook.events.iter().find(|e| *e != "*").cloned())
        .unwrap_or_else(|| "ticket.created".into());
    crate::event_types::check_subscribed(state, &hook.tenant, std::slice::from_ref(&kind)).await?;
    let admitted = crate::test_send::admit(state, &hook.tenant).await?;
    let url = url::Url::parse(&hook.url).map_err(|e| ServiceError::invalid("url", e))?;
    crate::test_send::send(state, &admitted, &url, Some(hook), &kind).await
}
