//! Signatures a receiver checks (README, "What a receiver gets"):
//! `X-Hook-Signature: sha1=<hex HMAC-SHA1(key, body)>` and Standard Webhooks'
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

type HmacSha1 = Hmac<sha1::Sha1>;
type HmacSha256 = Hmac<sha2::Sha256>;

const SHA1: &str = "sha1=";
const SHA1_MAC: usize = 20;
const STANDARD_ENTRY: &str = "v1,";
const STANDARD_MAC: usize = 32;

/// The bytes a secret signs with: the base64-decoded part of a `whsec_` secret, or the
/// secret's UTF-8 bytes when it has no such prefix (or its base64 does not decode).
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    pub fn from_secret(secret: &str) -> Self {
        let decoded = secret
            .strip_prefix("whsec_")
            .and_then(|b64| STANDARD.decode(b64).ok());
        SigningKey(decoded.unwrap_or_else(|| secret.as_bytes().to_vec()))
    }

    /// `sha1=<lowercase hex>` over the raw body.
    pub fn sha1_header(&self, body: &[u8]) -> String {
        let mut mac = HmacSha1::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(body);
        format!("{SHA1}{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// One Standard Webhooks entry, `v1,<base64>`, over `{id}.{timestamp}.{body}`.
    pub fn standard_entry(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        standard_entry_of(&mac.finalize().into_bytes())
    }
}

fn standard_entry_of(mac: &[u8]) -> String {
    format!("{STANDARD_ENTRY}{}", STANDARD.encode(mac))
}

/// The MAC an `X-Hook-Signature` header carries; `None` for another form.
pub fn sha1_mac(header: &str) -> Option<Vec<u8>> {
    header
        .strip_prefix(SHA1)
        .and_then(|h| hex::decode(h).ok())
        .filter(|mac| mac.len() == SHA1_MAC)
}

/// The `X-Hook-Signature` header of a MAC ([`sha1_mac`]'s inverse).
pub fn sha1_header_of(mac: &[u8]) -> Option<String> {
    (mac.len() == SHA1_MAC).then(|| format!("{SHA1}{}", hex::encode(mac)))
}

/// The MACs of a `webhook-signature` header, one after the other (a key's each);
/// `None` for another form.
pub fn standard_macs(header: &str) -> Option<Vec<u8>> {
    let mut macs = Vec::with_capacity(STANDARD_MAC);
    for entry in header.split(' ') {
        let mac = (entry.strip_prefix(STANDARD_ENTRY))
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|mac| mac.len() == STANDARD_MAC)?;
        macs.extend_from_slice(&mac);
    }
    Some(macs)
}

/// The `webhook-signature` header of MACs one after the other ([`standard_macs`]'
/// inverse).
pub fn standard_header_of(macs: &[u8]) -> Option<String> {
    if macs.is_empty() || !macs.len().is_multiple_of(STANDARD_MAC) {
        return None;
    }
    let entries: Vec<String> = macs.chunks(STANDARD_MAC).map(standard_entry_of).collect();
    Some(entries.join(" "))
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// The signature headers of one attempt. The delivery log keeps them as they went out,
/// by header name, so that nothing is signed again for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signatures {
    #[serde(rename = "X-Hook-Signature")]
    pub sha1: String,
    /// While a rotated-out key is still in its grace period.
    #[serde(
        rename = "X-Hook-Signature-Previous",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sha1_previous: Option<String>,
    /// Unix seconds, signed over by `webhook-signature`.
    #[serde(rename = "webhook-timestamp")]
    pub timestamp: i64,
    /// One entry per key, space-separated.
    #[serde(rename = "webhook-signature")]
    pub standard: String,
}

/// Signs one attempt with the current key and, during a rotation, the previous one.
/// `timestamp` is this attempt's unix seconds (`webhook-timestamp`).
pub fn sign(
    current: &SigningKey,
    previous: Option<&SigningKey>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Signatures {
    let mut standard = current.standard_entry(id, timestamp, body);
    if let Some(prev) = previous {
        standard.push(' ');
        standard.push_str(&prev.standard_entry(id, timestamp, body));
    }
    Signatures {
        sha1: current.sha1_header(body),
        sha1_previous: previous.map(|p| p.sha1_header(body)),
        timestamp,
        standard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from the Standard Webhooks specification's reference libraries.
    #[test]
    fn standard_webhooks_reference_vector() {
        let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let sig = key.standard_entry(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn sha1_matches_rfc2202_vector() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?"
        let key = SigningKey::from_secret("Jefe");
        assert_eq!(
            key.sha1_header(b"what do ya want for nothing?"),
            "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn rotation_lists_both_keys() {
        let new = SigningKey::from_secret("new");
        let old = SigningKey::from_secret("old");
        let s = sign(&new, Some(&old), "id", 1, b"{}");
        let entries: Vec<&str> = s.standard.split(' ').collect();
        assert_eq!(
            entries,
            [
                new.standard_entry("id", 1, b"{}"),
                old.standard_entry("id", 1, b"{}")
            ]
        );
        assert_eq!(s.sha1_previous, Some(old.sha1_header(b"{}")));
        assert_eq!(sign(&new, None, "id", 1, b"{}").sha1_previous, None);
    }

    #[test]
    fn a_secret_without_prefix_is_raw_bytes() {
        let a = SigningKey::from_secret("plain");
        let b = SigningKey::from_secret("whsec_cGxhaW4="); // base64("plain")
        assert_eq!(a.sha1_header(b"x"), b.sha1_header(b"x"));
    }
}
