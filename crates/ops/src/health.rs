//! Readiness: named checks that the role's loops keep up to date, and the ops routes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::Metrics;

/// Named readiness checks; ready when every check is `Ok`. Warnings are reported
/// beside them but do not make a process unready.
#[derive(Clone, Default)]
pub struct Readiness(
    Arc<Mutex<BTreeMap<String, Result<(), String>>>>,
    Arc<Mutex<BTreeMap<String, String>>>,
);

impl Readiness {
    pub fn warn(&self, name: &str, why: impl Into<String>) {
        self.1
            .lock()
            .expect("not poisoned")
            .insert(name.to_owned(), why.into());
    }

    pub fn warnings(&self) -> BTreeMap<String, String> {
        self.1.lock().expect("not poisoned").clone()
    }

    pub fn set(&self, check: &str, state: Result<(), String>) {
        self.0
            .lock()
            .expect("not poisoned")
            .insert(check.to_owned(), state);
    }

    /// Registers checks as failing until their loops first report: a process is not
    /// ready while a role has not yet said anything.
    pub fn expect(&self, checks: &[&str]) {
        let mut map = self.0.lock().expect("not poisoned");
        for check in checks {
            map.entry((*check).to_owned())
                .or_insert_with(|| Err("starting".into()));
        }
    }

    pub fn ok(&self, check: &str) {
        self.set(check, Ok(()));
    }

    pub fn fail(&self, check: &str, why: impl Into<String>) {
        self.set(check, Err(why.into()));
    }

    /// The failing checks and why, empty when ready.
    pub fn problems(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .expect("not poisoned")
            .iter()
            .filter_map(|(k, v)| v.as_ref().err().map(|e| (k.clone(), e.clone())))
            .collect()
    }

    pub fn is_ready(&self) -> bool {
        let checks = self.0.lock().expect("not poisoned");
        !checks.is_empty() && checks.values().all(Result::is_ok)
    }
}

/// `/healthz` alone: what the API port serves unless `HOOKPOST_OPS_ON_API` is set (the
/// metrics and readiness details are for the metrics address).
pub fn liveness() -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" }))
}

/// `/metrics`, `/healthz` and `/readyz`.
pub fn routes(metrics: Arc<Metrics>, readiness: Readiness) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        m.render(),
                    )
                }
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let r = readiness.clone();
                async move { readyz(&r) }
            }),
        )
        .merge(liveness())
}

fn readyz(r: &Readiness) -> axum::response::Response {
    let warnings = r.warnings();
    if r.is_ready() {
        let mut body = serde_json::json!({ "ready": true });
        if !warnings.is_empty() {
            body["warnings"] = serde_json::json!(warnings);
        }
        return axum::Json(body).into_response();
    }
    let mut problems: serde_json::Map<String, serde_json::Value> = r
        .problems()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    if problems.is_empty() {
        problems.insert("startup".into(), "starting".into());
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(
            serde_json::json!({ "ready": false, "problems": problems, "warnings": warnings }),
        ),
    )
        .into_response()
}
