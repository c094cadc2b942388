//! Event lookup: an event by its id, and every delivery it caused.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use hookpost_service::SharedState;
use maud::{html, Markup};

use super::{checked_id, query, see_other};
use crate::error::PageError;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// The lookup form (also under the delivery log).
pub fn lookup_form() -> Markup {
    html! {
        form.row.lookup method="get" action="/console/events" {
            label for="event-id" { "Event id" }
            input #event-id type="text" name="id" required placeholder="evt_…";
            button type="submit" #lookup { "Look up" }
        }
    }
}

/// `GET /console/events`: the form, or straight to the event asked for.
pub async fn lookup(viewer: Viewer, RawQuery(q): RawQuery) -> Result<Response, PageError> {
    let q = query(q);
    if let Some(id) = q.text("id") {
        let id = checked_id(id, hookpost_service::path_id::event)?;
        let target: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        return Ok(see_other(&format!("/console/events/{target}")));
    }
    let content = html! {
        h1 { "Event lookup" }
        p { "An event's id shows the event and every delivery it caused." }
        (lookup_form())
    };
    Ok(layout::page(&viewer, "Events", Nav::Events, content).into_response())
}

/// `GET /console/events/{id}`.
pub async fn show(
    State(state): State<SharedState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let tenant = super::tenant_in_view(&viewer)?;
    let id = checked_id(&id, hookpost_service::path_id::event)?;
    let (event, deliveries) =
        hookpost_service::deliveries::event_with_deliveries(&state, tenant, id).await?;
    let hooks = state.store.hooks(tenant).await?;
    let url_of = |hook_id: &str| {
        hooks
            .iter()
            .find(|h| h.id == hook_id)
            .map(|h| h.url.clone())
            .unwrap_or_else(|| format!("{hook_id} (deleted)"))
    };
    let content = html! {
        h1 { "Event " code { (event.id) } }
        dl.facts {
            dt { "Type" } dd { code { (event.kind) } }
            dt { "Received" } dd { (layout::time(event.received_at)) }
            @if let Some(at) = &event.occurred_at { dt { "Occurred" } dd { (at) } }
        }
        section {
            h2 { "Payload" }
            pre.payload #payload { (layout::pretty_json(&event.data)) }
        }
        section {
            h2 { "Deliveries" }
            @if deliveries.is_empty() {
                p.empty { "No hook took this event." }
            } @else {
                div.table-wrap {
                    table #event-deliveries {
                        thead { tr { th { "Delivery" } th { "Hook" } th { "Status" } th { "Attempts" } } }
                        tbody {
                            @for d in &deliveries {
                                tr data-delivery=(d.id) {
                                    td { a href={ "/console/deliveries/" (d.id) } { code { (d.id) } } }
                                    td.url { (url_of(&d.hook_id)) }
                                    td { (layout::status(d.status)) }
                                    td { (d.attempt_count) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&viewer, "Event", Nav::Events, content).into_response())
}
