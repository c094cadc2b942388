//! One delivery: its event, the body and headers sent, every attempt; and resending it
//! (or every failed delivery of a hook) through the API's own resend functions.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hookpost_core::delivery::{request_body, BodyParts};
use hookpost_core::outcome::Attempt;
use hookpost_core::Hook;
use hookpost_service::deliveries as api;
use hookpost_service::SharedState;
use hookpost_store::log::Delivery;
use maud::{html, Markup};

use super::{checked_id, done_message, query, see_other};
use crate::error::PageError;
use crate::layout::{self, Nav};
use crate::session::Viewer;

async fn owned(state: &SharedState, tenant: &str, id: &str) -> Result<Delivery, PageError> {
    let id = checked_id(id, hookpost_service::path_id::delivery)?;
    match hookpost_service::deliveries::get(state, tenant, id).await {
        Err(hookpost_service::ServiceError::NotFound(_)) => Err(PageError::not_found("delivery")),
        other => Ok(other?),
    }
}

/// The headers attempt `a` went out with: its signature headers as the log kept them
/// (nothing is signed again for display), custom header values masked.
fn headers_sent(d: &Delivery, a: &Attempt, hook: Option<&Hook>) -> Markup {
    let attempt = a.attempt.to_string();
    let mut rows: Vec<(&str, String)> = vec![
        ("Content-Type", "application/json".into()),
        ("X-Hook-Id", d.id.clone()),
        ("X-Hook-Event", d.kind.clone()),
        ("X-Hook-Attempt", attempt),
    ];
    if let Some(sig) = &a.signatures {
        rows.push(("X-Hook-Signature", sig.sha1.clone()));
        if let Some(prev) = &sig.sha1_previous {
            rows.push(("X-Hook-Signature-Previous", prev.clone()));
        }
        rows.extend([
            ("webhook-id", d.id.clone()),
            ("webhook-timestamp", sig.timestamp.to_string()),
            ("webhook-signature", sig.standard.clone()),
        ]);
    }
    html! {
        table.headers #headers-sent {
            @for (name, value) in &rows { tr { th { (name) } td { code { (value) } } } }
            @if let Some(h) = hook {
                @for name in h.headers.keys() { tr { th { (name) } td { code { "********" } } } }
            }
        }
        @if a.signatures.is_none() {
            p.muted { "The log holds no signature for this attempt: it never left, or it was made before the log kept them." }
        }
    }
}

fn attempts_table(d: &Delivery) -> Markup {
    html! {
        @if d.attempts.is_empty() {
            p.empty { "No attempt yet." }
        } @else {
            div.table-wrap {
                table #attempts {
                    thead { tr {
                        th { "#" } th { "Time" } th { "Took" } th { "Result" } th { "Signature sent" } th { "Response" }
                    } }
                    tbody {
                        @for a in &d.attempts {
                            tr.attempt data-attempt=(a.attempt) {
                                td { (a.attempt) }
                                td { (layout::time(a.at)) }
                                td { (a.duration_ms) " ms" }
                                td.result {
                                    @if a.delivered() { span.badge.status-delivered { (a.status.unwrap_or(200)) } }
                                    @else if let Some(s) = a.status { span.badge.status-failed { (s) } }
                                    @else { span.badge.status-failed { (a.outcome.as_str()) } }
                                    @if let Some(e) = &a.error { div.small { (e) } }
                                    @if let Some(s) = a.retry_after_s { div.small { "Retry-After " (s) " s" } }
                                }
                                td.sent {
                                    @if let Some(s) = &a.signatures { code.signature { (s.sha1) } }
                                    @if let Some(u) = &a.uuid { div.small { "uuid " code.uuid { (u) } } }
                                }
                                td {
                                    @match a.response.as_deref() {
                                        Some(r) if !r.is_empty() => pre.response { (r) },
                                        _ => span.muted { "empty" },
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console/deliveries/{id}`.
pub async fn show(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let tenant = super::tenant_in_view(&viewer)?;
    let d = owned(&state, tenant, &id).await?;
    let (event, hook) = event_and_hook(&state, tenant, &d).await?;
    let last = d.attempts.last();
    // The last attempt's body, from the parts every attempt shares and its own `uuid`
    // (the hook's format decides the shape; a deleted hook's shows as the default).
    let body = event.as_ref().map(|e| {
        let uuid = last.and_then(|a| a.uuid.as_deref());
        let parts = BodyParts {
            delivery_id: &d.id,
            event_type: &d.kind,
            timestamp_ms: e.received_at,
            hook_json: &d.hook_json,
            payload: &e.data,
        };
        request_body(hook.as_ref(), &parts, uuid)
    });
    let content = html! {
        div.title-row {
            h1 { "Delivery " code { (d.id) } }
            form.inline method="post" action={ "/console/deliveries/" (d.id) "/resend" } {
                (layout::csrf(&viewer))
                button type="submit" #resend { "Resend" }
            }
        }
        (layout::notice(done_message(&query(q))))
        dl.facts {
            dt { "Status" } dd #delivery-status { (layout::status(d.status))
                @if d.blocking { " " span.small { "(holds its ordering key until resent or skipped)" } } }
            dt { "Event" } dd { code { (d.kind) } " " a href={ "/console/events/" (d.event_id) } { (d.event_id) } }
            dt { "Hook" } dd {
                @match &hook {
                    Some(h) => a href={ "/console/hooks/" (h.id) } { (h.url) },
                    None => { (d.hook_id) " (deleted)" },
                }
            }
            dt { "Created" } dd { (layout::time(d.created_at)) }
            dt { "Attempts" } dd #attempt-count { (d.attempt_count) }
            @if let Some(at) = d.next_attempt_at { dt { "Next attempt" } dd { (layout::time(at)) } }
        }
        section {
            h2 { "Attempts" }
            (attempts_table(&d))
        }
        section {
            h2 { "Event payload" }
            @match &event {
                Some(e) => pre.payload #payload { (layout::pretty_json(&e.data)) },
                None => p.muted { "The event has expired." },
            }
        }
        section {
            h2 { "Body sent" @if let Some(a) = last { " (attempt " (a.attempt) ")" } }
            @match &body {
                Some(b) => pre.payload #body-sent { (String::from_utf8_lossy(b)) },
                None => p.muted { "The event has expired." },
            }
        }
        section {
            h2 { "Headers sent" @if let Some(a) = last { " (attempt " (a.attempt) ")" } }
            @match last {
                Some(a) => (headers_sent(&d, a, hook.as_ref())),
                None => p.muted { "Nothing sent yet." },
            }
        }
    };
    Ok(layout::page(&viewer, "Delivery", Nav::Log, content).into_response())
}

/// The delivery's event and hook, either of which may be gone.
async fn event_and_hook(
    state: &SharedState,
    tenant: &str,
    d: &Delivery,
) -> Result<(Option<hookpost_db::log::LoggedEvent>, Option<Hook>), PageError> {
    let event = state.db.event(tenant, &d.event_id).await?;
    let hook = state.store.hook(tenant, &d.hook_id).await?;
    Ok((event, hook))
}

/// `POST /console/deliveries/{id}/resend`: a new attempt of the same delivery (operators
/// may too).
pub async fn resend(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let tenant = super::tenant_in_view(&viewer)?;
    crate::csrf::posted(&viewer, &headers, &body)?;
    let d = owned(&state, tenant, &id).await?;
    super::audit_operator(
        &state,
        &viewer,
        &headers,
        "delivery.resend",
        tenant,
        Some(&d.id),
    )
    .await?;
    api::queue_resends(&state, tenant, std::slice::from_ref(&d)).await?;
    Ok(see_other(&format!(
        "/console/deliveries/{}?done=resent&n={}",
        d.id,
        d.attempt_count + 1
    )))
}

/// `POST /console/hooks/{id}/resend-failed`: every failed delivery of the hook created
/// since the time given (operators may too).
pub async fn resend_failed(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let tenant = super::tenant_in_view(&viewer)?;
    let form = crate::csrf::posted(&viewer, &headers, &body)?;
    let id = checked_id(&id, hookpost_service::path_id::hook)?;
    let since = form
        .text("since")
        .map(|v| {
            crate::time::parse_field(v)
                .ok_or_else(|| PageError::bad_request("`Failed since` must be a date and time."))
        })
        .transpose()?;
    super::audit_operator(
        &state,
        &viewer,
        &headers,
        "delivery.resend_failed",
        tenant,
        Some(id),
    )
    .await?;
    let queued = api::resend_failed_since(&state, tenant, id, since).await?;
    Ok(see_other(&format!(
        "/console/hooks/{id}?done=queued&n={queued}"
    )))
}
