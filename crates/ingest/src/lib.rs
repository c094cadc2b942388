//! hookpost's HTTP API and event intake: the axum router and its handlers, each a thin
//! call of `hookpost_service` (parse the request, call the operation, answer).
//!
//! - [`events`]: `POST /v1/events` and `/v1/events/batch`, answered after RabbitMQ confirms.
//! - [`lanes`]: each tenant's fair lane: its events beyond it go to the overflow queue,
//!   a light tenant's within it to the light queue.
//! - [`hooks`]: `/v1/hooks`, scoped to the API key's tenant.
//! - [`event_types`]: `/v1/event-types`, the global types and each tenant's own.
//! - [`deliveries`]: the delivery log, event lookup and resend.
//! - [`tenants`]: operators' routes for tenants and API keys.
//! - [`supportbee`]: the SupportBee web hooks API on the same store.
//! - [`auth`]: the [`auth::Tenant`] and [`auth::Admin`] extractors.
//! - [`audit`]: the audit middleware for what the admin token does, and `GET /v1/audit`.
//! - [`body`], [`error`]: JSON bodies in, JSON errors out ([`error::HttpError`]).
//!
//! The state, the operations, the auth checks, the failure throttle, test sends and the
//! ordering registrations are `hookpost_service`'s.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod body;
pub mod deliveries;
pub mod error;
pub mod event_types;
pub mod events;
pub mod hooks;
pub mod lanes;
pub mod supportbee;
pub mod tenants;
pub mod tiledesk;

// The publish path (events.rs) names these through the crate.
pub use hookpost_service::{ordering, test_send, AppState, SharedState, KEYSPACE_MISSING};

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hookpost_service::error::retry_after_secs;
use hookpost_service::{client, throttle, ServiceError};
use tokio_util::sync::CancellationToken;

use crate::error::HttpError;

/// The API, with `/healthz`; with `/metrics` and `/readyz` too when `HOOKPOST_OPS_ON_API`
/// is set (otherwise they are on the metrics address only).
pub fn router(state: SharedState) -> Router {
    let api = Router::new()
        .route("/v1/events", post(events::publish_one))
        .route("/v1/events/batch", post(events::publish_batch))
        .route(
            "/v1/event-types",
            get(event_types::list).post(event_types::create),
        )
        .route(
            "/v1/event-types/{name}",
            get(event_types::get)
                .patch(event_types::patch)
                .delete(event_types::delete),
        )
        .route("/v1/hooks", post(hooks::create).get(hooks::list))
        .route(
            "/v1/hooks/{id}",
            get(hooks::get)
                .patch(hooks::patch)
                .put(hooks::put)
                .delete(hooks::delete),
        )
        .route("/v1/hooks/{id}/secret", get(hooks::secret))
        .route("/v1/hooks/{id}/rotate-secret", post(hooks::rotate_secret))
        .route("/v1/hooks/{id}/activate", post(hooks::activate))
        .route("/v1/hooks/{id}/deactivate", post(hooks::deactivate))
        .route("/v1/hooks/{id}/test", post(hooks::test))
        .route(
            "/v1/hooks/{id}/resend-failed",
            post(deliveries::resend_failed),
        )
        .route("/v1/deliveries", get(deliveries::list))
        .route("/v1/deliveries/{id}", get(deliveries::get))
        .route("/v1/deliveries/{id}/resend", post(deliveries::resend))
        .route("/v1/deliveries/{id}/skip", post(deliveries::skip))
        .route("/v1/events/{id}", get(deliveries::event))
        .route("/v1/retries/stats", get(tenants::retry_stats))
        .route("/v1/audit", get(audit::list))
        .route(
            "/web_hooks.json",
            get(supportbee::list).post(supportbee::create),
        )
        .route(
            "/web_hooks/{file}",
            post(supportbee::test)
                .put(supportbee::update)
                .delete(supportbee::delete)
                .fallback(supportbee::other_method),
        )
        .route("/web_hook/{file}", axum::routing::put(supportbee::update))
        .route(
            "/{project}/subscriptions",
            get(tiledesk::list).post(tiledesk::create),
        )
        .route(
            "/{project}/subscriptions/{id}",
            get(tiledesk::get).delete(tiledesk::delete),
        )
        .route("/openapi.json", get(openapi))
        .route("/v1/tenants", post(tenants::create).get(tenants::list))
        .route("/v1/tenants/{id}", axum::routing::patch(tenants::update))
        .route(
            "/v1/tenants/{id}/keys",
            post(tenants::create_key).get(tenants::list_keys),
        )
        .route(
            "/v1/tenants/{id}/portal-links",
            post(tenants::create_portal_link),
        )
        .route(
            "/v1/tenants/{id}/keys/{key_id}",
            axum::routing::delete(tenants::revoke_key),
        )
        .fallback(|| async { HttpError(ServiceError::NotFound("route")) })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::audit_admin,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_keyspace,
        ))
        // Outside the keyspace check: a 401 it turned into 503 is no failed guess.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            throttle_failures,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state.clone());
    if state.config.ops_on_api {
        api.merge(hookpost_ops::health::routes(
            state.metrics.clone(),
            state.readiness.clone(),
        ))
    } else {
        api.merge(hookpost_ops::health::liveness())
    }
}

/// The OpenAPI document of this API (`openapi.json` at the repository's top; a test
/// checks it against the routes).
pub const OPENAPI: &str = include_str!("../../../openapi.json");

async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// Answers 503 to every API request while Redis does not hold hookpost's keyspace
/// marker, before any key is checked: the keys live in Redis too, and a 401 would tell
/// the caller its key is wrong when Redis lost its data.
async fn require_keyspace(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    if !state.keyspace_ok.load(Relaxed) {
        // Checked again here: the probe may be up to a second behind a restored Redis.
        if state.store.marker_present().await.unwrap_or(false) {
            state.keyspace_ok.store(true, Relaxed);
        } else {
            return HttpError(ServiceError::KeyspaceMissing).into_response();
        }
    }
    let response = next.run(req).await;
    // A key that no longer authenticates may mean Redis lost its data since the last
    // probe: then say so, never "your key is wrong".
    if response.status() == axum::http::StatusCode::UNAUTHORIZED
        && state
            .store
            .marker_present()
            .await
            .is_ok_and(|present| !present)
    {
        state.keyspace_ok.store(false, Relaxed);
        return HttpError(ServiceError::KeyspaceMissing).into_response();
    }
    response
}

/// Failed authentications per client address: see [`throttle`].
async fn throttle_failures(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    let client = client::bucket(client_address(&req, state.config.trust_proxy));
    throttle::attempt(
        &state.throttle,
        &state.store,
        &state.metrics,
        "api",
        &client,
        next.run(req),
        too_many_failures,
    )
    .await
}

/// The API's answer to a throttled address.
fn too_many_failures(wait: Duration) -> Response {
    let body = serde_json::json!({ "error": {
        "code": "too_many_failures",
        "message": format!(
            "too many failed authentications from this address; try again in {} s",
            retry_after_secs(wait)
        ),
    }});
    (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
}

/// The client's address (see `hookpost_service::client`): the TCP peer the server
/// recorded, or the trusted proxy's word for it.
pub fn client_address<B>(req: &axum::http::Request<B>, trust_proxy: bool) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
    client::address(req.headers(), peer, trust_proxy)
}

/// Times requests by route pattern, method and status code (the console's too).
pub async fn count_requests(
    State(state): State<SharedState>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(req).await.into_response();
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state
        .metrics
        .http_request(&route, method.as_str(), status, seconds);
    // The route pattern only: paths carry ids, headers and bodies carry keys and secrets.
    tracing::debug!(%method, route, status, "api request");
    response
}

/// Whether the broker can confirm and Redis answers, through the connections the
/// requests use.
async fn probe_once(state: &SharedState) {
    state.checks.broker(state.publisher.ready().await);
    let probed = state.store.marker_present().await;
    if let Some(present) = state.checks.keyspace(probed) {
        state
            .keyspace_ok
            .store(present, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Keeps `/readyz` current: every second, and again each time it is asked.
async fn probe(state: SharedState, cancel: CancellationToken) {
    let on_ask = state.clone();
    state.readiness.probe_on_ask(std::sync::Arc::new(move || {
        let state = on_ask.clone();
        Box::pin(async move { probe_once(&state).await })
    }));
    loop {
        probe_once(&state).await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Serves `app` (the API of [`router`], and what the caller merged into it, such as the
/// web console) on `listener` until `cancel` fires.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: SharedState,
    app: Router,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let prober = tokio::spawn(probe(state.clone(), cancel.clone()));
    if state.config.light_rate > 0 {
        // So that the light queue's first event does not wait for its connection.
        let warm = state.clone();
        tokio::spawn(async move { warm.light.ready().await });
    }
    let limits = hookpost_ops::HttpLimits::of(&state.config);
    let served = hookpost_ops::serve(listener, app, limits, cancel).await;
    prober.abort();
    tokio::join!(
        state.publisher.close(),
        state.overflow.close(),
        state.light.close()
    );
    served
}
