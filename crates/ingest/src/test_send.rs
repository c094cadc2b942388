//! Test sends: a sample event of a type, signed like any delivery, sent now, and the
//! receiver's answer returned (`POST /v1/hooks/{id}/test`, `POST /web_hooks/test.json`).

use hookpost_core::outcome::{Attempt, OutcomeKind};
use hookpost_core::signing::{sign, SigningKey};
use hookpost_core::Hook;
use hookpost_worker::sender::Envelope;
use serde::Serialize;

use crate::AppState;

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

/// Sends a sample `event_type` event to `url`. With a hook, it is signed with the hook's
/// keys and carries its headers; without one there is no key, so no signature.
pub async fn send(
    state: &AppState,
    url: &url::Url,
    hook: Option<&Hook>,
    event_type: &str,
) -> TestResult {
    let now = hookpost_core::now_ms();
    let id = hookpost_core::ids::random_id("test");
    let snapshot = hook.map(Hook::snapshot_json).unwrap_or_else(|| {
        serde_json::json!({ "id": null, "url": url.as_str(), "events": [event_type] }).to_string()
    });
    let payload = serde_json::json!({ "test": true, "event": event_type }).to_string();
    let body = hookpost_core::delivery::body(&id, event_type, now, &snapshot, &payload);
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
        .and_then(|h| hookpost_worker::hooks_cache::ReadyHook::new(h.clone()))
        .map(|r| r.headers)
        .unwrap_or_default();
    let envelope = Envelope {
        delivery_id: &id,
        event_type,
        attempt: 1,
        timestamp: now / 1000,
        signatures,
        headers: &headers,
    };
    state.sender.send(url, body, &envelope).await.into()
}
