//! What a client may send about a hook, and the checks of each field.

use std::collections::BTreeMap;

use hookpost_core::controls::{self, RateLimit};
use hookpost_core::hook::{check_headers, check_url, Format};
use hookpost_core::ordering::OnFailure;
use hookpost_core::Hook;
use serde::Deserialize;
use serde_json::Value;

use crate::fields::{given, present};
use crate::{AppState, ServiceError};

const MAX_DESCRIPTION: usize = 500;

/// The fields a client may send; anything else is refused. `null` clears `filter` and
/// the delivery controls. `Debug` shows no secret and no header value.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookInput {
    #[serde(default, deserialize_with = "present")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "given")]
    pub format: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub send_traceparent: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "given")]
    pub filter: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
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
            .field("format", &self.format)
            .field("send_traceparent", &self.send_traceparent)
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
        crate::event_types::check_subscribed(state, &hook.tenant, &events).await?;
        hook.events = events;
    }
    if let Some(active) = input.active {
        set_active_flag(hook, active);
    }
    if let Some(v) = input.format {
        hook.format = nullable(v, "format", |_: &Format| Ok(()))?.unwrap_or_default();
    }
    if let Some(send) = input.send_traceparent {
        hook.send_traceparent = send;
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

/// A secret: 16 to 256 printable ASCII characters (what openapi.json's pattern says).
pub fn check_secret(secret: &str) -> Result<(), ServiceError> {
    if (16..=256).contains(&secret.len()) && secret.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "secret",
            "must be 16 to 256 printable ASCII characters",
        ))
    }
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

/// Refuses a URL whose host is, or resolves to, a non-public address: the rule delivery
/// applies ([`hookpost_delivery::egress::permitted`]).
async fn check_public(url: &url::Url) -> Result<(), ServiceError> {
    use hookpost_delivery::egress::NotPermitted;
    use hookpost_delivery::registration::check_target;
    match check_target(url, true).await {
        Ok(()) => Ok(()),
        Err(NotPermitted::Refused(_)) => Err(ServiceError::BadRequest(
            "private_target",
            "`url` resolves to a loopback, private, link-local or otherwise non-public \
             address; a deployment that delivers to its own network (or a local receiver in \
             development) allows it with HOOKPOST_ALLOW_PRIVATE_TARGETS=true"
                .into(),
        )),
        Err(NotPermitted::Dns(e)) => Err(ServiceError::invalid(
            "url",
            format!("has a host that does not resolve: {}", e.1),
        )),
    }
}
