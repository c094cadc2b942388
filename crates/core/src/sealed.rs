//! Secrets at rest: AES-256-GCM under a `HOOKPOST_SECRET_KEY` key, named by its id.
//!
//! A sealed value reads `enc:v1:<key id>:<base64(nonce || ciphertext+tag)>`, with a
//! random 12-byte nonce. The associated data (`aad`: tenant, hook id and field) binds the
//! ciphertext to what it protects, so a sealed value copied to another hook or field
//! does not open. A value without the prefix is legacy plaintext and passes through, so a
//! store written before encryption keeps working until it is re-sealed.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;

use crate::secret_key::SecretKeys;

/// What every sealed value starts with.
pub const PREFIX: &str = "enc:v1:";

const NONCE_LEN: usize = 12;

/// Why a stored value does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed under key `{0}`, which HOOKPOST_SECRET_KEY does not hold")]
    UnknownKey(String),
    #[error("the sealed value is malformed")]
    Malformed,
    /// Wrong key, tampered ciphertext, or copied from elsewhere (associated data).
    #[error("the sealed value does not authenticate (tampered, or moved from elsewhere)")]
    Forged,
}

/// `plaintext` sealed under the current key, bound to `aad`.
pub fn seal(keys: &SecretKeys, aad: &str, plaintext: &str) -> String {
    let (id, key) = keys.current();
    let nonce: [u8; NONCE_LEN] = rand::random();
    let sealed = Aes256Gcm::new(key.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .expect("AES-GCM encrypts any message this short");
    let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
    bytes.extend_from_slice(&nonce);
    bytes.extend_from_slice(&sealed);
    format!(
        "{PREFIX}{id}:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
    )
}

/// The plaintext of a stored value: a sealed one opened under its key, a legacy one as is.
pub fn open(keys: &SecretKeys, aad: &str, stored: &str) -> Result<String, OpenError> {
    let Some(rest) = stored.strip_prefix(PREFIX) else {
        return Ok(stored.to_owned());
    };
    let (id, b64) = rest.split_once(':').ok_or(OpenError::Malformed)?;
    let key = keys
        .get(id)
        .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(b64)
        .map_err(|_| OpenError::Malformed)?;
    if bytes.len() < NONCE_LEN {
        return Err(OpenError::Malformed);
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let plain = Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| OpenError::Forged)?;
    String::from_utf8(plain).map_err(|_| OpenError::Malformed)
}

/// The key id a stored value is sealed under; `None` for plaintext.
pub fn key_id(stored: &str) -> Option<&str> {
    stored
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &[&str]) -> SecretKeys {
        SecretKeys::parse(&text.join(",")).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_to_what_was_sealed_and_shows_none_of_it() {
        let k = keys(&[&SecretKeys::generate("a")]);
        let sealed = seal(&k, "t/h/secret", "whsec_plain");
        assert!(sealed.starts_with("enc:v1:a:") && !sealed.contains("whsec_plain"));
        assert_eq!(open(&k, "t/h/secret", &sealed).unwrap(), "whsec_plain");
        assert_eq!(key_id(&sealed), Some("a"));
        // A fresh nonce each time: the same secret never seals to the same text.
        assert_ne!(sealed, seal(&k, "t/h/secret", "whsec_plain"));
    }

    #[test]
    fn a_value_sealed_under_an_older_key_still_opens_but_not_once_the_key_is_gone() {
        let old = SecretKeys::generate("old");
        let new = SecretKeys::generate("new");
        let sealed = seal(&keys(&[&old]), "aad", "s");
        assert_eq!(open(&keys(&[&new, &old]), "aad", &sealed).unwrap(), "s");
        assert_eq!(
            open(&keys(&[&new]), "aad", &sealed),
            Err(OpenError::UnknownKey("old".into()))
        );
    }

    #[test]
    fn the_same_id_with_another_key_does_not_open() {
        let sealed = seal(&keys(&[&SecretKeys::generate("a")]), "aad", "s");
        let other = keys(&[&SecretKeys::generate("a")]);
        assert_eq!(open(&other, "aad", &sealed), Err(OpenError::Forged));
    }

    #[test]
    fn a_tampered_value_does_not_open() {
        let k = keys(&[&SecretKeys::generate("a")]);
        let sealed = seal(&k, "aad", "secret value");
        let (head, b64) = sealed.rsplit_once(':').unwrap();
        let mut bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!(
            "{head}:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes)
        );
        assert_eq!(open(&k, "aad", &tampered), Err(OpenError::Forged));
        for broken in ["enc:v1:a", "enc:v1:a:!!!", "enc:v1:a:AAAA"] {
            assert_eq!(
                open(&k, "aad", broken),
                Err(OpenError::Malformed),
                "{broken}"
            );
        }
    }

    #[test]
    fn a_value_moved_to_another_hook_or_field_does_not_open() {
        let k = keys(&[&SecretKeys::generate("a")]);
        let sealed = seal(&k, "t1/hook_1/secret", "s");
        assert_eq!(
            open(&k, "t1/hook_2/secret", &sealed),
            Err(OpenError::Forged)
        );
        assert_eq!(
            open(&k, "t1/hook_1/previous_secret", &sealed),
            Err(OpenError::Forged)
        );
    }

    #[test]
    fn legacy_plaintext_passes_through() {
        let k = keys(&[&SecretKeys::generate("a")]);
        assert_eq!(open(&k, "aad", "whsec_legacy").unwrap(), "whsec_legacy");
        assert_eq!(key_id("whsec_legacy"), None);
    }
}
