//! The page frame (head, navigation, who is signed in) and the small pieces every page
//! uses: times, status badges, notices, the hidden CSRF field.

use axum::response::Html;
use hookpost_store::log::Status;
use maud::{html, Markup, DOCTYPE};

use crate::session::Viewer;

/// A rendered page.
pub type Page = Html<String>;

/// The navigation entries; the current one is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Hooks,
    Log,
    Events,
    Types,
    Operator,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · hookpost" }
            // An empty icon: no request for /favicon.ico, and no error in the console.
            link rel="icon" href="data:,";
            link rel="stylesheet" href=(crate::assets::url("console.css"));
            script src=(crate::assets::url("console.js")) defer {}
        }
    }
}

/// A page of a signed-in viewer.
pub fn page(viewer: &Viewer, title: &str, current: Nav, content: Markup) -> Page {
    let link = |nav: Nav, href: &str, label: &str| {
        html! {
            a href=(href) aria-current=[(nav == current).then_some("page")] { (label) }
        }
    };
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(title))
                body {
                    header.top {
                        a.brand href="/console/hooks" { "hookpost" }
                        nav {
                            (link(Nav::Hooks, "/console/hooks", "Hooks"))
                            (link(Nav::Log, "/console/deliveries", "Delivery log"))
                            (link(Nav::Events, "/console/events", "Events"))
                            (link(Nav::Types, "/console/event-types", "Event types"))
                            @if viewer.is_admin() {
                                (link(Nav::Operator, "/console/operator", "Operator"))
                            }
                        }
                        div.who {
                            span #who { (viewer.who()) }
                            @if viewer.is_admin() {
                                " · "
                                a href="/console/operator#tenant" #scope {
                                    @match viewer.scope() {
                                        Some(t) => { "tenant " (t) }
                                        None => { "pick a tenant" }
                                    }
                                }
                            }
                            form.inline method="post" action="/console/sign-out" {
                                (csrf(viewer))
                                button.link type="submit" #sign-out { "Sign out" }
                            }
                        }
                    }
                    main { (content) }
                }
            }
        }
        .into_string(),
    )
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, content: Markup) -> Page {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(title))
                body { main.bare { (content) } }
            }
        }
        .into_string(),
    )
}

/// The hidden field every form of a session carries.
pub fn csrf(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name=(crate::csrf::FIELD) value=(viewer.session.csrf); }
}

/// A time (ms since the epoch), in UTC; the script shows it in the reader's zone too.
pub fn time(ms: i64) -> Markup {
    html! {
        time datetime=(hookpost_core::rfc3339(ms)) { (crate::time::show(ms)) " UTC" }
    }
}

pub fn status(s: Status) -> Markup {
    html! { span class={ "badge status-" (s.as_str()) } { (s.as_str()) } }
}

/// A line saying what just happened.
pub fn notice(message: Option<String>) -> Markup {
    html! {
        @if let Some(m) = message { p.notice #notice role="status" { (m) } }
    }
}

/// JSON shown indented; other text as it is.
pub fn pretty_json(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| raw.to_owned())
}
