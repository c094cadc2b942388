//! Hooks (subscriptions). Every change bumps the tenant's hooks version, which the
//! event claim returns, so workers reload a tenant's hooks only when they changed.
//!
//! Secrets, previous secrets and custom header values are sealed here on every write and
//! opened on every read (`hookpost_core::sealed`), so no caller sees sealed text and the
//! store holds none in plaintext.

use hookpost_core::sealed;
use hookpost_core::secret_key::SecretKeys;
use hookpost_core::Hook;
use redis::AsyncCommands;

use crate::{corrupt, Result, Store, StoreError};

/// What a hook write ended as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookWrite {
    Ok,
    /// Create: the id is taken.
    Exists,
    /// Update or delete: no such hook.
    Missing,
    /// Create: the tenant has its maximum number of hooks.
    Limit,
}

impl Store {
    async fn hook_write(
        &self,
        op: &str,
        tenant: &str,
        id: &str,
        json: &str,
        max: usize,
    ) -> Result<HookWrite> {
        let answer: String = self
            .scripts
            .hook_write
            .key(self.keys.hooks(tenant))
            .key(self.keys.hooks_version(tenant))
            .arg(op)
            .arg(id)
            .arg(json)
            .arg(max)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match answer.as_str() {
            "ok" => HookWrite::Ok,
            "exists" => HookWrite::Exists,
            "missing" => HookWrite::Missing,
            "limit" => HookWrite::Limit,
            other => return Err(corrupt("hook write answer", other)),
        })
    }

    pub fn secret_keys(&self) -> Result<&SecretKeys> {
        self.secret_keys
            .as_deref()
            .ok_or_else(|| StoreError::Secrets("HOOKPOST_SECRET_KEY is not set".into()))
    }

    /// The hook as stored: JSON with its secrets sealed under the current key.
    pub fn sealed_json(&self, hook: &Hook) -> Result<String> {
        let sealed = hook.sealed(self.secret_keys()?);
        Ok(serde_json::to_string(&sealed).expect("hook serialises"))
    }

    /// A stored hook, its secrets opened.
    pub fn parse(&self, raw: &str) -> Result<Hook> {
        let mut hook: Hook = serde_json::from_str(raw).map_err(|e| corrupt("hook", e))?;
        match self.secret_keys.as_deref() {
            Some(keys) => hook.open(keys).map_err(StoreError::Secrets)?,
            // Without keys only plaintext (legacy) values read.
            None if secrets_of(&hook).any(|v| v.starts_with(sealed::PREFIX)) => {
                return Err(StoreError::Secrets(format!(
                    "hook `{}` is sealed and HOOKPOST_SECRET_KEY is not set",
                    hook.id
                )))
            }
            None => {}
        }
        Ok(hook)
    }

    /// Stores a new hook unless its tenant already has `max` hooks.
    pub async fn create_hook(&self, hook: &Hook, max: usize) -> Result<HookWrite> {
        let json = self.sealed_json(hook)?;
        self.hook_write("create", &hook.tenant, &hook.id, &json, max)
            .await
    }

    /// Caches a hook as PostgreSQL stored it (`json`, sealed), and bumps the version.
    pub async fn put_hook(&self, tenant: &str, id: &str, json: &str) -> Result<()> {
        self.hook_write("put", tenant, id, json, 0).await?;
        Ok(())
    }

    /// Replaces an existing hook.
    pub async fn update_hook(&self, hook: &Hook) -> Result<HookWrite> {
        let json = self.sealed_json(hook)?;
        self.hook_write("update", &hook.tenant, &hook.id, &json, 0)
            .await
    }

    /// Re-seals every hook of `tenant` whose secrets are in plaintext or under an older
    /// key, under the current key. Each hook is replaced only if unchanged since it was
    /// read (compare and set), and read again when it changed, so a concurrent update is
    /// never lost; running it again finds nothing to do.
    pub async fn reseal_hooks(&self, tenant: &str) -> Result<Resealed> {
        let keys = self.secret_keys()?;
        let current = keys.current().0;
        let mut done = Resealed::default();
        let raw: std::collections::HashMap<String, String> =
            self.conn().hgetall(self.keys.hooks(tenant)).await?;
        for (id, mut json) in raw {
            loop {
                let stored: Hook = serde_json::from_str(&json).map_err(|e| corrupt("hook", e))?;
                if stored.sealed_under(current) {
                    done.current += 1;
                    break;
                }
                let mut hook = stored;
                if let Err(e) = hook.open(keys) {
                    tracing::error!(tenant, hook = %id, error = %e, "cannot re-seal a hook");
                    done.unreadable += 1;
                    break;
                }
                let sealed = self.sealed_json(&hook)?;
                let replaced: i64 = self
                    .scripts
                    .hook_reseal
                    .key(self.keys.hooks(tenant))
                    .arg(&id)
                    .arg(&json)
                    .arg(&sealed)
                    .invoke_async(&mut self.conn())
                    .await?;
                if replaced == 1 {
                    done.resealed += 1;
                    break;
                }
                // Changed meanwhile: read it again (gone: nothing to do).
                let again: Option<String> = self.conn().hget(self.keys.hooks(tenant), &id).await?;
                match again {
                    Some(j) => json = j,
                    None => break,
                }
            }
        }
        Ok(done)
    }

    pub async fn delete_hook(&self, tenant: &str, id: &str) -> Result<HookWrite> {
        self.hook_write("delete", tenant, id, "", 0).await
    }

    /// Deactivates a hook by hookpost's own decision, recording why; `false` when it was
    /// gone or already inactive.
    pub async fn disable_hook(&self, tenant: &str, id: &str, reason: &str) -> Result<bool> {
        let Some(mut hook) = self.hook(tenant, id).await? else {
            return Ok(false);
        };
        if !hook.disable(reason) {
            return Ok(false);
        }
        self.clear_failing(tenant, id).await?;
        Ok(self.update_hook(&hook).await? == HookWrite::Ok)
    }

    /// Forgets a hook's failing streak.
    pub async fn clear_failing(&self, tenant: &str, id: &str) -> Result<()> {
        let _: () = self.conn().hdel(self.keys.hook_failing(tenant), id).await?;
        Ok(())
    }

    pub async fn hook(&self, tenant: &str, id: &str) -> Result<Option<Hook>> {
        let raw: Option<String> = self.conn().hget(self.keys.hooks(tenant), id).await?;
        raw.map(|r| self.parse(&r)).transpose()
    }

    /// A tenant's hooks, oldest first.
    pub async fn hooks(&self, tenant: &str) -> Result<Vec<Hook>> {
        Ok(self.hooks_versioned(tenant).await?.1)
    }

    /// A tenant's hooks as stored (id, sealed JSON).
    pub async fn hooks_raw(&self, tenant: &str) -> Result<Vec<(String, String)>> {
        Ok(self.conn().hgetall(self.keys.hooks(tenant)).await?)
    }

    /// The tenant's current hooks version.
    pub async fn hooks_version(&self, tenant: &str) -> Result<u64> {
        let v: Option<u64> = self.conn().get(self.keys.hooks_version(tenant)).await?;
        Ok(v.unwrap_or(0))
    }

    /// A tenant's hooks with the version they were read at (one atomic read).
    pub async fn hooks_versioned(&self, tenant: &str) -> Result<(u64, Vec<Hook>)> {
        let (version, raw): (Option<u64>, Vec<String>) = redis::pipe()
            .atomic()
            .get(self.keys.hooks_version(tenant))
            .hvals(self.keys.hooks(tenant))
            .query_async(&mut self.conn())
            .await?;
        let mut hooks = raw
            .iter()
            .map(|r| self.parse(r))
            .collect::<Result<Vec<_>>>()?;
        hooks.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok((version.unwrap_or(0), hooks))
    }
}

/// What [`Store::reseal_hooks`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resealed {
    /// Sealed anew under the current key (they were plaintext or under an older key).
    pub resealed: u64,
    /// Already under the current key.
    pub current: u64,
    /// Sealed under a key no longer configured, or tampered with: left as they were.
    pub unreadable: u64,
}

impl std::ops::AddAssign for Resealed {
    fn add_assign(&mut self, o: Resealed) {
        self.resealed += o.resealed;
        self.current += o.current;
        self.unreadable += o.unreadable;
    }
}

/// The stored values that are secret: the secret, the previous one, header values.
fn secrets_of(hook: &Hook) -> impl Iterator<Item = &str> {
    std::iter::once(hook.secret.as_str())
        .chain(hook.previous_secret.as_deref())
        .chain(hook.headers.values().map(String::as_str))
}
