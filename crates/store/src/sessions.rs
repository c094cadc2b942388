//! The web console's sessions: who signed in, the CSRF token of their forms, and which
//! tenant an operator is looking at. Redis keeps each under the SHA-256 of its id, so a
//! copy of Redis holds no cookie that works, and lets it expire when idle.

use std::time::Duration;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::tenants::key_hash;
use crate::tracked::{self, Cached};
use crate::{corrupt, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The tenant whose API key signed in; `None` for an operator (the admin token).
    pub tenant: Option<String>,
    /// A digest of the credential used (a tenant key's SHA-256 lookup hash, or the admin
    /// token's HMAC under the server key): the session ends once it no longer authenticates.
    pub credential: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The tenant an operator looks at.
    #[serde(default)]
    pub acting_for: Option<String>,
    /// When it began (ms); a session ends at the latest a fixed time after.
    pub created_at: i64,
    /// Set for a session a portal link opened: it ends then, and may be read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<Portal>,
}

/// What a portal link grants: the console of one tenant until `expires_at` (ms),
/// perhaps only to look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Portal {
    pub tenant: String,
    pub read_only: bool,
    pub expires_at: i64,
}

impl Store {
    /// Stores a new session under `id` for `idle`.
    pub async fn create_session(&self, id: &str, s: &Session, idle: Duration) -> Result<()> {
        let json = serde_json::to_string(s).expect("a session serialises");
        let _: () = self
            .conn()
            .set_ex(
                self.keys.session(&key_hash(id)),
                json,
                idle.as_secs().max(1),
            )
            .await?;
        Ok(())
    }

    /// The session `id`, its idle expiry pushed back by `idle`; `None` once expired.
    pub async fn session(&self, id: &str, idle: Duration) -> Result<Option<Session>> {
        let raw: Option<String> = redis::cmd("GETEX")
            .arg(self.keys.session(&key_hash(id)))
            .arg("EX")
            .arg(idle.as_secs().max(1))
            .query_async(&mut self.conn())
            .await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("session", e)))
            .transpose()
    }

    /// Replaces a session that still exists (`false` when it expired meanwhile).
    pub async fn update_session(&self, id: &str, s: &Session, idle: Duration) -> Result<bool> {
        let json = serde_json::to_string(s).expect("a session serialises");
        let done: Option<String> = redis::cmd("SET")
            .arg(self.keys.session(&key_hash(id)))
            .arg(json)
            .arg("XX")
            .arg("EX")
            .arg(idle.as_secs().max(1))
            .query_async(&mut self.conn())
            .await?;
        Ok(done.is_some())
    }

    /// Stores an unused portal link under the hash of `token` until it expires.
    pub async fn create_portal_link(&self, token: &str, grant: &Portal) -> Result<()> {
        let ttl_ms = grant.expires_at - hookpost_core::now_ms();
        let json = serde_json::to_string(grant).expect("a grant serialises");
        let _: () = redis::cmd("SET")
            .arg(self.keys.portal_link(&key_hash(token)))
            .arg(json)
            .arg("PX")
            .arg(ttl_ms.max(1))
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// The grant of portal link `token`, which no one can use again; `None` when it was
    /// used already, expired or never existed.
    pub async fn take_portal_link(&self, token: &str) -> Result<Option<Portal>> {
        let raw: Option<String> = redis::cmd("GETDEL")
            .arg(self.keys.portal_link(&key_hash(token)))
            .query_async(&mut self.conn())
            .await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("portal link", e)))
            .transpose()
    }

    pub async fn delete_session(&self, id: &str) -> Result<()> {
        let _: () = self.conn().del(self.keys.session(&key_hash(id))).await?;
        Ok(())
    }

    /// The tenant of the API key whose SHA-256 is `hash`, while the key is valid.
    ///
    /// A key found is cached on the tracked connection ([`crate::tracked`]), which
    /// Redis tells when the key is revoked or its data goes; one not found is read
    /// again each time.
    pub async fn tenant_of_key_hash(&self, hash: &str) -> Result<Option<String>> {
        let key = self.keys.api_key(hash);
        let tenant_of = |entry: Option<String>| {
            entry.and_then(|e| e.split_once(' ').map(|(t, _)| t.to_owned()))
        };
        let Some((tracked, lookup)) = self.tracked_lookup(&key).await else {
            return Ok(tenant_of(self.conn().get(&key).await?));
        };
        if let Some(Cached::Tenant(tenant)) = lookup.cached {
            return Ok(Some(tenant));
        }
        let mut pipe = redis::pipe();
        tracked::track_next(&mut pipe);
        pipe.get(&key);
        let (entry,): (Option<String>,) = tracked.query(&lookup, &pipe).await?;
        let tenant = tenant_of(entry);
        if let Some(t) = &tenant {
            let value = Cached::Tenant(t.clone());
            tracked.keep(&lookup, &key, std::slice::from_ref(&key), value);
        }
        Ok(tenant)
    }
}
