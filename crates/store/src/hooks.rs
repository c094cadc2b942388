//! Hooks (subscriptions). Every change bumps the tenant's hooks version, which the
//! event claim returns, so workers reload a tenant's hooks only when they changed.

use hookpost_core::Hook;
use redis::AsyncCommands;

use crate::{corrupt, Result, Store};

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

    /// Stores a new hook unless its tenant already has `max` hooks.
    pub async fn create_hook(&self, hook: &Hook, max: usize) -> Result<HookWrite> {
        let json = serde_json::to_string(hook).expect("hook serialises");
        self.hook_write("create", &hook.tenant, &hook.id, &json, max)
            .await
    }

    /// Replaces an existing hook.
    pub async fn update_hook(&self, hook: &Hook) -> Result<HookWrite> {
        let json = serde_json::to_string(hook).expect("hook serialises");
        self.hook_write("update", &hook.tenant, &hook.id, &json, 0)
            .await
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
        if !hook.active {
            return Ok(false);
        }
        hook.active = false;
        hook.disabled_reason = Some(reason.to_owned());
        hook.disabled_at = Some(hookpost_core::rfc3339(hookpost_core::now_ms()));
        let _: () = self.conn().hdel(self.keys.hook_failing(tenant), id).await?;
        Ok(self.update_hook(&hook).await? == HookWrite::Ok)
    }

    pub async fn hook(&self, tenant: &str, id: &str) -> Result<Option<Hook>> {
        let raw: Option<String> = self.conn().hget(self.keys.hooks(tenant), id).await?;
        raw.map(|r| parse(&r)).transpose()
    }

    /// A tenant's hooks, oldest first.
    pub async fn hooks(&self, tenant: &str) -> Result<Vec<Hook>> {
        Ok(self.hooks_versioned(tenant).await?.1)
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
        let mut hooks = raw.iter().map(|r| parse(r)).collect::<Result<Vec<_>>>()?;
        hooks.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok((version.unwrap_or(0), hooks))
    }
}

fn parse(raw: &str) -> Result<Hook> {
    serde_json::from_str(raw).map_err(|e| corrupt("hook", e))
}
