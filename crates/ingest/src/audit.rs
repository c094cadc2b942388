//! The audit trail of operators: every request the admin token makes for a tenant
//! (`X-Hookpost-Tenant`) and every tenant and key route is recorded before it runs, and
//! refused (503) when it cannot be, so that nothing happens without a trace. Entries
//! record the attempt (a refused one too). `GET /v1/audit` lists them. The writing and
//! the listing are `hookpost_service::audit`'s; this is the HTTP side.

use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hookpost_db::audit::AuditEntry;
use hookpost_service::audit::{self as service, AuditQuery};
use hookpost_service::{auth, ServiceError};
use serde_json::Value;

use crate::auth::Admin;
use crate::error::HttpError;
use crate::SharedState;

/// The audited name of an API action, by method and route pattern.
fn action(method: &Method, route: &str) -> Option<&'static str> {
    let m = method.as_str();
    Some(match (m, route) {
        ("POST", "/v1/events") | ("POST", "/v1/events/batch") => "event.publish",
        ("GET", "/v1/events/{id}") => "event.read",
        ("GET", "/v1/event-types" | "/v1/event-types/{name}") => "event_types.read",
        ("POST", "/v1/event-types") => "event_type.create",
        ("PATCH", "/v1/event-types/{name}") => "event_type.update",
        ("DELETE", "/v1/event-types/{name}") => "event_type.delete",
        ("POST", "/v1/hooks" | "/web_hooks.json" | "/{project}/subscriptions") => "hook.create",
        ("GET", "/v1/hooks" | "/web_hooks.json" | "/{project}/subscriptions") => "hook.list",
        ("GET", "/v1/hooks/{id}" | "/{project}/subscriptions/{id}") => "hook.read",
        ("PATCH", "/v1/hooks/{id}")
        | ("PUT", "/v1/hooks/{id}")
        | ("PUT", "/web_hooks/{file}")
        | ("PUT", "/web_hook/{file}") => "hook.update",
        ("DELETE", "/v1/hooks/{id}" | "/web_hooks/{file}" | "/{project}/subscriptions/{id}") => {
            "hook.delete"
        }
        ("GET", "/v1/hooks/{id}/secret") => "hook.secret.read",
        ("POST", "/v1/hooks/{id}/rotate-secret") => "hook.secret.rotate",
        ("POST", "/v1/hooks/{id}/activate") => "hook.activate",
        ("POST", "/v1/hooks/{id}/deactivate") => "hook.deactivate",
        ("POST", "/v1/hooks/{id}/test") | ("POST", "/web_hooks/{file}") => "hook.test",
        ("POST", "/v1/hooks/{id}/resend-failed") => "delivery.resend_failed",
        ("GET", "/v1/deliveries") => "delivery.list",
        ("GET", "/v1/deliveries/{id}") => "delivery.read",
        ("POST", "/v1/deliveries/{id}/resend") => "delivery.resend",
        ("POST", "/v1/deliveries/{id}/skip") => "delivery.skip",
        ("POST", "/v1/tenants") => "tenant.create",
        ("GET", "/v1/tenants") => "tenant.list",
        ("POST", "/v1/tenants/{id}/keys") => "key.create",
        ("GET", "/v1/tenants/{id}/keys") => "key.list",
        ("DELETE", "/v1/tenants/{id}/keys/{key_id}") => "key.revoke",
        ("POST", "/v1/tenants/{id}/portal-links") => "portal_link.create",
        _ => return None,
    })
}

/// The routes about tenants and keys, audited whether or not a tenant is named.
fn tenant_route(route: &str) -> bool {
    route.starts_with("/v1/tenants")
}

/// A change to the event-type catalogue: the global one when no tenant is named.
fn catalogue_change(method: &Method, route: &str) -> bool {
    route.starts_with("/v1/event-types") && *method != Method::GET
}

/// The value of each `{name}` of `route` in `path`.
fn path_params<'a>(route: &'a str, path: &'a str) -> Vec<(&'a str, &'a str)> {
    route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(r, p)| Some((r.strip_prefix('{')?.strip_suffix('}')?, p)))
        .collect()
}

/// The client's address as the audit log records it (the proxy's word for it only with
/// `HOOKPOST_TRUST_PROXY`).
pub fn client(req: &Request, trust_proxy: bool) -> Option<String> {
    crate::client_address(req, trust_proxy).map(|ip| ip.to_string())
}

/// Middleware: records what the admin token does for a tenant, and on tenants and keys,
/// before the handler runs.
pub async fn audit_admin(
    State(state): State<SharedState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(route) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let acting_for = req
        .headers()
        .get(auth::ACT_FOR)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let audited =
        acting_for.is_some() || tenant_route(&route) || catalogue_change(req.method(), &route);
    // Only the admin's actions: a tenant's key or a bad token changes nothing here.
    if !audited || auth::admin(&state, req.headers()).is_err() {
        return next.run(req).await;
    }
    let Some(action) = action(req.method(), &route) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let params = path_params(&route, &path);
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let (tenant, target) = if route == "/v1/tenants" && *req.method() == Method::POST {
        // The new tenant's id is in the body: read it, and hand the body on unchanged.
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
            Ok(b) => b,
            Err(_) => {
                return HttpError(ServiceError::TooLarge(state.config.max_body_bytes))
                    .into_response()
            }
        };
        let id = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_owned));
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
        (id, None)
    } else if tenant_route(&route) {
        (param("id"), param("key_id"))
    } else {
        let target = param("id")
            .or_else(|| param("name"))
            .or_else(|| param("file").map(|f| f.trim_end_matches(".json").to_owned()));
        (acting_for, target)
    };
    // A tenant id that is not one cannot be acted for (the handler refuses it); it is not
    // a key to write either.
    let tenant = tenant.filter(|t| hookpost_core::event::check_tenant_id(t).is_ok());
    let mut entry = AuditEntry::now("admin", action, tenant.as_deref());
    entry.target = target;
    let client = client(&req, state.config.trust_proxy);
    if let Err(e) = service::record(&state, entry, req.headers(), client).await {
        return HttpError(e).into_response();
    }
    next.run(req).await
}

/// `GET /v1/audit` (admin token only): the audit log, newest first; `next_cursor`
/// continues.
pub async fn list(
    State(state): State<SharedState>,
    _: Admin,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, HttpError> {
    let Query(q) = query.map_err(crate::hooks::invalid_query)?;
    Ok(Json(service::list(&state, q).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_params_are_read_by_the_route_pattern() {
        assert_eq!(
            path_params(
                "/v1/tenants/{id}/keys/{key_id}",
                "/v1/tenants/acme/keys/key_1"
            ),
            [("id", "acme"), ("key_id", "key_1")]
        );
        assert!(path_params("/v1/hooks", "/v1/hooks").is_empty());
    }

    #[test]
    fn every_secret_and_key_route_has_an_action() {
        for (m, r, a) in [
            (Method::GET, "/v1/hooks/{id}/secret", "hook.secret.read"),
            (
                Method::POST,
                "/v1/hooks/{id}/rotate-secret",
                "hook.secret.rotate",
            ),
            (Method::POST, "/v1/tenants/{id}/keys", "key.create"),
            (
                Method::DELETE,
                "/v1/tenants/{id}/keys/{key_id}",
                "key.revoke",
            ),
        ] {
            assert_eq!(action(&m, r), Some(a));
        }
        assert_eq!(action(&Method::GET, "/v1/audit"), None);
    }
}
