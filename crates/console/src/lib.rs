//! hookpost's web console at `/console`: server-rendered pages over the same state, the
//! same operations (`hookpost_service`) and the same tenant scoping as the API.
//!
//! - [`session`]: signing in with an API key (or the admin token) for a session cookie.
//! - [`csrf`]: the token every form carries, and the origin checks of every POST.
//! - [`layout`]: the page frame, navigation and small shared pieces (times, badges).
//! - [`pages`]: hooks, the delivery log, a delivery, event lookup, the operator page.
//! - [`assets`]: the one stylesheet and the one script, embedded in the binary.
//! - [`error`]: what a page shows when something is wrong (a 4xx with a message).
//! - [`form`], [`time`]: reading posted forms, and times shown and typed in UTC.
#![forbid(unsafe_code)]

pub mod assets;
pub mod csrf;
pub mod error;
pub mod form;
pub mod layout;
pub mod pages;
pub mod session;
pub mod time;

use axum::extract::Request;
use axum::http::header::{self, HeaderValue};
use axum::middleware::Next;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use hookpost_service::SharedState;

/// The Content-Security-Policy of every console response: no inline script or style,
/// framing only by the origins of `HOOKPOST_CONSOLE_FRAME_ANCESTORS` (none by default),
/// forms post only here.
pub fn csp(frame_ancestors: &[String]) -> String {
    let ancestors = if frame_ancestors.is_empty() {
        "'none'".to_owned()
    } else {
        frame_ancestors.join(" ")
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         frame-ancestors {ancestors}; form-action 'self'; base-uri 'none'"
    )
}

/// The console's routes, to merge beside the API's (the binary counts their requests
/// with the API's own middleware).
pub fn routes(state: SharedState) -> Router {
    use pages::{delivery, event_types, events, hooks, log, operator};
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/hooks") }))
        .route(
            "/console/sign-in",
            post(session::sign_in)
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    session::throttle_sign_in,
                ))
                .get(session::sign_in_page),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/portal/{token}", get(session::portal))
        .route("/console/assets/{file}", get(assets::serve))
        .route("/console/tenant", post(operator::pick_tenant))
        .route("/console/hooks", get(hooks::list).post(hooks::create))
        .route("/console/hooks/new", get(hooks::new))
        .route("/console/hooks/{id}", get(hooks::show).post(hooks::update))
        .route("/console/hooks/{id}/activate", post(hooks::activate))
        .route("/console/hooks/{id}/deactivate", post(hooks::deactivate))
        .route(
            "/console/hooks/{id}/delete",
            get(hooks::confirm_delete).post(hooks::delete),
        )
        .route("/console/hooks/{id}/rotate-secret", post(hooks::rotate))
        .route("/console/hooks/{id}/secret", post(hooks::reveal))
        .route("/console/hooks/{id}/test", post(hooks::test))
        .route(
            "/console/hooks/{id}/resend-failed",
            post(delivery::resend_failed),
        )
        .route("/console/deliveries", get(log::list))
        .route("/console/deliveries/{id}", get(delivery::show))
        .route("/console/deliveries/{id}/resend", post(delivery::resend))
        .route("/console/events", get(events::lookup))
        .route("/console/event-types", get(event_types::list))
        .route("/console/events/{id}", get(events::show))
        .route("/console/operator", get(operator::show))
        .route(
            "/console/{*rest}",
            get(not_found).post(not_found).put(not_found),
        )
        .layer(axum::middleware::from_fn_with_state(
            Frames::of(&state.config.console_frame_ancestors),
            security_headers,
        ))
        .with_state(state)
}

/// Who may frame the console, as its headers say it, made once.
#[derive(Clone)]
struct Frames {
    csp: HeaderValue,
    /// `X-Frame-Options: DENY` for browsers without CSP, unless some origin may frame.
    deny: bool,
}

impl Frames {
    fn of(ancestors: &[String]) -> Frames {
        Frames {
            csp: HeaderValue::from_str(&csp(ancestors)).expect("origins are header-safe"),
            deny: ancestors.is_empty(),
        }
    }
}

async fn not_found() -> error::PageError {
    error::PageError::not_found("page")
}

/// Headers every console response carries; pages (not assets) are never cached.
async fn security_headers(
    axum::extract::State(frames): axum::extract::State<Frames>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, frames.csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if frames.deny {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
