//! The event-type catalogue: each type the tenant may send and subscribe to, with its
//! schema and an example `data` made from it. Types are changed through the API.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use hookpost_db::event_types::{EventType, Scope};
use hookpost_service::event_types::TypeView;
use hookpost_service::{AppState, SharedState};
use maud::html;

use crate::error::PageError;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// The types `tenant` knows, by name (for the hook form and the log's filter).
pub async fn of(state: &AppState, tenant: &str) -> Result<Vec<EventType>, PageError> {
    Ok(state.db.event_types(Scope::Tenant(tenant)).await?)
}

/// `GET /console/event-types`: a tenant's catalogue; the global one for an operator who
/// has not picked a tenant.
pub async fn list(State(state): State<SharedState>, viewer: Viewer) -> Result<Response, PageError> {
    let scope = viewer.scope().map_or(Scope::Global, Scope::Tenant);
    let types = state.db.event_types(scope).await?;
    let pretty = |v: &serde_json::Value| layout::pretty_json(&v.to_string());
    let content = html! {
        h1 { "Event types" }
        p {
            "Events of any other type are refused. Types are added and changed through "
            code { "/v1/event-types" } "; a schema checks each event's " code { "data" } "."
        }
        @for t in types.iter().map(TypeView::of) {
            section.event-type id={ "type-" (t.name) } {
                h2 {
                    code { (t.name) }
                    " " span.badge { (t.scope) }
                    @if t.deprecated { " " span.badge.warn { "deprecated" } }
                }
                @if !t.description.is_empty() { p { (t.description) } }
                @match &t.schema {
                    Some(schema) => {
                        details {
                            summary { "Schema" }
                            pre.schema { (pretty(schema)) }
                        }
                    }
                    None => { p.muted { "No schema: any JSON " code { "data" } " is taken." } }
                }
                details open[t.schema.is_some()] {
                    summary { "Example payload" }
                    pre.example { (pretty(&t.example)) }
                }
            }
        }
    };
    Ok(layout::page(&viewer, "Event types", Nav::Types, content).into_response())
}
