//! Who is calling: a tenant's API key or the operators' admin token, both as
//! `Authorization: Bearer …`.

use hmac::{Hmac, Mac};
use hookpost_core::Config;
use http::HeaderMap;
use sha2::Sha256;

use crate::AppState;
use crate::ServiceError;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The tenant a request acts for: its API key's, or, with the admin token, the one named
/// in `X-Hookpost-Tenant` (operators' tools act for a tenant this way).
pub async fn tenant(state: &AppState, headers: &HeaderMap) -> Result<String, ServiceError> {
    let key = bearer(headers).ok_or(ServiceError::Unauthorized)?;
    if let Some(tenant) = headers.get(ACT_FOR).and_then(|v| v.to_str().ok()) {
        admin(state, headers)?;
        return match state.store.tenant(tenant).await? {
            Some(t) => Ok(t.id),
            None => Err(ServiceError::NotFound("tenant")),
        };
    }
    state
        .store
        .authenticate(key)
        .await?
        .ok_or(ServiceError::Unauthorized)
}

/// The header with which the admin token acts for a tenant.
pub const ACT_FOR: &str = "x-hookpost-tenant";

/// Passes when the request carries the admin token.
pub fn admin(state: &AppState, headers: &HeaderMap) -> Result<(), ServiceError> {
    let given = bearer(headers).ok_or(ServiceError::Unauthorized)?;
    if state.admin.matches(given) {
        Ok(())
    } else {
        Err(ServiceError::Unauthorized)
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The admin token, held as HMAC-SHA256 under a server key. A given token is compared
/// by its HMAC: both sides have the same fixed length, so neither the length nor the
/// first differing byte of the real token shows in the time taken; and what operator
/// sessions store is this HMAC, which without the server key cannot be tested against
/// guesses (an unsalted SHA-256 could, offline).
pub struct AdminToken {
    /// `HOOKPOST_SECRET_KEY` → `derive("admin-token")`; a random key of this process
    /// when no secret key is configured (sessions then last as long as the process).
    key: [u8; 32],
    mac: Option<[u8; 32]>,
}

impl AdminToken {
    pub fn new(config: &Config) -> AdminToken {
        let key = match &config.secret_keys {
            Some(keys) => keys.derive("admin-token"),
            None => rand::random(),
        };
        let mac = config.admin_token.as_deref().map(|t| {
            let mut m = HmacSha256::new_from_slice(&key).expect("any key length");
            m.update(t.as_bytes());
            m.finalize().into_bytes().into()
        });
        AdminToken { key, mac }
    }

    /// Whether `given` is the admin token (never, when none is configured).
    pub fn matches(&self, given: &str) -> bool {
        let Some(expected) = &self.mac else {
            return false;
        };
        let mut m = HmacSha256::new_from_slice(&self.key).expect("any key length");
        m.update(given.as_bytes());
        // `verify_slice` compares in constant time.
        m.verify_slice(expected).is_ok()
    }

    /// What an operator's console session stores to prove which token opened it (hex of
    /// the HMAC); `None` when no admin token is configured.
    pub fn session_credential(&self) -> Option<String> {
        self.mac.map(hex::encode)
    }
}

/// Compares without an early exit on content, so the time taken does not tell how much
/// matched (lengths are compared first: use it for values of public, fixed length, such
/// as random tokens and hex digests).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(token: Option<&str>, key: &str) -> Config {
        Config {
            admin_token: token.map(str::to_owned),
            secret_keys: Some(hookpost_core::secret_key::SecretKeys::parse(key).unwrap()),
            ..Config::default()
        }
    }

    #[test]
    fn the_admin_token_matches_only_itself_and_sessions_hold_a_keyed_mac() {
        let token = "hUj3Xq0lD9v2mZ8kQ1wP4rT6yB7nC5sA0eF3gH2iJ4k=";
        let key = hookpost_core::secret_key::SecretKeys::generate("k1");
        let admin = AdminToken::new(&config(Some(token), &key));
        assert!(admin.matches(token));
        for wrong in ["", "h", &token[..token.len() - 1], &format!("{token}x")] {
            assert!(!admin.matches(wrong), "{wrong}");
        }
        let stored = admin.session_credential().unwrap();
        assert_eq!(stored.len(), 64);
        assert_ne!(stored, hookpost_store::tenants::key_hash(token));
        // Another server key gives another credential: it depends on the key.
        let other = hookpost_core::secret_key::SecretKeys::generate("k1");
        assert_ne!(
            AdminToken::new(&config(Some(token), &other)).session_credential(),
            Some(stored)
        );
        let none = AdminToken::new(&config(None, &key));
        assert!(!none.matches(token) && !none.matches(""));
        assert_eq!(none.session_credential(), None);
    }
}
