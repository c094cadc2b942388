//! Tenants and their API keys, as Redis caches them for the hot path (PostgreSQL holds
//! the truth and writes through here). A key is shown once; only its SHA-256 is kept.

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{corrupt, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    #[serde(with = "hookpost_core::timestamp")]
    pub created_at: i64,
}

/// What is kept of a key: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub id: String,
    /// The key's first characters, to tell keys apart in a list.
    pub prefix: String,
    #[serde(with = "hookpost_core::timestamp")]
    pub created_at: i64,
    #[serde(skip_serializing)]
    #[serde(default)]
    pub hash: String,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    id: String,
    prefix: String,
    created_at: i64,
    hash: String,
}

/// A new API key and what is kept of it.
pub fn new_key() -> (KeyInfo, String) {
    let key = hookpost_core::ids::new_api_key();
    let info = KeyInfo {
        id: hookpost_core::ids::random_id("key"),
        prefix: key[..12].to_owned(),
        created_at: hookpost_core::now_ms(),
        hash: key_hash(&key),
    };
    (info, key)
}

/// Hex SHA-256 of an API key.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl Store {
    /// Creates a tenant; `false` when the id is taken.
    pub async fn create_tenant(&self, tenant: &Tenant) -> Result<bool> {
        let json = serde_json::to_string(tenant).expect("tenant serialises");
        let mut conn = self.conn();
        let created: Option<String> = redis::cmd("SET")
            .arg(self.keys.tenant(&tenant.id))
            .arg(json)
            .arg("NX")
            .query_async(&mut conn)
            .await?;
        if created.is_some() {
            let _: () = conn.sadd(self.keys.tenants(), &tenant.id).await?;
        }
        Ok(created.is_some())
    }

    /// Caches a tenant (whether or not it was there). Two commands: the tenant's slot
    /// and the list's differ on a Redis Cluster.
    pub async fn put_tenant(&self, tenant: &Tenant) -> Result<()> {
        let json = serde_json::to_string(tenant).expect("tenant serialises");
        let mut conn = self.conn();
        let _: () = conn.set(self.keys.tenant(&tenant.id), json).await?;
        let _: () = conn.sadd(self.keys.tenants(), &tenant.id).await?;
        Ok(())
    }

    pub async fn tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let raw: Option<String> = self.conn().get(self.keys.tenant(id)).await?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| corrupt("tenant", e)))
            .transpose()
    }

    pub async fn tenants(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self.conn().smembers(self.keys.tenants()).await?;
        ids.sort();
        Ok(ids)
    }

    /// Issues a new key for a tenant; returns its info and the key (shown once).
    pub async fn create_key(&self, tenant: &str) -> Result<(KeyInfo, String)> {
        let (info, key) = new_key();
        self.put_key(tenant, &info).await?;
        Ok((info, key))
    }

    /// Caches a tenant's key.
    pub async fn put_key(&self, tenant: &str, info: &KeyInfo) -> Result<()> {
        let stored = StoredKey {
            id: info.id.clone(),
            prefix: info.prefix.clone(),
            created_at: info.created_at,
            hash: info.hash.clone(),
        };
        let mut conn = self.conn();
        // Lookup entry first: a key listed for its tenant always authenticates.
        let _: () = conn
            .set(
                self.keys.api_key(&stored.hash),
                format!("{tenant} {}", stored.id),
            )
            .await?;
        let _: () = conn
            .hset(
                self.keys.tenant_keys(tenant),
                &stored.id,
                serde_json::to_string(&stored).expect("key serialises"),
            )
            .await?;
        Ok(())
    }

    pub async fn keys_of(&self, tenant: &str) -> Result<Vec<KeyInfo>> {
        let raw: Vec<String> = self.conn().hvals(self.keys.tenant_keys(tenant)).await?;
        let mut keys = raw
            .iter()
            .map(|r| {
                serde_json::from_str::<StoredKey>(r)
                    .map(|s| KeyInfo {
                        id: s.id,
                        prefix: s.prefix,
                        created_at: s.created_at,
                        hash: s.hash,
                    })
                    .map_err(|e| corrupt("key", e))
            })
            .collect::<Result<Vec<_>>>()?;
        keys.sort_by_key(|k| k.created_at);
        Ok(keys)
    }

    /// Forgets a key whose hash is known (the cache may lack its entry in the list).
    pub async fn drop_key(&self, tenant: &str, key_id: &str, hash: &str) -> Result<()> {
        let mut conn = self.conn();
        let _: () = conn.del(self.keys.api_key(hash)).await?;
        self.forget_tracked(&self.keys.api_key(hash));
        let _: () = conn.hdel(self.keys.tenant_keys(tenant), key_id).await?;
        Ok(())
    }

    /// Revokes a key; `false` when the tenant has no such key.
    pub async fn revoke_key(&self, tenant: &str, key_id: &str) -> Result<bool> {
        let mut conn = self.conn();
        let raw: Option<String> = conn.hget(self.keys.tenant_keys(tenant), key_id).await?;
        let Some(raw) = raw else { return Ok(false) };
        let stored: StoredKey = serde_json::from_str(&raw).map_err(|e| corrupt("key", e))?;
        let _: () = conn.del(self.keys.api_key(&stored.hash)).await?;
        self.forget_tracked(&self.keys.api_key(&stored.hash));
        let _: () = conn.hdel(self.keys.tenant_keys(tenant), key_id).await?;
        Ok(true)
    }

    /// The tenant an API key belongs to, if the key is valid.
    pub async fn authenticate(&self, key: &str) -> Result<Option<String>> {
        self.tenant_of_key_hash(&key_hash(key)).await
    }
}
