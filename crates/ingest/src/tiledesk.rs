//! Tiledesk's REST-hook subscriptions (as Tiledesk's webhooks documentation describes them), on the same store
//! as `/v1/hooks`: `POST /{project}/subscriptions {event, target}` makes a hook on that
//! one event in the `tiledesk` format, and the list, get and delete routes show each of
//! the tenant's hooks as a subscription object. `{project}` is the tenant of the key;
//! any other project is not found.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hookpost_core::hook::Format;
use hookpost_core::Hook;
use hookpost_service::hooks::{self, HookInput};
use hookpost_service::ServiceError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Tenant;
use crate::error::HttpError;
use crate::{body, SharedState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionInput {
    event: String,
    target: String,
}

/// A hook as Tiledesk shows a subscription; `event` lists a hook's event types
/// comma-separated when it has several. The secret only when just made.
fn view(h: &Hook, with_secret: bool) -> Value {
    let mut v = json!({
        "_id": h.id,
        "event": h.events.join(","),
        "target": h.url,
        "id_project": h.tenant,
        "createdAt": h.created_at,
        "updatedAt": h.updated_at,
    });
    if with_secret {
        v["secret"] = json!(h.secret);
    }
    v
}

/// The project must be the key's own tenant: another tenant's is not found.
fn own_project(tenant: &str, project: &str) -> Result<(), ServiceError> {
    if project == tenant {
        Ok(())
    } else {
        Err(ServiceError::NotFound("project"))
    }
}

/// An error about a hook, in the words of the client: subscriptions, `target`, `event`.
fn as_subscription(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::NotFound(_) => ServiceError::NotFound("subscription"),
        ServiceError::BadRequest(code, m) => ServiceError::BadRequest(
            code,
            m.replace("`url`", "`target`")
                .replace("`events`", "`event`"),
        ),
        e => e,
    }
}

/// `POST /{project}/subscriptions {event, target}`: 201 the subscription, with its
/// secret (sent in `x-hook-secret` on every notification).
pub async fn create(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    Path(project): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    own_project(&tenant, &project)?;
    let input: SubscriptionInput = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    if input.event == "*" {
        return Err(ServiceError::invalid("event", "must be one event type").into());
    }
    let hook = hooks::create(
        &state,
        &tenant,
        HookInput {
            url: Some(input.target.trim().to_owned()),
            events: Some(vec![input.event]),
            format: Some(json!(Format::Tiledesk)),
            ..HookInput::default()
        },
    )
    .await
    .map_err(as_subscription)?;
    Ok((StatusCode::CREATED, Json(view(&hook, true))))
}

/// `GET /{project}/subscriptions`: every hook of the tenant, oldest first.
pub async fn list(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    Path(project): Path<String>,
) -> Result<Json<Value>, HttpError> {
    own_project(&tenant, &project)?;
    let hooks = state.store.hooks(&tenant).await?;
    Ok(Json(Value::Array(
        hooks.iter().map(|h| view(h, false)).collect(),
    )))
}

/// `GET /{project}/subscriptions/{id}`.
pub async fn get(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    Path((project, id)): Path<(String, String)>,
) -> Result<Json<Value>, HttpError> {
    own_project(&tenant, &project)?;
    let hook = hooks::get(&state, &tenant, &id)
        .await
        .map_err(as_subscription)?;
    Ok(Json(view(&hook, false)))
}

/// `DELETE /{project}/subscriptions/{id}`: 200 the subscription that was removed.
pub async fn delete(
    State(state): State<SharedState>,
    Tenant(tenant): Tenant,
    Path((project, id)): Path<(String, String)>,
) -> Result<Json<Value>, HttpError> {
    own_project(&tenant, &project)?;
    let hook = hooks::get(&state, &tenant, &id)
        .await
        .map_err(as_subscription)?;
    hooks::remove_hook(&state, &tenant, &hook.id)
        .await
        .map_err(as_subscription)?;
    Ok(Json(view(&hook, false)))
}
