//! Readiness: named checks that the role's loops keep up to date, and the ops routes.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::Metrics;

/// A check made again each time `/readyz` is asked (it reports through [`Readiness`]).
pub type Probe = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// How long `/readyz` waits for its probes; one that takes longer leaves its check as
/// its loop last set it.
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// Named readiness checks; ready when every check is `Ok`. Warnings are reported
/// beside them but do not make a process unready. Probes run again on every `/readyz`,
/// so that it answers from the state of now, not of the loops' last round.
#[derive(Clone, Default)]
pub struct Readiness(
    Arc<Mutex<BTreeMap<String, Result<(), String>>>>,
    Arc<Mutex<BTreeMap<String, String>>>,
    Arc<Mutex<Vec<Probe>>>,
);

impl Readiness {
    /// Runs `probe` on every `/readyz` before it answers. A probe that goes through the
    /// same connections as the requests makes "ready" mean that a request would
    /// succeed now: after a restart of what it probes, the first use of a connection
    /// finds it broken and has it made again.
    pub fn probe_on_ask(&self, probe: Probe) {
        self.2.lock().expect("not poisoned").push(probe);
    }

    /// Runs every probe, one after another, for at most [`PROBE_WAIT`] in all.
    pub async fn refresh(&self) {
        let probes = self.2.lock().expect("not poisoned").clone();
        let all = async {
            for probe in probes {
                probe().await;
            }
        };
        let _ = tokio::time::timeout(PROBE_WAIT, all).await;
    }

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
                async move {
                    r.refresh().await;
                    readyz(&r)
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refresh_runs_every_probe_and_a_hung_one_leaves_its_check_as_it_was() {
        let r = Readiness::default();
        r.ok("redis");
        let asked = r.clone();
        r.probe_on_ask(Arc::new(move || {
            let r = asked.clone();
            Box::pin(async move { r.fail("redis", "connection reset") })
        }));
        assert!(r.is_ready(), "the loops' last word until asked");
        r.refresh().await;
        assert_eq!(r.problems(), [("redis".into(), "connection reset".into())]);

        let hung = Readiness::default();
        hung.ok("postgres");
        hung.probe_on_ask(Arc::new(|| Box::pin(std::future::pending())));
        hung.refresh().await;
        assert!(hung.is_ready());
    }
}
