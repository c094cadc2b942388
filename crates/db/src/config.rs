//! Tenants, API keys and hooks. Their truth is here; every change is written here first
//! and then through to Redis, which the hot path reads (key lookups, the workers' hook
//! cache, versioned). A change whose Redis step failed answers an error, and making it
//! again repairs the cache; a Redis that lost them gets them back from [`Db::rebuild_config`].

use std::time::SystemTime;

use hookpost_core::Hook;
use hookpost_store::hooks::{HookWrite, Resealed};
use hookpost_store::intake::IntakeLimit;
use hookpost_store::tenants::{KeyInfo, Tenant};
use hookpost_store::Store;

use crate::time::{from_ms, to_ms};
use crate::{Db, Result};

/// What [`Db::rebuild_config`] put back into Redis.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub tenants: usize,
    pub keys: usize,
    pub hooks: usize,
    /// Deliveries put back in the retry set.
    pub retries: usize,
    /// Ordered hooks' deliveries put back on their keys.
    pub ordered: usize,
}

impl Db {
    /// Creates a tenant; `false` when the id is taken. Either way Redis then holds the
    /// stored tenant.
    pub async fn create_tenant(&self, store: &Store, tenant: &Tenant) -> Result<bool> {
        let created = self
            .client()
            .await?
            .execute(
                "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&tenant.id, &tenant.name, &from_ms(tenant.created_at)],
            )
            .await?
            == 1;
        let stored = match created {
            true => Some(tenant.clone()),
            false => self.tenant(&tenant.id).await?,
        };
        if let Some(t) = stored {
            store.put_tenant(&t).await?;
        }
        Ok(created)
    }

    async fn tenant(&self, id: &str) -> Result<Option<Tenant>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT id, name, created_at FROM tenants WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(row.map(|r| Tenant {
            id: r.get(0),
            name: r.get(1),
            created_at: to_ms(r.get(2)),
        }))
    }

    /// Every tenant's id, in order.
    pub async fn tenant_ids(&self) -> Result<Vec<String>> {
        let rows = self
            .client()
            .await?
            .query("SELECT id FROM tenants ORDER BY id", &[])
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Issues a new key for a tenant; its info and the key (shown once).
    pub async fn create_key(&self, store: &Store, tenant: &str) -> Result<(KeyInfo, String)> {
        let (info, key) = hookpost_store::tenants::new_key();
        self.client()
            .await?
            .execute(
                "INSERT INTO api_keys (tenant_id, id, prefix, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                &[&tenant, &info.id, &info.prefix, &info.hash, &from_ms(info.created_at)],
            )
            .await?;
        store.put_key(tenant, &info).await?;
        Ok((info, key))
    }

    /// Revokes a key; `false` when the tenant has no such key.
    pub async fn revoke_key(&self, store: &Store, tenant: &str, key_id: &str) -> Result<bool> {
        let gone = self
            .client()
            .await?
            .query_opt(
                "DELETE FROM api_keys WHERE tenant_id = $1 AND id = $2 RETURNING hash",
                &[&tenant, &key_id],
            )
            .await?;
        match gone {
            Some(row) => {
                store.drop_key(tenant, key_id, row.get(0)).await?;
                Ok(true)
            }
            // Gone here already: the cache forgets it too, if it still had it.
            None => Ok(store.revoke_key(tenant, key_id).await?),
        }
    }

    /// Sets (or with `None` clears) a tenant's own intake limit.
    pub async fn set_intake_limit(
        &self,
        store: &Store,
        tenant: &str,
        limit: Option<IntakeLimit>,
    ) -> Result<()> {
        let (per_second, burst) = match limit {
            Some(l) => (Some(l.per_second as i32), Some(l.burst as i32)),
            None => (None, None),
        };
        self.client()
            .await?
            .execute(
                "UPDATE tenants SET intake_per_second = $2, intake_burst = $3 WHERE id = $1",
                &[&tenant, &per_second, &burst],
            )
            .await?;
        store.set_intake_limit(tenant, limit).await?;
        Ok(())
    }

    /// Stores a new hook unless its tenant already has `max` hooks (creates of one
    /// tenant take turns on its row, so two cannot both take the last place).
    pub async fn create_hook(&self, store: &Store, hook: &Hook, max: usize) -> Result<HookWrite> {
        let json = store.sealed_json(hook)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE",
            &[&hook.tenant],
        )
        .await?;
        let count: i64 = tx
            .query_one(
                "SELECT count(*) FROM hooks WHERE tenant_id = $1",
                &[&hook.tenant],
            )
            .await?
            .get(0);
        if count as usize >= max {
            return Ok(HookWrite::Limit);
        }
        let inserted = tx
            .execute(
                "INSERT INTO hooks (tenant_id, id, hook) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&hook.tenant, &hook.id, &json],
            )
            .await?;
        tx.commit().await?;
        if inserted == 0 {
            return Ok(HookWrite::Exists);
        }
        store.put_hook(&hook.tenant, &hook.id, &json).await?;
        Ok(HookWrite::Ok)
    }

    /// Replaces an existing hook.
    pub async fn update_hook(&self, store: &Store, hook: &Hook) -> Result<HookWrite> {
        let json = store.sealed_json(hook)?;
        let updated = self
            .client()
            .await?
            .execute(
                "UPDATE hooks SET hook = $3 WHERE tenant_id = $1 AND id = $2",
                &[&hook.tenant, &hook.id, &json],
            )
            .await?;
        if updated == 0 {
            return Ok(HookWrite::Missing);
        }
        store.put_hook(&hook.tenant, &hook.id, &json).await?;
        Ok(HookWrite::Ok)
    }

    /// Deletes a hook.
    pub async fn delete_hook(&self, store: &Store, tenant: &str, id: &str) -> Result<HookWrite> {
        let deleted = self
            .client()
            .await?
            .execute(
                "DELETE FROM hooks WHERE tenant_id = $1 AND id = $2",
                &[&tenant, &id],
            )
            .await?;
        let cached = store.delete_hook(tenant, id).await?;
        Ok(match deleted {
            0 => cached,
            _ => HookWrite::Ok,
        })
    }

    /// A tenant's hook as stored here, its secrets opened.
    pub async fn hook(&self, store: &Store, tenant: &str, id: &str) -> Result<Option<Hook>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT hook FROM hooks WHERE tenant_id = $1 AND id = $2",
                &[&tenant, &id],
            )
            .await?;
        Ok(row.map(|r| store.parse(r.get(0))).transpose()?)
    }

    /// Deactivates a hook by hookpost's own decision, recording why; `false` when it was
    /// gone or already inactive.
    pub async fn disable_hook(
        &self,
        store: &Store,
        tenant: &str,
        id: &str,
        reason: &str,
    ) -> Result<bool> {
        let Some(mut hook) = self.hook(store, tenant, id).await? else {
            return Ok(false);
        };
        if !hook.disable(reason) {
            return Ok(false);
        }
        store.clear_failing(tenant, id).await?;
        Ok(self.update_hook(store, &hook).await? == HookWrite::Ok)
    }

    /// Re-seals every hook of `tenant` not under the current key. Each is replaced only
    /// if unchanged since it was read (compare and set), and read again otherwise, so a
    /// concurrent update is never lost; running it again finds nothing to do.
    pub async fn reseal_hooks(&self, store: &Store, tenant: &str) -> Result<Resealed> {
        let current = store.secret_keys()?.current().0.to_owned();
        let mut done = Resealed::default();
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, hook FROM hooks WHERE tenant_id = $1",
                &[&tenant],
            )
            .await?;
        for row in rows {
            let id: String = row.get(0);
            let mut json: String = row.get(1);
            loop {
                let stored: Hook = serde_json::from_str(&json)
                    .map_err(|e| crate::DbError::Corrupt(format!("hook {id}: {e}")))?;
                if stored.sealed_under(&current) {
                    done.current += 1;
                    break;
                }
                let hook = match store.parse(&json) {
                    Ok(hook) => hook,
                    Err(e) => {
                        tracing::error!(tenant, hook = %id, error = %e, "cannot re-seal a hook");
                        done.unreadable += 1;
                        break;
                    }
                };
                let sealed = store.sealed_json(&hook)?;
                let replaced = client
                    .execute(
                        "UPDATE hooks SET hook = $4 WHERE tenant_id = $1 AND id = $2 AND hook = $3",
                        &[&tenant, &id, &json, &sealed],
                    )
                    .await?;
                if replaced == 1 {
                    store.put_hook(tenant, &id, &sealed).await?;
                    done.resealed += 1;
                    break;
                }
                // Changed meanwhile: read it again (gone: nothing to do).
                match client
                    .query_opt(
                        "SELECT hook FROM hooks WHERE tenant_id = $1 AND id = $2",
                        &[&tenant, &id],
                    )
                    .await?
                {
                    Some(r) => json = r.get(0),
                    None => break,
                }
            }
        }
        Ok(done)
    }

    /// Puts every tenant, key, intake limit and hook back into Redis (after Redis came
    /// back empty), as stored here.
    pub async fn rebuild_config(&self, store: &Store) -> Result<Rebuilt> {
        let client = self.client().await?;
        let mut done = Rebuilt::default();
        for t in client.query(TENANTS, &[]).await? {
            let (tenant, limit) = tenant_row(&t);
            if limit.is_some() {
                store.set_intake_limit(&tenant.id, limit).await?;
            }
            for info in self.keys_of(&client, &tenant.id).await? {
                store.put_key(&tenant.id, &info).await?;
                done.keys += 1;
            }
            for (id, json) in self.hooks_of(&client, &tenant.id).await? {
                store.put_hook(&tenant.id, &id, &json).await?;
                done.hooks += 1;
            }
            // The tenant's record last: a worker that finds it finds everything of the
            // tenant back (see `claim_event`'s callers).
            store.put_tenant(&tenant).await?;
            done.tenants += 1;
        }
        Ok(done)
    }

    /// Makes each tenant's API keys and hooks in Redis what is stored here, for a Redis
    /// back without its last writes: a key revoked or a hook deleted in the moments it
    /// lost goes again, one made or changed comes back; what already matches is left
    /// alone (no hook cache reloads for nothing). Redis is read before this database:
    /// a change is written here first, so what Redis holds and this lacks was removed.
    /// How many keys and hooks it changed.
    pub async fn resync_config(&self, store: &Store) -> Result<Rebuilt> {
        let client = self.client().await?;
        let mut done = Rebuilt::default();
        for t in client.query(TENANTS, &[]).await? {
            let (whole, limit) = tenant_row(&t);
            let tenant = whole.id.clone();
            let (cached_keys, cached_hooks) = (
                store.keys_of(&tenant).await?,
                store.hooks_raw(&tenant).await?,
            );
            let keys = self.keys_of(&client, &tenant).await?;
            let hooks: std::collections::HashMap<String, String> =
                self.hooks_of(&client, &tenant).await?.into_iter().collect();
            for gone in cached_keys
                .iter()
                .filter(|c| !keys.iter().any(|k| k.id == c.id))
            {
                store.revoke_key(&tenant, &gone.id).await?;
                done.keys += 1;
            }
            for lost in keys
                .iter()
                .filter(|k| !cached_keys.iter().any(|c| c.id == k.id))
            {
                store.put_key(&tenant, lost).await?;
                done.keys += 1;
            }
            for (id, _) in cached_hooks
                .iter()
                .filter(|(id, _)| !hooks.contains_key(id))
            {
                store.delete_hook(&tenant, id).await?;
                done.hooks += 1;
            }
            for (id, json) in &hooks {
                if !cached_hooks.iter().any(|c| (&c.0, &c.1) == (id, json)) {
                    store.put_hook(&tenant, id, json).await?;
                    done.hooks += 1;
                }
            }
            // An intake limit set or taken back in the lost moments.
            let limit_lost = store.intake_limit(&tenant).await? != limit;
            if limit_lost {
                store.set_intake_limit(&tenant, limit).await?;
            }
            // Last, as in a rebuild: a tenant found is a tenant whole.
            let record_lost = store.tenant(&tenant).await?.is_none();
            if record_lost {
                store.put_tenant(&whole).await?;
            }
            done.tenants += usize::from(limit_lost || record_lost);
        }
        Ok(done)
    }

    /// A tenant's API keys as stored here.
    async fn keys_of(
        &self,
        client: &deadpool_postgres::Object,
        tenant: &str,
    ) -> Result<Vec<KeyInfo>> {
        let rows = client
            .query(
                "SELECT id, prefix, hash, created_at FROM api_keys WHERE tenant_id = $1",
                &[&tenant],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|k| KeyInfo {
                id: k.get(0),
                prefix: k.get(1),
                hash: k.get(2),
                created_at: to_ms(k.get::<_, SystemTime>(3)),
            })
            .collect())
    }

    /// A tenant's hooks as stored here: id and sealed JSON.
    pub(crate) async fn hooks_of(
        &self,
        client: &deadpool_postgres::Object,
        tenant: &str,
    ) -> Result<Vec<(String, String)>> {
        let rows = client
            .query(
                "SELECT id, hook FROM hooks WHERE tenant_id = $1",
                &[&tenant],
            )
            .await?;
        Ok(rows.iter().map(|h| (h.get(0), h.get(1))).collect())
    }

    /// Copies what Redis holds into an empty set of tables: a deployment from before
    /// PostgreSQL held tenants, keys and hooks. Nothing when the tables hold any tenant.
    pub async fn import_config(&self, store: &Store) -> Result<Rebuilt> {
        let client = self.client().await?;
        let any: bool = client
            .query_one("SELECT EXISTS (SELECT 1 FROM tenants)", &[])
            .await?
            .get(0);
        let mut done = Rebuilt::default();
        if any {
            return Ok(done);
        }
        for id in store.tenants().await? {
            let Some(t) = store.tenant(&id).await? else {
                continue;
            };
            let limit = store.intake_limit(&id).await?;
            client
                .execute(
                    "INSERT INTO tenants (id, name, created_at, intake_per_second, intake_burst)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    &[
                        &t.id,
                        &t.name,
                        &from_ms(t.created_at),
                        &limit.map(|l| l.per_second as i32),
                        &limit.map(|l| l.burst as i32),
                    ],
                )
                .await?;
            for k in store.keys_of(&id).await? {
                client
                    .execute(
                        "INSERT INTO api_keys (tenant_id, id, prefix, hash, created_at)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                        &[&id, &k.id, &k.prefix, &k.hash, &from_ms(k.created_at)],
                    )
                    .await?;
                done.keys += 1;
            }
            for (hook_id, json) in store.hooks_raw(&id).await? {
                client
                    .execute(
                        "INSERT INTO hooks (tenant_id, id, hook) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        &[&id, &hook_id, &json],
                    )
                    .await?;
                done.hooks += 1;
            }
            done.tenants += 1;
        }
        Ok(done)
    }
}

/// Every tenant, as [`tenant_row`] reads it.
const TENANTS: &str =
    "SELECT id, name, created_at, intake_per_second, intake_burst FROM tenants ORDER BY id";

/// A tenant and its own intake limit, if an operator set one.
fn tenant_row(t: &tokio_postgres::Row) -> (Tenant, Option<IntakeLimit>) {
    let tenant = Tenant {
        id: t.get(0),
        name: t.get(1),
        created_at: to_ms(t.get(2)),
    };
    let limit = t
        .get::<_, Option<i32>>(3)
        .zip(t.get::<_, Option<i32>>(4))
        .map(|(p, b)| IntakeLimit {
            per_second: p as u32,
            burst: b as u32,
        });
    (tenant, limit)
}
