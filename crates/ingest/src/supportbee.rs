//! The SupportBee web hooks API (as SupportBee's own API documentation describes it), served as
//! documented on the same store as `/v1/hooks`: `{"web_hooks": [...]}` and
//! `{"web_hook": {...}}` wrappers, `.json` paths, 201/204/400/500 as the doc says.
//! A key may come as `Authorization: Bearer` or SupportBee's `?auth_token=`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

// The service's error under the name these handlers were written with.
use hookpost_service::hooks::{change_hook, checked_url, create_hook, HookInput};
use hookpost_service::{auth, ServiceError};

use crate::error::HttpError;
use crate::{body, AppState, SharedState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    web_hook: WebHookInput,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebHookInput {
    url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestInput {
    action_type: String,
    url: String,
}

fn view(h: &hookpost_core::Hook) -> Value {
    json!({ "id": h.id, "url": h.url })
}

async fn tenant(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<String, ServiceError> {
    let token = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "auth_token")
            .map(|(_, v)| v.into_owned())
    });
    match token {
        Some(key) => state
            .store
            .authenticate(&key)
            .await?
            .ok_or(ServiceError::Unauthorized),
        None => auth::tenant(state, headers).await,
    }
}

/// `{id}.json` → `id`; anything else is not a route.
fn strip_json(file: &str) -> Result<&str, ServiceError> {
    file.strip_suffix(".json")
        .filter(|id| !id.is_empty())
        .ok_or(ServiceError::NotFound("route"))
}

pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Json<Value>, HttpError> {
    let tenant = tenant(&state, &headers, q.as_deref()).await?;
    let hooks: Vec<Value> = state.store.hooks(&tenant).await?.iter().map(view).collect();
    Ok(Json(json!({ "web_hooks": hooks })))
}

/// Creates one hook per URL (SupportBee accepts several, comma-separated); every URL is
/// checked first, so a bad one creates none. Answers with the first.
pub async fn create(
    State(state): State<SharedState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), HttpError> {
    let tenant = tenant(&state, &headers, q.as_deref()).await?;
    let input: Envelope = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let urls: Vec<&str> = input
        .web_hook
        .url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Err(ServiceError::missing("web_hook.url").into());
    }
    for url in &urls {
        checked_url(&state, url).await?;
    }
    let mut created = Vec::new();
    for url in urls {
        let hook_input = HookInput {
            url: Some(url.to_owned()),
            ..HookInput::default()
        };
        match create_hook(&state, &tenant, hook_input).await {
            Ok(h) => created.push(h),
            Err(e) => {
                for h in &created {
                    let _ = state.db.delete_hook(&state.store, &tenant, &h.id).await;
                }
                return Err(e.into());
            }
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({ "web_hook": view(&created[0]) })),
    ))
}

/// `PUT /web_hooks/{id}.json` and `PUT /web_hook/{id}.json`.
pub async fn update(
    State(state): State<SharedState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(file): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, HttpError> {
    let id = strip_json(&file)?;
    let tenant = tenant(&state, &headers, q.as_deref()).await?;
    let input: Envelope = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let url = checked_url(&state, input.web_hook.url.trim()).await?;
    let hook = change_hook(&state, &tenant, id, async |h: &mut hookpost_core::Hook| {
        h.url = url;
        Ok(())
    })
    .await?;
    Ok(Json(json!({ "web_hook": view(&hook) })))
}

pub async fn delete(
    State(state): State<SharedState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(file): Path<String>,
) -> Result<StatusCode, HttpError> {
    let id = strip_json(&file)?;
    let tenant = tenant(&state, &headers, q.as_deref()).await?;
    let id = hookpost_service::path_id::hook(id).map_err(|_| ServiceError::NotFound("web hook"))?;
    match state.db.delete_hook(&state.store, &tenant, id).await? {
        hookpost_store::hooks::HookWrite::Ok => Ok(StatusCode::NO_CONTENT),
        _ => Err(ServiceError::NotFound("web hook").into()),
    }
}

/// Any other method on `/web_hooks/{file}`: 405 with the methods that file takes, as
/// the document has them (`test.json` is POSTed; a hook's file is PUT or DELETEd).
pub async fn other_method(Path(file): Path<String>) -> Response {
    let allow = if file == "test.json" {
        "POST"
    } else {
        "PUT, DELETE"
    };
    let body = json!({"error": {"code": "method_not_allowed", "message": format!("{file} takes {allow}")}});
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(axum::http::header::ALLOW, allow)],
        Json(body),
    )
        .into_response()
}

/// `POST /web_hooks/test.json` `{action_type, url}`: 200 when the receiver said 2xx,
/// 500 otherwise, as SupportBee documents; the body says what happened. Signed with the
/// key of the tenant's hook for that URL, if there is one.
pub async fn test(
    State(state): State<SharedState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    Path(file): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    if file != "test.json" {
        return Err(ServiceError::NotFound("route").into());
    }
    let tenant = tenant(&state, &headers, q.as_deref()).await?;
    let input: TestInput = body::json(&body::bytes(raw, state.config.max_body_bytes)?)?;
    let kinds = std::slice::from_ref(&input.action_type);
    hookpost_service::event_types::check_subscribed(&state, &tenant, kinds)
        .await
        .map_err(|e| match e {
            ServiceError::BadRequest(code, m) => {
                ServiceError::BadRequest(code, m.replace("`events`", "`action_type`"))
            }
            other => other,
        })?;
    // Limited before the URL is looked at: checking it resolves the name.
    let admitted = hookpost_service::test_send::admit(&state, &tenant).await?;
    let url_text = checked_url(&state, input.url.trim()).await?;
    let url = url::Url::parse(&url_text).map_err(|e| ServiceError::invalid("url", e))?;
    let hooks = state.store.hooks(&tenant).await?;
    let hook = hooks.iter().find(|h| h.url == url_text);
    let result =
        hookpost_service::test_send::send(&state, &admitted, &url, hook, &input.action_type)
            .await?;
    let status = if result.ok {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    Ok((status, Json(result)).into_response())
}
