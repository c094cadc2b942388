//! A hook: one URL subscribed to some of a tenant's event types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A subscription as stored. `events` holds event types, or `"*"` for every type.
/// `Debug` shows no secret and no header value.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    pub id: String,
    pub tenant: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Smart-rule filter over the event's payload (see `filter`), as the client gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<serde_json::Value>,
    /// Static headers sent with every delivery; values are secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The secret before the last rotation, still signing until `previous_secret_expires_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<i64>,
    /// Why hookpost deactivated the hook by itself (`gone`: the receiver answered 410;
    /// `failing`: every attempt failed for `HOOKPOST_DISABLE_AFTER`), and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    /// The body its deliveries carry.
    #[serde(default)]
    pub format: Format,
    /// Send the attempt's W3C `traceparent` to the receiver, so that its spans join the
    /// event's trace.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub send_traceparent: bool,
    /// Delivery controls, their fields beside the others in the JSON.
    #[serde(flatten)]
    pub controls: crate::controls::Controls,
    pub created_at: String,
    pub updated_at: String,
}

/// The body a hook's deliveries carry. Every format is signed the same way, over the
/// bytes sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `id`, `event`, `timestamp`, `hook` and `payload`; the same bytes on every attempt.
    #[default]
    Hookpost,
    /// The same plus a top-level `uuid`, new for every request (retries and resends
    /// included), as HappyFox sends: a receiver may keep it to handle each request once.
    Happyfox,
    /// Tiledesk's notification object, `{"hook", "timestamp", "payload"}`, with the
    /// hook's secret in `x-hook-secret` as Tiledesk receivers expect.
    Tiledesk,
}

impl Format {
    /// The `uuid` one request of this format carries, if the format has one.
    pub fn request_uuid(self) -> Option<String> {
        match self {
            Format::Happyfox => Some(crate::ids::uuid_v4()),
            Format::Hookpost | Format::Tiledesk => None,
        }
    }
}

/// How a redacted value shows in `Debug`.
pub const REDACTED: &str = "<redacted>";

/// Header names with their values redacted, for `Debug`.
pub fn redacted_headers(headers: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    headers.keys().map(|k| (k.as_str(), REDACTED)).collect()
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("active", &self.active)
            .field("secret", &REDACTED)
            .field("description", &self.description)
            .field("filter", &self.filter)
            .field("headers", &redacted_headers(&self.headers))
            .field(
                "previous_secret",
                &self.previous_secret.as_ref().map(|_| REDACTED),
            )
            .field(
                "previous_secret_expires_at",
                &self.previous_secret_expires_at,
            )
            .field("disabled_reason", &self.disabled_reason)
            .field("disabled_at", &self.disabled_at)
            .field("format", &self.format)
            .field("send_traceparent", &self.send_traceparent)
            .field("controls", &self.controls)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl Hook {
    /// Deactivates the hook by hookpost's own decision, recording why and when; `false`
    /// when it was inactive already.
    pub fn disable(&mut self, reason: &str) -> bool {
        if !self.active {
            return false;
        }
        self.active = false;
        self.disabled_reason = Some(reason.to_owned());
        self.disabled_at = Some(crate::rfc3339(crate::now_ms()));
        true
    }

    /// The associated data a sealed field of this hook is bound to (see [`crate::sealed`]).
    fn aad(&self, field: &str) -> String {
        format!("hookpost hook\0{}\0{}\0{field}", self.tenant, self.id)
    }

    /// This hook with its secrets and header values sealed under the current key, as
    /// stored.
    pub fn sealed(&self, keys: &crate::secret_key::SecretKeys) -> Hook {
        use crate::sealed::seal;
        let mut h = self.clone();
        h.secret = seal(keys, &self.aad("secret"), &self.secret);
        h.previous_secret = self
            .previous_secret
            .as_ref()
            .map(|p| seal(keys, &self.aad("previous_secret"), p));
        for (name, value) in h.headers.iter_mut() {
            *value = seal(keys, &self.aad(&format!("header:{name}")), value);
        }
        h
    }

    /// Opens what [`Hook::sealed`] sealed, in place; plaintext (legacy) values stay.
    pub fn open(&mut self, keys: &crate::secret_key::SecretKeys) -> Result<(), String> {
        use crate::sealed::open;
        let what = |field: &str, e: crate::sealed::OpenError| {
            format!(
                "hook `{}` of tenant `{}`, {field}: {e}",
                self.id, self.tenant
            )
        };
        let secret =
            open(keys, &self.aad("secret"), &self.secret).map_err(|e| what("secret", e))?;
        let previous = match &self.previous_secret {
            Some(p) => Some(
                open(keys, &self.aad("previous_secret"), p)
                    .map_err(|e| what("previous_secret", e))?,
            ),
            None => None,
        };
        let mut headers = BTreeMap::new();
        for (name, value) in &self.headers {
            let field = format!("header:{name}");
            let plain = open(keys, &self.aad(&field), value).map_err(|e| what(&field, e))?;
            headers.insert(name.clone(), plain);
        }
        self.secret = secret;
        self.previous_secret = previous;
        self.headers = headers;
        Ok(())
    }

    /// Whether every sealed field is sealed under the key `id` (nothing left in
    /// plaintext or under an older key).
    pub fn sealed_under(&self, id: &str) -> bool {
        let under = |v: &str| crate::sealed::key_id(v) == Some(id);
        under(&self.secret)
            && self.previous_secret.as_deref().is_none_or(under)
            && self.headers.values().all(|v| under(v))
    }

    /// Whether an event of this type goes to this hook now.
    pub fn wants(&self, kind: &str) -> bool {
        self.active && self.events.iter().any(|e| e == "*" || e == kind)
    }

    /// The previous secret while it still signs at `now_ms`.
    pub fn previous_secret_at(&self, now_ms: i64) -> Option<&str> {
        match (&self.previous_secret, self.previous_secret_expires_at) {
            (Some(s), Some(until)) if until > now_ms => Some(s),
            _ => None,
        }
    }

    /// The `x-hook-secret` header's value: the secret itself, in the Tiledesk format only.
    pub fn secret_header(&self) -> Option<&str> {
        (self.format == Format::Tiledesk).then_some(self.secret.as_str())
    }

    /// The `hook` object of a Tiledesk body: the subscription as it is now, its `event`
    /// the one delivered.
    pub fn tiledesk_json(&self, event_type: &str) -> String {
        #[derive(Serialize)]
        struct Subscription<'a> {
            _id: &'a str,
            target: &'a str,
            event: &'a str,
            id_project: &'a str,
            #[serde(rename = "createdAt")]
            created_at: &'a str,
            #[serde(rename = "updatedAt")]
            updated_at: &'a str,
        }
        serde_json::to_string(&Subscription {
            _id: &self.id,
            target: &self.url,
            event: event_type,
            id_project: &self.tenant,
            created_at: &self.created_at,
            updated_at: &self.updated_at,
        })
        .expect("a subscription always serialises")
    }

    /// The `hook` object of the delivery body (README, "What a receiver gets"), as JSON.
    pub fn snapshot_json(&self) -> String {
        #[derive(Serialize)]
        struct Snapshot<'a> {
            id: &'a str,
            url: &'a str,
            events: &'a [String],
        }
        serde_json::to_string(&Snapshot {
            id: &self.id,
            url: &self.url,
            events: &self.events,
        })
        .expect("a snapshot always serialises")
    }
}

/// Longest hook URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Checks a hook URL: absolute `http` or `https` with a host, at most 2 KiB.
pub fn check_url(raw: &str) -> Result<url::Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} bytes"));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("is not an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must use http or https".into());
    }
    // The URL as given is what is stored and shown: nothing the parser would quietly
    // drop or escape (white space, control characters).
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain white space or control characters".into());
    }
    match url.host() {
        None => return Err("must have a host".into()),
        // A name is letters, digits, hyphens (and, for hosts on private networks such as
        // a compose service, underscores) between dots, after IDNA, as it is sent.
        Some(url::Host::Domain(name)) => {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if name.is_empty() || !name.trim_end_matches('.').split('.').all(label_ok) {
                return Err(format!("has a host that is not a domain name: `{name}`"));
            }
        }
        Some(_) => {}
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials; use a custom header instead".into());
    }
    Ok(url)
}

/// Most custom headers a hook may carry, and the longest value.
pub const MAX_HEADERS: usize = 10;
pub const MAX_HEADER_VALUE: usize = 1024;

/// Checks custom headers: valid names that do not override hookpost's own headers or
/// hop-by-hop ones, printable values.
pub fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    const RESERVED: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-type",
        "user-agent",
    ];
    if headers.len() > MAX_HEADERS {
        return Err(format!("must hold at most {MAX_HEADERS} headers"));
    }
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let token = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(format!("`{name}` is not a header name"));
        }
        if RESERVED.contains(&lower.as_str())
            || lower.starts_with("x-hook-")
            || lower.starts_with("webhook-")
        {
            return Err(format!(
                "`{name}` is set by hookpost and cannot be overridden"
            ));
        }
        if value.len() > MAX_HEADER_VALUE
            || value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(format!(
                "the value of `{name}` must be at most {MAX_HEADER_VALUE} printable characters"
            ));
        }
    }
    Ok(())
}

/// Checks a hook's event list: non-empty; each entry `*` or an event type.
pub fn check_events(events: &[String]) -> Result<(), String> {
    if events.is_empty() {
        return Err("must name at least one event type, or \"*\"".into());
    }
    if events.len() > 100 {
        return Err("must name at most 100 event types".into());
    }
    for e in events {
        let ok = e == "*"
            || (!e.is_empty()
                && e.len() <= crate::event::MAX_NAME_LEN
                && e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')));
        if !ok {
            return Err(format!("`{e}` is not an event type"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(events: &[&str], active: bool) -> Hook {
        Hook {
            id: "h".into(),
            tenant: "t".into(),
            url: "http://x".into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            active,
            secret: "s".into(),
            description: None,
            filter: None,
            headers: BTreeMap::new(),
            previous_secret: None,
            ..Hook::default()
        }
    }

    #[test]
    fn wants_its_types_or_everything_when_active() {
        assert!(hook(&["a.b"], true).wants("a.b"));
        assert!(!hook(&["a.b"], true).wants("a.c"));
        assert!(hook(&["*"], true).wants("anything"));
        assert!(!hook(&["*"], false).wants("anything"));
    }

    #[test]
    fn urls_must_be_absolute_http_with_a_host() {
        assert!(check_url("https://example.com/hook").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://[::1]:8080/x").is_ok());
        assert!(check_url("https://bücher.example/x?a=1").is_ok());
        for bad in [
            "example.com",
            "ftp://example.com",
            "http://",
            "http://u:p@example.com",
            "/x",
            "http://0,https://x",
            "http://example.com/a b",
            " http://example.com/",
            "http://example.com/\u{1e}",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("http://e.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn custom_headers_are_checked() {
        let h = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(check_headers(&h("Authorization", "Bearer x")).is_ok());
        for (k, v) in [
            ("X-Hook-Id", "x"),
            ("webhook-signature", "x"),
            ("Connection", "x"),
            ("bad name", "x"),
            ("A", "line\nbreak"),
        ] {
            assert!(check_headers(&h(k, v)).is_err(), "{k}");
        }
        let many: BTreeMap<String, String> =
            (0..11).map(|i| (format!("h{i}"), "v".into())).collect();
        assert!(check_headers(&many).is_err());
    }

    #[test]
    fn the_previous_secret_signs_until_it_expires() {
        let mut h = hook(&["*"], true);
        h.previous_secret = Some("old".into());
        h.previous_secret_expires_at = Some(1000);
        assert_eq!(h.previous_secret_at(999), Some("old"));
        assert_eq!(h.previous_secret_at(1000), None);
    }

    #[test]
    fn debug_shows_no_secret_and_no_header_value() {
        let mut h = hook(&["*"], true);
        h.secret = "whsec_current_one".into();
        h.previous_secret = Some("whsec_the_old_one".into());
        h.headers = BTreeMap::from([("Authorization".into(), "Bearer tok-123".into())]);
        let shown = format!("{h:?}");
        for secret in ["whsec_current_one", "whsec_the_old_one", "tok-123"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("Authorization") && shown.contains("http://x"));
    }

    #[test]
    fn a_sealed_hook_opens_to_the_same_hook_and_only_in_its_place() {
        let keys =
            crate::secret_key::SecretKeys::parse(&crate::secret_key::SecretKeys::generate("k1"))
                .unwrap();
        let mut h = hook(&["*"], true);
        h.secret = "whsec_current_one".into();
        h.previous_secret = Some("whsec_the_old_one".into());
        h.headers = BTreeMap::from([("Authorization".into(), "Bearer tok-123".into())]);
        let sealed = h.sealed(&keys);
        let json = serde_json::to_string(&sealed).unwrap();
        for secret in ["whsec_current_one", "whsec_the_old_one", "tok-123"] {
            assert!(!json.contains(secret), "{json}");
        }
        assert!(sealed.sealed_under("k1") && !h.sealed_under("k1"));
        let mut opened = sealed.clone();
        opened.open(&keys).unwrap();
        assert_eq!(opened, h);
        // Copied onto another hook, the same sealed secret does not open.
        let mut moved = sealed.clone();
        moved.id = "other".into();
        assert!(moved.open(&keys).unwrap_err().contains("secret"));
        // Legacy plaintext opens as is.
        let mut legacy = h.clone();
        legacy.open(&keys).unwrap();
        assert_eq!(legacy, h);
    }

    #[test]
    fn event_lists_are_checked() {
        assert!(check_events(&["*".into()]).is_ok());
        assert!(check_events(&["ticket.created".into()]).is_ok());
        assert!(check_events(&[]).is_err());
        assert!(check_events(&["a b".into()]).is_err());
    }
}
