//! The delivery log: newest first, a page at a time, filtered by hook, status, event
//! type and creation time (read through the same store call as `GET /v1/deliveries`).

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use hookpost_service::SharedState;
use hookpost_store::log::Status;
use maud::html;

use super::query;
use crate::error::PageError;
use crate::form::Form;
use crate::layout::{self, Nav};
use crate::session::Viewer;

const PAGE: usize = 25;
const STATUSES: [Status; 5] = [
    Status::Pending,
    Status::Retrying,
    Status::Delivered,
    Status::Failed,
    Status::Cancelled,
];

/// The filters as given (kept for the form and the next page's link).
struct Filters {
    hook: Option<String>,
    status: Option<Status>,
    event: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    cursor: Option<(i64, String)>,
}

impl Filters {
    fn read(q: &Form) -> Result<Filters, PageError> {
        let time = |name: &str, label: &str| {
            q.text(name)
                .map(|v| {
                    crate::time::parse_field(v).ok_or_else(|| {
                        PageError::bad_request(format!(
                            "`{label}` must be a date and time such as 2026-11-22T10:00."
                        ))
                    })
                })
                .transpose()
        };
        let status = q
            .text("status")
            .map(|s| {
                Status::parse(s).ok_or_else(|| {
                    PageError::bad_request(
                        "The status must be pending, retrying, delivered, failed or cancelled.",
                    )
                })
            })
            .transpose()?;
        let cursor = q
            .text("cursor")
            .map(|c| {
                c.split_once('.')
                    .filter(|(_, id)| hookpost_core::delivery::is_delivery_id(id))
                    .and_then(|(t, id)| Some((t.parse().ok()?, id.to_owned())))
                    .ok_or_else(|| PageError::bad_request("That is not a page of this log."))
            })
            .transpose()?;
        Ok(Filters {
            hook: q.text("hook").map(str::to_owned),
            status,
            event: q.text("event").map(str::to_owned),
            from: time("from", "From")?,
            to: time("to", "To")?,
            cursor,
        })
    }

    fn filter(&self) -> hookpost_db::log::Filter<'_> {
        hookpost_db::log::Filter {
            hook: self.hook.as_deref(),
            status: self.status,
            kind: self.event.as_deref(),
            from: self.from,
            to: self.to,
        }
    }

    /// The query of the page after `cursor`, with the same filters.
    fn next_link(&self, cursor: &(i64, String)) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("hook", self.hook.clone()),
            ("status", self.status.map(|s| s.as_str().to_owned())),
            ("event", self.event.clone()),
            ("from", self.from.map(crate::time::field)),
            ("to", self.to.map(crate::time::field)),
        ];
        for (k, v) in pairs {
            if let Some(v) = v {
                q.append_pair(k, &v);
            }
        }
        q.append_pair("cursor", &format!("{}.{}", cursor.0, cursor.1));
        format!("/console/deliveries?{}", q.finish())
    }
}

/// `GET /console/deliveries`.
pub async fn list(
    State(state): State<SharedState>,
    viewer: Viewer,
    RawQuery(q): RawQuery,
) -> Result<Response, PageError> {
    let Some(tenant) = viewer.scope() else {
        return super::operator::pick_first(&state, &viewer, Nav::Log).await;
    };
    let f = Filters::read(&query(q))?;
    let hooks = state.store.hooks(tenant).await?;
    let types = super::event_types::of(&state, tenant).await?;
    let urls: HashMap<&str, &str> = hooks
        .iter()
        .map(|h| (h.id.as_str(), h.url.as_str()))
        .collect();
    let (page, next) = state
        .db
        .deliveries_page(tenant, &f.filter(), f.cursor.as_ref(), PAGE)
        .await?;
    let content = html! {
        h1 { "Delivery log" }
        form.filters method="get" action="/console/deliveries" {
            label { "Hook"
                select name="hook" {
                    option value="" { "any" }
                    @for h in &hooks {
                        option value=(h.id) selected[f.hook.as_deref() == Some(h.id.as_str())] { (h.url) }
                    }
                }
            }
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in STATUSES {
                        option value=(s.as_str()) selected[f.status == Some(s)] { (s.as_str()) }
                    }
                }
            }
            label { "Event"
                select name="event" {
                    option value="" { "any" }
                    @for t in &types {
                        option value=(t.name) selected[f.event.as_deref() == Some(t.name.as_str())] { (t.name) }
                    }
                }
            }
            label { "From (UTC)"
                input type="datetime-local" name="from" value=[f.from.map(crate::time::field)];
            }
            label { "To (UTC)"
                input type="datetime-local" name="to" value=[f.to.map(crate::time::field)];
            }
            button type="submit" #filter { "Filter" }
            a href="/console/deliveries" { "Clear" }
        }
        @if page.is_empty() {
            p.empty { "No deliveries." }
        } @else {
            div.table-wrap {
                table #deliveries {
                    thead { tr {
                        th { "Created" } th { "Event" } th { "Hook" } th { "Status" }
                        th { "Attempts" } th { "Next attempt" }
                    } }
                    tbody {
                        @for d in &page {
                            tr data-delivery=(d.id) {
                                td { a href={ "/console/deliveries/" (d.id) } { (layout::time(d.created_at)) } }
                                td { code { (d.kind) } }
                                td.url { (urls.get(d.hook_id.as_str()).copied().unwrap_or("(deleted hook)")) }
                                td.status { (layout::status(d.status)) }
                                td.attempts { (d.attempt_count) }
                                td { @if let Some(at) = d.next_attempt_at { (layout::time(at)) } }
                            }
                        }
                    }
                }
            }
        }
        p.pager {
            @if f.cursor.is_some() { a href="/console/deliveries" { "Newest" } " " }
            @if let Some(c) = &next { a href=(f.next_link(c)) #older { "Older →" } }
        }
        (super::events::lookup_form())
    };
    Ok(layout::page(&viewer, "Delivery log", Nav::Log, content).into_response())
}
