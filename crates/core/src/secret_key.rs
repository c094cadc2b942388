//! `HOOKPOST_SECRET_KEY`: the server's own keys. Each has an id, so that what was
//! encrypted under one key names it and can still be read after a newer key is added.
//!
//! The variable holds one or more `<id>:<base64 of 32 bytes>`, comma-separated. The
//! first is the current key: new data is encrypted under it, and keys derived for other
//! purposes ([`SecretKeys::derive`]) come from it. The others only decrypt.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Key ids: 1 to 16 of `a-z A-Z 0-9 _ -`, so that they fit in a stored prefix.
const MAX_ID: usize = 16;

#[derive(Clone, PartialEq, Eq)]
pub struct SecretKeys {
    /// The first is the current key.
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SecretKeys")
            .field("ids", &ids)
            .finish_non_exhaustive()
    }
}

impl SecretKeys {
    /// Parses `<id>:<base64>[,<id>:<base64>…]`.
    pub fn parse(text: &str) -> Result<SecretKeys, String> {
        let mut keys: Vec<(String, [u8; 32])> = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) = part
                .split_once(':')
                .ok_or("each key is `<id>:<base64 of 32 bytes>`")?;
            if id.is_empty()
                || id.len() > MAX_ID
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            {
                return Err(format!(
                    "key id `{id}`: 1 to {MAX_ID} of a-z, A-Z, 0-9, `_`, `-`"
                ));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| format!("key `{id}`: not base64"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("key `{id}`: must be 32 bytes (44 base64 characters)"))?;
            if keys.iter().any(|(k, _)| k == id) {
                return Err(format!("key id `{id}` given twice"));
            }
            keys.push((id.to_owned(), key));
        }
        if keys.is_empty() {
            return Err("no key given".into());
        }
        Ok(SecretKeys { keys })
    }

    /// A fresh key with id `id`, in the variable's format (for dev mode and docs).
    pub fn generate(id: &str) -> String {
        let key: [u8; 32] = rand::random();
        format!(
            "{id}:{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        )
    }

    /// The current key and its id.
    pub fn current(&self) -> (&str, &[u8; 32]) {
        let (id, key) = &self.keys[0];
        (id, key)
    }

    /// The key with this id, current or older.
    pub fn get(&self, id: &str) -> Option<&[u8; 32]> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }

    /// The ids, the current first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    /// A key for one purpose (`"admin-token"`, say), derived from the current key, so
    /// that one setting serves every use and no two uses share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.current().1).expect("any key length");
        mac.update(b"hookpost derived key: ");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The variable's text for these keys (a child process is given it).
    pub fn to_env(&self) -> String {
        self.keys
            .iter()
            .map(|(id, key)| {
                format!(
                    "{id}:{}",
                    base64::engine::general_purpose::STANDARD.encode(key)
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_key_is_current_and_every_key_is_found_by_id() {
        let text = format!(
            "{},{}",
            SecretKeys::generate("k2"),
            SecretKeys::generate("k1")
        );
        let keys = SecretKeys::parse(&text).unwrap();
        assert_eq!(keys.current().0, "k2");
        assert!(keys.get("k1").is_some() && keys.get("k3").is_none());
        assert_eq!(keys.ids().collect::<Vec<_>>(), ["k2", "k1"]);
        assert_eq!(SecretKeys::parse(&keys.to_env()).unwrap(), keys);
    }

    #[test]
    fn refuses_what_is_not_a_key() {
        for bad in [
            "",
            "nokeyid",
            "a:notbase64!",
            "a:c2hvcnQ=",
            "bad id:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(SecretKeys::parse(bad).is_err(), "{bad}");
        }
        let one = SecretKeys::generate("a");
        assert!(SecretKeys::parse(&format!("{one},{one}")).is_err());
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_debug_shows_no_key() {
        let text = SecretKeys::generate("k1");
        let keys = SecretKeys::parse(&text).unwrap();
        assert_ne!(keys.derive("a"), keys.derive("b"));
        let shown = format!("{keys:?}");
        assert!(shown.contains("k1") && !shown.contains(text.split_once(':').unwrap().1));
    }
}
