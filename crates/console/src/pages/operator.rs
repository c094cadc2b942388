//! The operator page (admin token): the retry backlog, dead-lettered messages with their
//! reasons, hooks hookpost disabled recently, and which tenant the other pages show.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hookpost_service::SharedState;
use maud::{html, Markup};

use super::see_other;
use crate::error::PageError;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// Dead letters shown, at most (the count says how many there are).
const DEAD_SHOWN: usize = 20;
/// How far back "disabled recently" looks.
const RECENT_MS: i64 = 7 * 86_400_000;

fn admin(viewer: &Viewer) -> Result<(), PageError> {
    if viewer.is_admin() {
        Ok(())
    } else {
        Err(PageError::forbidden(
            "The operator page needs the admin token.",
        ))
    }
}

fn picker(viewer: &Viewer, tenants: &[String]) -> Markup {
    html! {
        form.row #tenant method="post" action="/console/tenant" {
            (layout::csrf(viewer))
            label for="tenant-select" { "Tenant" }
            select #tenant-select name="tenant" {
                @for t in tenants {
                    option value=(t) selected[viewer.scope() == Some(t.as_str())] { (t) }
                }
            }
            button type="submit" #pick-tenant { "Show" }
        }
    }
}

/// An operator's page before a tenant is picked.
pub async fn pick_first(
    state: &SharedState,
    viewer: &Viewer,
    nav: Nav,
) -> Result<Response, PageError> {
    let tenants = state.store.tenants().await?;
    let content = html! {
        h1 { "Pick a tenant" }
        p { "Operators see every tenant, one at a time." }
        @if tenants.is_empty() { p.empty { "No tenants yet." } } @else { (picker(viewer, &tenants)) }
    };
    Ok(layout::page(viewer, "Pick a tenant", nav, content).into_response())
}

/// `POST /console/tenant`: the tenant the other pages show to an operator.
pub async fn pick_tenant(
    State(state): State<SharedState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    admin(&viewer)?;
    let form = crate::csrf::posted(&viewer, &headers, &body)?;
    let wanted = form
        .text("tenant")
        .ok_or_else(|| PageError::bad_request("Pick a tenant."))?;
    let tenant = state
        .store
        .tenant(wanted)
        .await?
        .ok_or_else(|| PageError::not_found("tenant"))?;
    super::audit_operator(&state, &viewer, &headers, "tenant.view", &tenant.id, None).await?;
    let mut session = viewer.session.clone();
    session.acting_for = Some(tenant.id);
    let ttl = state.config.console_session_ttl;
    if !state
        .store
        .update_session(&viewer.id, &session, ttl)
        .await?
    {
        return Err(PageError::SignIn);
    }
    Ok(see_other("/console/hooks"))
}

/// `GET /console/operator`.
pub async fn show(State(state): State<SharedState>, viewer: Viewer) -> Result<Response, PageError> {
    admin(&viewer)?;
    let tenants = state.store.tenants().await?;
    let backlog = hookpost_service::tenants::retry_backlog(&state).await?;
    let dead = hookpost_broker::dead::peek(
        &state.config.amqp_url,
        &state.publisher.topology().dead_queue,
        DEAD_SHOWN,
        state.config.connect_timeout,
    )
    .await;
    let cutoff = hookpost_core::rfc3339(hookpost_core::now_ms() - RECENT_MS);
    let mut disabled = Vec::new();
    for t in &tenants {
        for h in state.store.hooks(t).await? {
            let recent = h
                .disabled_at
                .as_deref()
                .is_some_and(|at| at >= cutoff.as_str());
            if !h.active && h.disabled_reason.is_some() && recent {
                disabled.push(h);
            }
        }
    }
    disabled.sort_by(|a, b| b.disabled_at.cmp(&a.disabled_at));
    let content = html! {
        h1 { "Operator" }
        section {
            h2 { "Tenant" }
            @if tenants.is_empty() { p.empty { "No tenants yet." } } @else { (picker(&viewer, &tenants)) }
        }
        section {
            h2 { "Retry backlog" }
            table.numbers #backlog {
                tr { th { "Due now" } td { (backlog.due_now) } }
                tr { th { "Due within a minute" } td { (backlog.due_next_minute) } }
                tr { th { "Due within an hour" } td { (backlog.due_next_hour) } }
                tr { th { "Due within a day" } td { (backlog.due_next_day) } }
                tr { th { "All retries" } td { (backlog.total) } }
            }
        }
        section #dead-letters {
            h2 { "Dead-lettered messages" }
            @match &dead {
                Err(e) => p.message.error { "RabbitMQ could not be read: " (e) },
                Ok((0, _)) => p.empty { "None." },
                Ok((count, letters)) => {
                    p { (count) " in " code { (state.publisher.topology().dead_queue) }
                        @if (*count as usize) > letters.len() { ", the first " (letters.len()) " shown" } "." }
                    div.table-wrap {
                        table {
                            thead { tr { th { "Reason" } th { "Error" } th { "Message" } } }
                            tbody {
                                @for l in letters {
                                    tr {
                                        td { code.reason { (l.reason) } }
                                        td { (l.error) }
                                        td {
                                            pre.response { (l.body) }
                                            @if l.body_len > l.body.len() { span.small { (l.body_len) " bytes" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section #disabled-hooks {
            h2 { "Hooks disabled in the last 7 days" }
            @if disabled.is_empty() {
                p.empty { "None." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th { "Tenant" } th { "URL" } th { "Why" } th { "When" } } }
                        tbody {
                            @for h in &disabled {
                                tr data-hook=(h.id) {
                                    td { (h.tenant) }
                                    td.url { (h.url) }
                                    td { (super::hooks::disabled_reason(h.disabled_reason.as_deref().unwrap_or_default())) }
                                    td { (h.disabled_at.as_deref().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&viewer, "Operator", Nav::Operator, content).into_response())
}
