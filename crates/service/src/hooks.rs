//! A tenant's hooks (subscriptions). Every operation is scoped to one tenant: another
//! tenant's hook id is not found.

use std::collections::BTreeMap;

use hookpost_core::controls::{self, RateLimit};
use hookpost_core::hook::{check_events, check_headers, check_url};
use hookpost_core::ordering::OnFailure;
use hookpost_core::Hook;
use hookpost_store::hooks::HookWrite;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{AppState, ServiceError};

const MAX_DESCRIPTION: usize = 500;
/// How header values show on read.
const MASK: &str = "********";

/// The fields a client may send; anything else is refused. `null` clears `filter` and
/// the delivery controls. `Debug` shows no secret and no header value.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub active: Option<bool>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "given")]
    pub filter: Option<Value>,
    pub headers: Option<BTreeMap<String, String>>,
    pub secret: Option<String>,
    #[serde(default, deserialize_with = "given")]
    pub rate_limit: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    pub max_in_flight: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    pub retry_schedule: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    pub ordering: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    pub ordering_key: Option<Value>,
    #[serde(default, deserialize_with = "given")]
    pub ordering_on_failure: Option<Value>,
}

impl std::fmt::Debug for HookInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use hookpost_core::hook::{redacted_headers, REDACTED};
        f.debug_struct("HookInput")
            .field("url", &self.url)
            .field("events", &self.events)
            .field("active", &self.active)
            .field("description", &self.description)
            .field("filter", &self.filter)
            .field("headers", &self.headers.as_ref().map(redacted_headers))
            .field("secret", &self.secret.as_ref().map(|_| REDACTED))
            .field("rate_limit", &self.rate_limit)
            .field("max_in_flight", &self.max_in_flight)
            .field("retry_schedule", &self.retry_schedule)
            .field("ordering", &self.ordering)
            .field("ordering_key", &self.ordering_key)
            .field("ordering_on_failure", &self.ordering_on_failure)
            .finish()
    }
}

/// A field that is present, `null` included (`Some(Value::Null)` clears it); absent
/// fields stay `None` through `default`.
fn given<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A hook as the API shows it: header values masked; the secret only when just made.
/// `Debug` shows no secret.
#[derive(Serialize)]
pub struct HookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    #[serde(flatten)]
    pub controls: controls::Controls,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for HookView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use hookpost_core::hook::{redacted_headers, REDACTED};
        f.debug_struct("HookView")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("active", &self.active)
            .field("headers", &redacted_headers(&self.headers))
            .field("secret", &self.secret.as_ref().map(|_| REDACTED))
            .finish_non_exhaustive()
    }
}

impl HookView {
    pub fn of(h: &Hook, with_secret: bool) -> HookView {
        let now = hookpost_core::now_ms();
        HookView {
            id: h.id.clone(),
            url: h.url.clone(),
            events: h.events.clone(),
            active: h.active,
            description: h.description.clone(),
            filter: h.filter.clone(),
            headers: h
                .headers
                .keys()
                .map(|k| (k.clone(), MASK.to_owned()))
                .collect(),
            secret: with_secret.then(|| h.secret.clone()),
            previous_secret_expires_at: h
                .previous_secret_expires_at
                .filter(|_| h.previous_secret_at(now).is_some())
                .map(hookpost_core::rfc3339),
            disabled_reason: h.disabled_reason.clone(),
            disabled_at: h.disabled_at.clone(),
            controls: h.controls.clone(),
            created_at: h.created_at.clone(),
            updated_at: h.updated_at.clone(),
        }
    }
}

/// Applies `input` to `hook` (a new one or a copy of the stored one), checking each field.
pub async fn apply(
    state: &AppState,
    hook: &mut Hook,
    input: HookInput,
) -> Result<(), ServiceError> {
    if let Some(url) = input.url {
        hook.url = checked_url(state, &url).await?;
    }
    if let Some(events) = input.events {
        check_event_types(state, &events)?;
        hook.events = events;
    }
    if let Some(active) = input.active {
        set_active_flag(hook, active);
    }
    if let Some(d) = input.description {
        if d.chars().count() > MAX_DESCRIPTION {
            return Err(ServiceError::invalid(
                "description",
                format!("must be at most {MAX_DESCRIPTION} characters"),
            ));
        }
        hook.description = Some(d).filter(|d| !d.is_empty());
    }
    if let Some(filter) = input.filter {
        if !filter.is_null() {
            hookpost_core::filter::Filter::parse(&filter)
                .map_err(|e| ServiceError::BadRequest("invalid_filter", e.to_string()))?;
        }
        hook.filter = Some(filter).filter(|f| !f.is_null());
    }
    if let Some(headers) = input.headers {
        check_headers(&headers).map_err(|m| ServiceError::invalid("headers", m))?;
        hook.headers = headers;
    }
    if let Some(secret) = input.secret {
        check_secret(&secret)?;
        hook.secret = secret;
    }
    let c = &mut hook.controls;
    if let Some(v) = input.rate_limit {
        c.rate_limit = nullable(v, "rate_limit", RateLimit::check)?;
    }
    if let Some(v) = input.max_in_flight {
        c.max_in_flight = nullable(v, "max_in_flight", |n| controls::check_max_in_flight(*n))?;
    }
    if let Some(v) = input.retry_schedule {
        c.retry_schedule = nullable(v, "retry_schedule", |steps: &Vec<String>| {
            controls::parse_retry_schedule(steps).map(drop)
        })?;
    }
    let no_check = |_: &_| Ok(());
    if let Some(v) = input.ordering {
        c.ordering = nullable(v, "ordering", no_check)?;
    }
    if let Some(v) = input.ordering_key {
        c.ordering_key = nullable(v, "ordering_key", no_check)?;
    }
    if let Some(v) = input.ordering_on_failure {
        c.ordering_on_failure = nullable(v, "ordering_on_failure", |_: &OnFailure| Ok(()))?;
    }
    // The three together: a key path needs a mode, and both must parse.
    c.ordering().map_err(|m| {
        let field = if m.contains("ordering_key") {
            "ordering_key"
        } else {
            "ordering"
        };
        ServiceError::invalid(field, m)
    })?;
    Ok(())
}

/// A field that `null` clears: its value as `T`, checked by `check`.
fn nullable<T: serde::de::DeserializeOwned>(
    v: Value,
    field: &str,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Option<T>, ServiceError> {
    if v.is_null() {
        return Ok(None);
    }
    let value: T = serde_json::from_value(v).map_err(|e| ServiceError::invalid(field, e))?;
    check(&value).map_err(|m| ServiceError::invalid(field, m))?;
    Ok(Some(value))
}

/// Activating clears why hookpost had disabled the hook.
pub fn set_active_flag(hook: &mut Hook, active: bool) {
    hook.active = active;
    if active {
        hook.disabled_reason = None;
        hook.disabled_at = None;
    }
}

pub fn check_secret(secret: &str) -> Result<(), ServiceError> {
    if (16..=256).contains(&secret.len()) && !secret.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "secret",
            "must be 16 to 256 printable characters",
        ))
    }
}

/// Event types must be `*` or in the catalogue; the error lists the known ones.
pub fn check_event_types(state: &AppState, events: &[String]) -> Result<(), ServiceError> {
    check_events(events).map_err(|m| ServiceError::invalid("events", m))?;
    if let Some(unknown) = events
        .iter()
        .find(|e| *e != "*" && !state.config.event_types.contains(e))
    {
        let known: Vec<&str> = state.config.event_types.types().map(|(t, _)| t).collect();
        return Err(ServiceError::BadRequest(
            "unknown_event_type",
            format!(
                "`events`: `{unknown}` is not a known event type; known: {}",
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A hook URL as given, once it is well-formed and (unless allowed) public.
pub async fn checked_url(state: &AppState, raw: &str) -> Result<String, ServiceError> {
    let parsed = check_url(raw).map_err(|m| ServiceError::invalid("url", m))?;
    state
        .config
        .allowed_ports
        .check(&parsed)
        .map_err(|m| ServiceError::BadRequest("port_not_allowed", format!("`url`: {m}")))?;
    if !state.config.allow_private_targets {
        check_public(&parsed).await?;
    }
    Ok(raw.to_owned())
}

/// Refuses a URL whose host is, or resolves to, a non-public address.
async fn check_public(url: &url::Url) -> Result<(), ServiceError> {
    let refused = || {
        ServiceError::BadRequest(
            "private_target",
            "`url` resolves to a loopback, private, link-local or otherwise non-public address"
                .into(),
        )
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<std::net::SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![(ip, port).into()],
        Some(url::Host::Ipv6(ip)) => vec![(ip, port).into()],
        Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| {
                ServiceError::invalid("url", format!("has a host that does not resolve: {e}"))
            })?
            .collect(),
        None => return Err(refused()),
    };
    if addrs.is_empty()
        || addrs
            .iter()
            .any(|a| !hookpost_core::address::is_public(a.ip()))
    {
        return Err(refused());
    }
    Ok(())
}

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
        return Err(ServiceError::BadRequest(
            "missing_field",
            "`url` is required".into(),
        ));
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
        .store
        .create_hook(&hook, state.config.max_hooks)
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
    match state.store.update_hook(&hook).await? {
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
        return Err(ServiceError::BadRequest(
            "missing_field",
            "`events` is required".into(),
        ));
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
    let hooks: Vec<Hook> = state
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
    let start = match &q.cursor {
        None => 0,
        Some(c) => hooks
            .iter()
            .position(|h| &h.id == c)
            .map(|i| i + 1)
            .ok_or_else(|| ServiceError::invalid("cursor", "is not a cursor of this list"))?,
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
            return Err(ServiceError::BadRequest(
                "missing_field",
                format!("`{field}` is required"),
            ));
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
    match state.store.delete_hook(tenant, id).await? {
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

/// The catalogue of event types.
pub fn event_types(state: &AppState) -> Value {
    let types: Vec<Value> = state
        .config
        .event_types
        .types()
        .map(|(t, d)| json!({ "type": t, "description": d }))
        .collect();
    json!({ "event_types": types })
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
    check_event_types(state, std::slice::from_ref(&kind))?;
    let admitted = crate::test_send::admit(state, &hook.tenant).await?;
    let url = url::Url::parse(&hook.url).map_err(|e| ServiceError::invalid("url", e))?;
    crate::test_send::send(state, &admitted, &url, Some(hook), &kind).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_an_input_and_a_view_shows_no_secret_and_no_header_value() {
        let input: HookInput = serde_json::from_value(json!({
            "url": "https://example.com/h",
            "secret": "whsec_given_by_client",
            "headers": { "Authorization": "Bearer receiver-token" }
        }))
        .unwrap();
        let hook = Hook {
            secret: "whsec_given_by_client".into(),
            headers: input.headers.clone().unwrap(),
            ..Hook::default()
        };
        let view = HookView::of(&hook, true);
        for shown in [format!("{input:?}"), format!("{view:?}")] {
            assert!(
                !shown.contains("whsec_given_by_client") && !shown.contains("receiver-token"),
                "{shown}"
            );
            assert!(shown.contains("Authorization"), "{shown}");
        }
    }
}
