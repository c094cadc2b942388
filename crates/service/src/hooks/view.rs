//! A hook as the API shows it.

use std::collections::BTreeMap;

use hookpost_core::controls;
use hookpost_core::Hook;
use serde::Serialize;
use serde_json::Value;

/// How header values show on read.
const MASK: &str = "********";

/// A hook as the API shows it: header values masked; the secret only when just made.
/// `Debug` shows no secret.
#[derive(Serialize)]
pub struct HookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub format: hookpost_core::hook::Format,
    pub send_traceparent: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    #[serde(flatten)]
    pub controls: controls::Controls,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for HookView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use hookpost_core::hook::{redacted_headers, REDACTED};
        f.debug_struct("HookView")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("active", &self.active)
            .field("headers", &redacted_headers(&self.headers))
            .field("secret", &self.secret.as_ref().map(|_| REDACTED))
            .finish_non_exhaustive()
    }
}

impl HookView {
    pub fn of(h: &Hook, with_secret: bool) -> HookView {
        let now = hookpost_core::now_ms();
        HookView {
            id: h.id.clone(),
            url: h.url.clone(),
            events: h.events.clone(),
            active: h.active,
            format: h.format,
            send_traceparent: h.send_traceparent,
            description: h.description.clone(),
            filter: h.filter.clone(),
            headers: h
                .headers
                .keys()
                .map(|k| (k.clone(), MASK.to_owned()))
                .collect(),
            secret: with_secret.then(|| h.secret.clone()),
            previous_secret_expires_at: h
                .previous_secret_expires_at
                .filter(|_| h.previous_secret_at(now).is_some())
                .map(hookpost_core::rfc3339),
            disabled_reason: h.disabled_reason.clone(),
            disabled_at: h.disabled_at.clone(),
            controls: h.controls.clone(),
            created_at: h.created_at.clone(),
            updated_at: h.updated_at.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::HookInput;
    use serde_json::json;

    #[test]
    fn debug_of_an_input_and_a_view_shows_no_secret_and_no_header_value() {
        let input: HookInput = serde_json::from_value(json!({
            "url": "https://example.com/h",
            "secret": "whsec_given_by_client",
            "headers": { "Authorization": "Bearer receiver-token" }
        }))
        .unwrap();
        let hook = Hook {
            secret: "whsec_given_by_client".into(),
            headers: input.headers.clone().unwrap(),
            ..Hook::default()
        };
        let view = HookView::of(&hook, true);
        for shown in [format!("{input:?}"), format!("{view:?}")] {
            assert!(
                !shown.contains("whsec_given_by_client") && !shown.contains("receiver-token"),
                "{shown}"
            );
            assert!(shown.contains("Authorization"), "{shown}");
        }
    }
}
