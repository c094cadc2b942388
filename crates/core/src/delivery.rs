//! Delivery ids and bodies.
//!
//! A delivery is one event for one hook. Its id is derived from (tenant, event, hook), so a
//! worker that takes over an event after a crash arrives at the same ids, and the body is
//! built from stored parts only, so it is the same bytes on every attempt.

use sha2::{Digest, Sha256};

/// `dlv_` and 128 bits of SHA-256 over the tenant, event id and hook id.
pub fn delivery_id(tenant: &str, event_id: &str, hook_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [tenant, event_id, hook_id] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest: [u8; 16] = h.finalize()[..16].try_into().expect("16 of 32 bytes");
    delivery_id_of(&digest)
}

/// The id of the 128 bits a [`delivery_id`] carries.
pub fn delivery_id_of(bits: &[u8; 16]) -> String {
    format!("dlv_{}", hex::encode(bits))
}

/// The 128 bits of an id of [`delivery_id`]'s form ([`delivery_id_of`]'s inverse);
/// `None` for another form.
pub fn delivery_id_bits(id: &str) -> Option<[u8; 16]> {
    let mut bits = [0; 16];
    (is_delivery_id(id) && hex::decode_to_slice(&id[4..], &mut bits).is_ok()).then_some(bits)
}

/// Whether `id` has the form [`delivery_id`] gives it: `dlv_` and 32 lowercase hex digits.
pub fn is_delivery_id(id: &str) -> bool {
    id.strip_prefix("dlv_").is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// The body an attempt of a delivery sends (README, "What a receiver gets").
/// `hook_json` is [`crate::Hook::snapshot_json`]; `payload` is the event's `data`, verbatim.
/// `uuid` is the request's own id in the HappyFox format ([`crate::hook::Format`]); without
/// it every attempt sends the same bytes.
pub fn body(
    id: &str,
    uuid: Option<&str>,
    event_type: &str,
    timestamp_ms: i64,
    hook_json: &str,
    payload: &str,
) -> Vec<u8> {
    let id = serde_json::to_string(id).expect("string");
    let event_type = serde_json::to_string(event_type).expect("string");
    let mut out =
        Vec::with_capacity(130 + id.len() + event_type.len() + hook_json.len() + payload.len());
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(id.as_bytes());
    if let Some(uuid) = uuid {
        out.extend_from_slice(b",\"uuid\":");
        out.extend_from_slice(serde_json::to_string(uuid).expect("string").as_bytes());
    }
    out.extend_from_slice(b",\"event\":");
    out.extend_from_slice(event_type.as_bytes());
    out.extend_from_slice(b",\"timestamp\":");
    out.extend_from_slice(timestamp_ms.to_string().as_bytes());
    out.extend_from_slice(b",\"hook\":");
    out.extend_from_slice(hook_json.as_bytes());
    out.extend_from_slice(b",\"payload\":");
    out.extend_from_slice(payload.as_bytes());
    out.push(b'}');
    out
}

/// What every request of a delivery is made of, whatever its format.
pub struct BodyParts<'a> {
    pub delivery_id: &'a str,
    pub event_type: &'a str,
    /// When the event was received (ms).
    pub timestamp_ms: i64,
    /// [`crate::Hook::snapshot_json`] as the delivery keeps it.
    pub hook_json: &'a str,
    /// The event's `data`, verbatim.
    pub payload: &'a str,
}

/// The body of one request to `hook`, in its format: [`body`], with `uuid` (HappyFox),
/// or Tiledesk's notification object, whose `hook` is the subscription as it is now.
/// Without a hook (a test send to a bare URL, a deleted hook's log), the default format.
pub fn request_body(
    hook: Option<&crate::Hook>,
    parts: &BodyParts<'_>,
    uuid: Option<&str>,
) -> Vec<u8> {
    match hook {
        Some(hook) if hook.format == crate::hook::Format::Tiledesk => tiledesk_body(
            &hook.tiledesk_json(parts.event_type),
            parts.timestamp_ms,
            parts.payload,
        ),
        _ => body(
            parts.delivery_id,
            uuid,
            parts.event_type,
            parts.timestamp_ms,
            parts.hook_json,
            parts.payload,
        ),
    }
}

/// Tiledesk's notification object (as Tiledesk's webhooks documentation describes them):
/// `{"hook": <subscription>, "timestamp": <ms>, "payload": <data>}`.
pub fn tiledesk_body(subscription_json: &str, timestamp_ms: i64, payload: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + subscription_json.len() + payload.len());
    out.extend_from_slice(b"{\"hook\":");
    out.extend_from_slice(subscription_json.as_bytes());
    out.extend_from_slice(b",\"timestamp\":");
    out.extend_from_slice(timestamp_ms.to_string().as_bytes());
    out.extend_from_slice(b",\"payload\":");
    out.extend_from_slice(payload.as_bytes());
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_generated_form_is_a_delivery_id() {
        assert!(is_delivery_id(&delivery_id("acme", "evt_1", "hook_1")));
        let id = delivery_id("acme", "evt_1", "hook_1");
        for bad in [
            format!("{id}:attempts"),
            id.to_uppercase(),
            id[..id.len() - 1].to_owned(),
            "dlv_".to_owned(),
            id.replace("dlv_", "evt_"),
        ] {
            assert!(!is_delivery_id(&bad), "{bad}");
        }
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(delivery_id("t", "e", "h"), delivery_id("t", "e", "h"));
        assert_ne!(delivery_id("t", "e", "h1"), delivery_id("t", "e", "h2"));
        assert_ne!(delivery_id("t", "eh", ""), delivery_id("t", "e", "h"));
        assert_eq!(delivery_id("t", "e", "h").len(), 4 + 32);
    }

    #[test]
    fn body_is_the_documented_json() {
        let b = body(
            "dlv_1",
            None,
            "ticket.created",
            1764410400000,
            r#"{"id":"h","url":"http://x","events":["*"]}"#,
            r#"{"n":"<\"x\">"}"#,
        );
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["id"], "dlv_1");
        assert_eq!(v["event"], "ticket.created");
        assert_eq!(v["timestamp"], 1764410400000i64);
        assert_eq!(v["hook"]["url"], "http://x");
        assert_eq!(v["payload"]["n"], "<\"x\">");
        assert!(v.get("uuid").is_none());
    }

    #[test]
    fn a_tiledesk_body_is_the_notification_object() {
        let hook = crate::Hook {
            id: "hook_1".into(),
            tenant: "proj".into(),
            url: "https://x.example/h".into(),
            events: vec!["request.create".into()],
            format: crate::hook::Format::Tiledesk,
            created_at: "2026-01-02T03:04:05.678Z".into(),
            updated_at: "2026-01-02T03:04:06.000Z".into(),
            ..crate::Hook::default()
        };
        let parts = BodyParts {
            delivery_id: "dlv_1",
            event_type: "request.create",
            timestamp_ms: 1549035233858,
            hook_json: "{}",
            payload: r#"{"_id":"r1"}"#,
        };
        let v: serde_json::Value =
            serde_json::from_slice(&request_body(Some(&hook), &parts, None)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "hook": {"_id": "hook_1", "target": "https://x.example/h",
                         "event": "request.create", "id_project": "proj",
                         "createdAt": "2026-01-02T03:04:05.678Z",
                         "updatedAt": "2026-01-02T03:04:06.000Z"},
                "timestamp": 1549035233858i64,
                "payload": {"_id": "r1"}
            })
        );
    }

    #[test]
    fn a_happyfox_body_carries_its_uuid_at_the_top() {
        let b = body("dlv_1", Some("u-1"), "t", 1, "{}", "{}");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["uuid"], "u-1");
        assert_eq!(v["id"], "dlv_1");
    }
}
