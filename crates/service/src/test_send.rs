//! Test sends: a sample event of a type, signed like any delivery, sent now, and the
//! receiver's answer returned (`POST /v1/hooks/{id}/test`, `POST /web_hooks/test.json`).
//!
//! A test send reaches a URL of the caller's choosing and shows what it answered, so it
//! is limited: per tenant a rate ([`RATE_BURST`] in a row, then one per [`RATE_INTERVAL`],
//! in Redis so every ingest shares it), and in each ingest process [`PER_TENANT`] of a
//! tenant's and [`IN_PROCESS`] in all running at a time (a send holds its place for up to
//! `HOOKPOST_REQUEST_TIMEOUT`). Over a limit: 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use hookpost_core::delivery::{request_body, BodyParts};
use hookpost_core::outcome::{Attempt, OutcomeKind};
use hookpost_core::signing::{sign, SigningKey};
use hookpost_core::Hook;
use hookpost_delivery::{Envelope, ReadyHook};
use serde::Serialize;

use crate::AppState;
use crate::ServiceError;

/// A tenant's test sends: this many in a row...
pub const RATE_BURST: u32 = 5;
/// ...then one every 6 s (10 a minute). Enough to try a receiver while building it.
pub const RATE_INTERVAL: Duration = Duration::from_secs(6);
/// Test sends of one tenant running at once in one process.
pub const PER_TENANT: usize = 2;
/// Test sends running at once in one process, all tenants together.
pub const IN_PROCESS: usize = 16;

/// Test sends running now, per tenant and in all.
#[derive(Default)]
pub struct Running {
    by_tenant: Mutex<HashMap<String, usize>>,
}

/// A test send let through; it counts as running until dropped.
pub struct Admitted<'a> {
    running: &'a Running,
    tenant: String,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        let mut by_tenant = self.running.by_tenant.lock().expect("not poisoned");
        if let Some(n) = by_tenant.get_mut(&self.tenant) {
            *n -= 1;
            if *n == 0 {
                by_tenant.remove(&self.tenant);
            }
        }
    }
}

impl Running {
    /// Counts one more test send of `tenant` as running, unless a cap is reached.
    fn start(&self, tenant: &str) -> Result<Admitted<'_>, ServiceError> {
        let mut by_tenant = self.by_tenant.lock().expect("not poisoned");
        let total: usize = by_tenant.values().sum();
        let mine = by_tenant.get(tenant).copied().unwrap_or(0);
        if mine >= PER_TENANT || total >= IN_PROCESS {
            let message = if mine >= PER_TENANT {
                format!("at most {PER_TENANT} test sends of a tenant run at once; wait for one to finish")
            } else {
                "too many test sends are running; try again in a moment".to_owned()
            };
            return Err(ServiceError::TooManyRequests("test_send_busy", message, 1));
        }
        by_tenant.insert(tenant.to_owned(), mine + 1);
        Ok(Admitted {
            running: self,
            tenant: tenant.to_owned(),
        })
    }
}

/// Lets one test send of `tenant` through the limits, or answers 429. Call it before any
/// work for the send (DNS included) and hold what it returns until the send is done.
pub async fn admit<'a>(state: &'a AppState, tenant: &str) -> Result<Admitted<'a>, ServiceError> {
    // The in-process cap first: a request it refuses spends none of the tenant's rate.
    let admitted = state.test_sends.start(tenant)?;
    if let Some(wait) = state
        .store
        .test_send_rate(tenant, RATE_INTERVAL, RATE_BURST)
        .await?
    {
        let secs = crate::error::retry_after_secs(wait);
        return Err(ServiceError::TooManyRequests(
            "test_send_rate_limited",
            format!(
                "a tenant may make {RATE_BURST} test sends in a row, then one every {}s; \
                 retry in {secs}s",
                RATE_INTERVAL.as_secs()
            ),
            secs,
        ));
    }
    Ok(admitted)
}

/// What the receiver answered.
#[derive(Debug, Serialize)]
pub struct TestResult {
    pub ok: bool,
    pub outcome: OutcomeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

impl From<Attempt> for TestResult {
    fn from(a: Attempt) -> Self {
        TestResult {
            ok: a.delivered(),
            outcome: a.outcome,
            status: a.status,
            duration_ms: a.duration_ms,
            error: a.error,
            response: a.response,
        }
    }
}

/// Sends a sample `event_type` event to `url`, once [`admit`]ted. With a hook, it is
/// signed with the hook's keys and carries its headers; without one there is no key, so
/// no signature. A URL on a port the policy refuses is a 400 (`port_not_allowed`).
pub async fn send(
    state: &AppState,
    _admitted: &Admitted<'_>,
    url: &url::Url,
    hook: Option<&Hook>,
    event_type: &str,
) -> Result<TestResult, ServiceError> {
    state
        .sender
        .check_port(url)
        .map_err(|e| ServiceError::BadRequest("port_not_allowed", format!("`url`: {}", e.0)))?;
    let now = hookpost_core::now_ms();
    let id = hookpost_core::ids::random_id("test");
    let snapshot = hook.map(Hook::snapshot_json).unwrap_or_else(|| {
        serde_json::json!({ "id": null, "url": url.as_str(), "events": [event_type] }).to_string()
    });
    let payload = serde_json::json!({ "test": true, "event": event_type }).to_string();
    let uuid = hook.and_then(|h| h.format.request_uuid());
    let parts = BodyParts {
        delivery_id: &id,
        event_type,
        timestamp_ms: now,
        hook_json: &snapshot,
        payload: &payload,
    };
    let body = request_body(hook, &parts, uuid.as_deref());
    let signatures = hook.map(|h| {
        let previous = h.previous_secret_at(now).map(SigningKey::from_secret);
        sign(
            &SigningKey::from_secret(&h.secret),
            previous.as_ref(),
            &id,
            now / 1000,
            &body,
        )
    });
    let headers = hook
        .and_then(|h| ReadyHook::new(h.clone()))
        .map(|r| r.headers)
        .unwrap_or_default();
    let envelope = Envelope {
        delivery_id: &id,
        event_type,
        attempt: 1,
        timestamp: now / 1000,
        signatures,
        uuid,
        secret: hook.and_then(Hook::secret_header),
        traceparent: None,
        headers: &headers,
    };
    Ok(state.sender.send(url, body, envelope).await.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_runs_two_test_sends_at_once_and_a_process_sixteen() {
        let running = Running::default();
        let a1 = running.start("a").unwrap();
        let _a2 = running.start("a").unwrap();
        let busy = running.start("a").err().unwrap();
        assert!(matches!(
            busy,
            ServiceError::TooManyRequests("test_send_busy", _, 1)
        ));
        drop(a1);
        let _a3 = running.start("a").expect("a finished send frees its place");

        let others: Vec<Admitted<'_>> = (0..IN_PROCESS - 2)
            .map(|i| running.start(&format!("t{}", i / 2)).unwrap())
            .collect();
        assert!(running.start("someone-new").is_err(), "the process is full");
        drop(others);
        let _new = running.start("someone-new").expect("places were freed");
        assert_eq!(
            running.by_tenant.lock().unwrap().len(),
            2,
            "a and someone-new only"
        );
    }
}
