//! The hooks pages: every hook with its state, last delivery and failure rate; one hook
//! with its settings and actions (edit, activate, delete, rotate and reveal the secret,
//! send a test). Changes go through the API's functions, for the signed-in tenant only.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hookpost_core::Hook;
use hookpost_db::event_types::EventType;
use hookpost_service::hooks as api;
use hookpost_service::SharedState;
use hookpost_store::log::HookActivity;
use maud::{html, Markup};

use super::hook_form::{self, Values};
use super::{checked_id, done_message, query, see_other};
use crate::error::PageError;
use crate::layout::{self, Nav};
use crate::session::Viewer;

const DAY_MS: i64 = 86_400_000;
/// Deliveries of the last day read for the hooks' figures, at most.
const ACTIVITY_SCAN: usize = 10_000;

/// Why hookpost deactivated a hook, in words.
pub fn disabled_reason(reason: &str) -> String {
    match reason {
        "gone" => "the receiver answered 410 Gone".into(),
        "failing" => "every attempt failed for too long".into(),
        other => other.to_owned(),
    }
}

fn state_cell(h: &Hook) -> Markup {
    html! {
        @if h.active {
            span.badge.state-active { "active" }
        } @else {
            span.badge.state-inactive { "inactive" }
            @if let Some(reason) = &h.disabled_reason {
                div.small.disabled-reason {
                    "disabled by hookpost: " (disabled_reason(reason))
                    @if let Some(at) = &h.disabled_at { ", " (at) }
                }
            }
        }
    }
}

fn events_cell(events: &[String]) -> Markup {
    html! {
        @if events.iter().any(|e| e == "*") {
            "all events"
        } @else {
            @for (i, e) in events.iter().enumerate() {
                @if i > 0 { ", " }
                code { (e) }
            }
        }
    }
}

fn activity_cells(a: Option<&HookActivity>) -> Markup {
    html! {
        @match a.and_then(|a| a.last) {
            Some((status, at)) => td { (layout::status(status)) " " span.small { (layout::time(at)) } },
            None => td.muted { "none today" },
        }
        @match a.filter(|a| a.attempts > 0) {
            Some(a) => td {
                (a.failed_attempts * 100 / a.attempts) "% "
                span.small { "(" (a.failed_attempts) " of " (a.attempts) " attempts)" }
            },
            None => td.muted { "–" },
        }
    }
}

/// `GET /console/hooks`.
pub async fn list(
    State(state): State<SharedState>,
    viewer: Viewer,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let Some(tenant) = viewer.scope() else {
        return super::operator::pick_first(&state, &viewer, Nav::Hooks).await;
    };
    let hooks = state.store.hooks(tenant).await?;
    let since = hookpost_core::now_ms() - DAY_MS;
    let (activity, cut) = state.db.hook_activity(tenant, since, ACTIVITY_SCAN).await?;
    let content = html! {
        div.title-row {
            h1 { "Hooks" }
            @if !viewer.is_admin() { a.button href="/console/hooks/new" #new-hook { "New hook" } }
        }
        (layout::notice(done_message(&query(q))))
        @if hooks.is_empty() {
            p.empty { "No hooks yet." }
        } @else {
            div.table-wrap {
                table #hooks {
                    thead { tr {
                        th { "URL" } th { "Events" } th { "State" }
                        th { "Last delivery" } th { "Failed attempts, 24 h" }
                    } }
                    tbody {
                        @for h in &hooks {
                            tr data-hook=(h.id) {
                                td.url {
                                    a href={ "/console/hooks/" (h.id) } { (h.url) }
                                    @if let Some(d) = &h.description { div.small { (d) } }
                                }
                                td { (events_cell(&h.events)) }
                                td { (state_cell(h)) }
                                (activity_cells(activity.get(&h.id)))
                            }
                        }
                    }
                }
            }
            @if cut {
                p.small { "Figures from the newest " (ACTIVITY_SCAN) " deliveries of the day." }
            }
        }
    };
    Ok(layout::page(&viewer, "Hooks", Nav::Hooks, content).into_response())
}

/// `GET /console/hooks/new`.
pub async fn new(State(state): State<SharedState>, viewer: Viewer) -> Result<Response, PageError> {
    let tenant = viewer.writer()?;
    let types = super::event_types::of(&state, tenant).await?;
    Ok(new_page(&types, &viewer, &Values::default(), None).into_response())
}

fn new_page(
    types: &[EventType],
    viewer: &Viewer,
    values: &Values,
    error: Option<&str>,
) -> layout::Page {
    let content = html! {
        h1 { "New hook" }
        @if let Some(e) = error { p.message.error #error-message { (e) } }
        (hook_form::render(types, viewer, "/console/hooks", values, "Create hook"))
    };
    layout::page(viewer, "New hook", Nav::Hooks, content)
}

/// A form's error shown on the form again, with what was typed.
fn refused(e: PageError, page: impl FnOnce(&str) -> layout::Page) -> Result<Response, PageError> {
    match e {
        PageError::Status(status, message) if status.is_client_error() => {
            Ok((status, page(&message)).into_response())
        }
        other => Err(other),
    }
}

/// `POST /console/hooks`.
pub async fn create(
    State(state): State<SharedState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let tenant = viewer.writer()?;
    let form = crate::csrf::posted(&viewer, &headers, &body)?;
    let values = Values::submitted(&form);
    let made = match values.input() {
        Ok(mut input) => {
            input.filter = input.filter.filter(|f| !f.is_null());
            api::create_hook(&state, tenant, input)
                .await
                .map_err(PageError::from)
        }
        Err(e) => Err(e),
    };
    match made {
        Ok(hook) => Ok(see_other(&format!(
            "/console/hooks/{}?done=created",
            hook.id
        ))),
        Err(e) => {
            let types = super::event_types::of(&state, tenant).await?;
            refused(e, |m| new_page(&types, &viewer, &values, Some(m)))
        }
    }
}

async fn owned(state: &SharedState, tenant: &str, id: &str) -> Result<Hook, PageError> {
    let id = checked_id(id, hookpost_service::path_id::hook)?;
    state
        .store
        .hook(tenant, id)
        .await?
        .ok_or_else(|| PageError::not_found("hook"))
}

/// `GET /console/hooks/{id}`.
pub async fn show(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let tenant = super::tenant_in_view(&viewer)?;
    let hook = owned(&state, tenant, &id).await?;
    let types = super::event_types::of(&state, tenant).await?;
    let values = Values::of(&hook);
    let notice = done_message(&query(q));
    Ok(hook_page(&types, &viewer, &hook, &values, notice, None).into_response())
}

fn hook_page(
    types: &[EventType],
    viewer: &Viewer,
    hook: &Hook,
    values: &Values,
    notice: Option<String>,
    error: Option<&str>,
) -> layout::Page {
    let base = format!("/console/hooks/{}", hook.id);
    let c = &hook.controls;
    let day_ago = crate::time::field(hookpost_core::now_ms() - DAY_MS);
    let content = html! {
        h1.url { (hook.url) }
        (layout::notice(notice))
        @if let Some(e) = error { p.message.error #error-message { (e) } }
        dl.facts {
            dt { "Id" } dd { code { (hook.id) } }
            dt { "State" } dd #hook-state { (state_cell(hook)) }
            dt { "Events" } dd { (events_cell(&hook.events)) }
            @if let Some(d) = &hook.description { dt { "Description" } dd { (d) } }
            @if let Some(f) = &hook.filter { dt { "Filter" } dd { pre { (layout::pretty_json(&f.to_string())) } } }
            @if !hook.headers.is_empty() {
                dt { "Headers" }
                dd { @for name in hook.headers.keys() { code { (name) ": ********" } br; } }
            }
            @if let Some(r) = &c.rate_limit { dt { "Rate limit" } dd { (r.per_second) " a second, burst " (r.burst) } }
            @if let Some(n) = c.max_in_flight { dt { "Most in flight" } dd { (n) } }
            @if let Some(s) = &c.retry_schedule { dt { "Retry schedule" } dd { (s.join(", ")) } }
            @if let Some(o) = &c.ordering {
                dt { "Ordering" }
                dd { (o) @if let Some(k) = &c.ordering_key { " by " code { (k) } } }
            }
            dt { "Created" } dd { (hook.created_at) }
            dt { "Updated" } dd { (hook.updated_at) }
        }
        p { a href={ "/console/deliveries?hook=" (hook.id) } { "Deliveries of this hook" } }
        div.actions {
            @if !viewer.is_admin() {
                form.inline method="post" action={ (base) (if hook.active { "/deactivate" } else { "/activate" }) } {
                    (layout::csrf(viewer))
                    @if hook.active { button type="submit" #deactivate { "Deactivate" } }
                    @else { button type="submit" #activate { "Activate" } }
                }
                form.inline method="post" action={ (base) "/secret" } {
                    (layout::csrf(viewer))
                    button type="submit" #reveal-secret { "Reveal secret" }
                }
                form.inline method="post" action={ (base) "/rotate-secret" } {
                    (layout::csrf(viewer))
                    button type="submit" #rotate-secret { "Rotate secret" }
                }
                a.button.danger href={ (base) "/delete" } #delete { "Delete…" }
            }
        }
        @if !viewer.is_admin() {
            section {
                h2 { "Send a test event" }
                form.row method="post" action={ (base) "/test" } {
                    (layout::csrf(viewer))
                    select name="event_type" #test-type aria-label="Event type" {
                        @for t in types {
                            option value=(t.name) selected[hook.events.first().is_some_and(|e| *e == t.name)] { (t.name) }
                        }
                    }
                    button type="submit" #send-test { "Send test" }
                }
            }
        }
        section {
            h2 { "Resend failed deliveries" }
            form.row method="post" action={ (base) "/resend-failed" } {
                (layout::csrf(viewer))
                label for="since" { "Failed since (UTC)" }
                input #since type="datetime-local" name="since" value=(day_ago);
                button type="submit" #resend-failed { "Resend failed" }
            }
        }
        @if !viewer.is_admin() {
            section {
                h2 { "Edit" }
                (hook_form::render(types, viewer, &base, values, "Save"))
            }
        }
    };
    layout::page(viewer, "Hook", Nav::Hooks, content)
}

/// `POST /console/hooks/{id}`: saves the form.
pub async fn update(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let tenant = viewer.writer()?;
    let form = crate::csrf::posted(&viewer, &headers, &body)?;
    let hook = owned(&state, tenant, &id).await?;
    let values = Values::submitted(&form);
    let saved = match values.input() {
        Ok(input) => api::change_hook(&state, tenant, &hook.id, async |h: &mut Hook| {
            api::apply(&state, h, input).await
        })
        .await
        .map_err(PageError::from),
        Err(e) => Err(e),
    };
    match saved {
        Ok(h) => Ok(see_other(&format!("/console/hooks/{}?done=saved", h.id))),
        Err(e) => {
            let types = super::event_types::of(&state, tenant).await?;
            refused(e, |m| {
                hook_page(&types, &viewer, &hook, &values, None, Some(m))
            })
        }
    }
}

async fn set_active(
    state: SharedState,
    viewer: Viewer,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    active: bool,
) -> Result<Response, PageError> {
    let tenant = viewer.writer()?;
    crate::csrf::posted(&viewer, &headers, &body)?;
    let id = checked_id(&id, hookpost_service::path_id::hook)?;
    let hook = api::set_active(&state, tenant, id, active).await?;
    let done = if active { "activated" } else { "deactivated" };
    Ok(see_other(&format!(
        "/console/hooks/{}?done={done}",
        hook.id
    )))
}

pub async fn activate(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    set_active(state, viewer, id, headers, body, true).await
}

pub async fn deactivate(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    set_active(state, viewer, id, headers, body, false).await
}

/// `GET /console/hooks/{id}/delete`: asks first.
pub async fn confirm_delete(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let hook = owned(&state, viewer.writer()?, &id).await?;
    let content = html! {
        h1 { "Delete this hook?" }
        p.url { (hook.url) }
        p { "Nothing more is sent to it, and deliveries waiting for a retry are dropped. Its delivery log stays until it expires." }
        form.inline method="post" action={ "/console/hooks/" (hook.id) "/delete" } {
            (layout::csrf(&viewer))
            button.danger type="submit" #confirm-delete { "Delete hook" }
        }
        " "
        a href={ "/console/hooks/" (hook.id) } { "Cancel" }
    };
    Ok(layout::page(&viewer, "Delete hook", Nav::Hooks, content).into_response())
}

/// `POST /console/hooks/{id}/delete`.
pub async fn delete(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let tenant = viewer.writer()?;
    crate::csrf::posted(&viewer, &headers, &body)?;
    api::remove_hook(
        &state,
        tenant,
        checked_id(&id, hookpost_service::path_id::hook)?,
    )
    .await?;
    Ok(see_other("/console/hooks?done=deleted"))
}

fn secret_page(viewer: &Viewer, hook: &Hook, heading: &str) -> layout::Page {
    let now = hookpost_core::now_ms();
    let content = html! {
        h1 { (heading) }
        p.url { (hook.url) }
        p { "Receivers check signatures with this secret. Keep it out of chats and tickets." }
        pre.secret #secret { (hook.secret) }
        @if let (Some(prev), Some(until)) = (hook.previous_secret_at(now), hook.previous_secret_expires_at) {
            p { "The previous secret signs beside it until " (layout::time(until)) ":" }
            pre.secret #previous-secret { (prev) }
        }
        p { a href={ "/console/hooks/" (hook.id) } { "Back to the hook" } }
    };
    layout::page(viewer, "Secret", Nav::Hooks, content)
}

/// `POST /console/hooks/{id}/secret`: shows the secret (a POST, so that it is asked for
/// on purpose, never cached and never in a link).
pub async fn reveal(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let tenant = viewer.writer()?;
    crate::csrf::posted(&viewer, &headers, &body)?;
    let hook = owned(&state, tenant, &id).await?;
    Ok(secret_page(&viewer, &hook, "Signing secret").into_response())
}

/// `POST /console/hooks/{id}/rotate-secret`: a new secret, shown once here.
pub async fn rotate(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let tenant = viewer.writer()?;
    crate::csrf::posted(&viewer, &headers, &body)?;
    let hook = api::rotate(
        &state,
        tenant,
        checked_id(&id, hookpost_service::path_id::hook)?,
        None,
    )
    .await?;
    Ok(secret_page(&viewer, &hook, "New signing secret").into_response())
}

/// `POST /console/hooks/{id}/test`: a sample event sent now, and the receiver's answer.
pub async fn test(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let tenant = viewer.writer()?;
    let form = crate::csrf::posted(&viewer, &headers, &body)?;
    let hook = owned(&state, tenant, &id).await?;
    let kind = form.text("event_type").map(str::to_owned);
    let r = api::send_test(&state, &hook, kind).await?;
    let content = html! {
        h1 { "Test event sent" }
        p.url { (hook.url) }
        dl.facts {
            dt { "Outcome" }
            dd #test-outcome {
                @if r.ok { span.badge.status-delivered { "delivered" } }
                @else { span.badge.status-failed { (r.outcome.as_str()) } }
            }
            dt { "Status" } dd #test-status { @match r.status { Some(s) => (s), None => "no answer" } }
            dt { "Took" } dd { (r.duration_ms) " ms" }
            @if let Some(e) = &r.error { dt { "Error" } dd #test-error { (e) } }
        }
        h2 { "The receiver answered" }
        @match &r.response {
            Some(body) if !body.is_empty() => pre.response #test-response { (body) },
            _ => p.muted { "An empty body." },
        }
        p { a href={ "/console/hooks/" (hook.id) } { "Back to the hook" } }
    };
    // 200 whatever the receiver said, as the API answers: its answer is the page's news.
    Ok(layout::page(&viewer, "Test event", Nav::Hooks, content).into_response())
}
