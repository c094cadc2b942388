//! Each tenant's hooks, cached with the version they were read at. The event claim
//! returns the current version, so a change is seen on the next event without a Redis
//! round trip per event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hookpost_core::signing::SigningKey;
use hookpost_core::Hook;
use hookpost_store::Store;

/// A hook ready to deliver to: parsed URL, signing key and body snapshot made once.
pub struct ReadyHook {
    pub hook: Hook,
    pub url: url::Url,
    pub key: SigningKey,
    /// The key before a rotation and until when it still signs (ms).
    pub previous: Option<(SigningKey, i64)>,
    /// The hook's custom headers, ready to send.
    pub headers: reqwest::header::HeaderMap,
    pub snapshot: String,
    /// The smart-rule filter, parsed once (validated on save).
    pub filter: Option<hookpost_core::filter::Filter>,
    /// The hook's own retry schedule, parsed once (validated on save).
    pub retry: Option<hookpost_core::retry::RetrySchedule>,
    /// How the hook orders its deliveries, when it does.
    pub order: Option<hookpost_core::ordering::Ordering>,
}

impl ReadyHook {
    pub fn new(hook: Hook) -> Option<ReadyHook> {
        // A stored URL that no longer parses cannot be delivered to; it was checked on
        // save, so this only guards against hand-edited data.
        let url = url::Url::parse(&hook.url).ok()?;
        let previous = match (&hook.previous_secret, hook.previous_secret_expires_at) {
            (Some(secret), Some(until)) => Some((SigningKey::from_secret(secret), until)),
            _ => None,
        };
        let headers = hook
            .headers
            .iter()
            .filter_map(|(k, v)| {
                let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).ok()?;
                let mut value = reqwest::header::HeaderValue::from_str(v).ok()?;
                value.set_sensitive(true);
                Some((name, value))
            })
            .collect();
        let filter = match &hook.filter {
            Some(f) => Some(hookpost_core::filter::Filter::parse(f).ok()?),
            None => None,
        };
        let retry = hook.controls.retry().ok()?;
        let order = hook.controls.ordering().ok()?;
        Some(ReadyHook {
            filter,
            retry,
            order,
            key: SigningKey::from_secret(&hook.secret),
            previous,
            headers,
            snapshot: hook.snapshot_json(),
            url,
            hook,
        })
    }

    /// The previous key while it still signs at `now_ms`.
    pub fn previous_key(&self, now_ms: i64) -> Option<&SigningKey> {
        self.previous
            .as_ref()
            .filter(|(_, until)| *until > now_ms)
            .map(|(k, _)| k)
    }
}

type Entry = (u64, Arc<Vec<ReadyHook>>);

#[derive(Default)]
pub struct HooksCache {
    tenants: Mutex<HashMap<String, Entry>>,
}

impl HooksCache {
    /// The tenant's hooks at `version`, reading Redis only when the cache holds another
    /// version. Any other, not only an older one: a Redis rebuilt from PostgreSQL counts
    /// its hooks' versions from the start again, and a cache that took a higher version
    /// for a newer one would keep the hooks of before for every change made since.
    pub async fn get(
        &self,
        store: &Store,
        tenant: &str,
        version: u64,
    ) -> hookpost_store::Result<Arc<Vec<ReadyHook>>> {
        if let Some((v, hooks)) = self.tenants.lock().expect("not poisoned").get(tenant) {
            if *v == version {
                return Ok(hooks.clone());
            }
        }
        let (v, hooks) = store.hooks_versioned(tenant).await?;
        // Older than the version the caller just read: Redis lost its data in between
        // (the hooks come back with the rebuild), so these are not the tenant's hooks.
        if v < version {
            return Err(hookpost_store::StoreError::Corrupt(format!(
                "the hooks of tenant `{tenant}` went back from version {version} to {v}: \
                 Redis lost its data"
            )));
        }
        let ready: Arc<Vec<ReadyHook>> =
            Arc::new(hooks.into_iter().filter_map(ReadyHook::new).collect());
        // A load that raced a newer one may put an older version here: the next caller
        // at the newer one loads again.
        (self.tenants.lock().expect("not poisoned")).insert(tenant.to_owned(), (v, ready.clone()));
        Ok(ready)
    }
}
