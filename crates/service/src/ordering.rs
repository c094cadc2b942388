//! Registers the deliveries of ordered hooks before their events are published, so that
//! a key's order is the order its events were accepted, whichever worker claims them
//! first (a worker registers on claim too, for events published straight to the
//! exchange). A tenant's hooks are read at most once a second (here, and for weighing its
//! events against its fair lane).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookpost_core::delivery::delivery_id;
use hookpost_core::filter::Payload;
use hookpost_core::labels::Role;
use hookpost_core::{Event, Hook};
use hookpost_delivery::filtering;
use hookpost_delivery::ReadyHook;
use hookpost_store::ordering::Ordered;

use crate::AppState;
use crate::ServiceError;

/// How long a tenant's list of ordered hooks is used before it is read again: a hook
/// made ordered orders the events accepted from then on, at most this much later.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// A tenant's hooks as intake needs them.
pub struct TenantHooks {
    /// Its ordered hooks, ready to choose and key events.
    pub ordered: Vec<ReadyHook>,
    /// Its active hooks (for counting an event's deliveries).
    pub active: Vec<Hook>,
}

impl TenantHooks {
    /// The deliveries an event of type `kind` makes at most (before filters).
    pub fn deliveries(&self, kind: &str) -> usize {
        self.active.iter().filter(|h| h.wants(kind)).count()
    }
}

/// When a tenant's hooks were read, and what they were.
type Read = (Instant, Arc<TenantHooks>);

#[derive(Default)]
pub struct OrderedHooks(Mutex<HashMap<String, Read>>);

/// One registration: hook, key id, delivery id, event id.
pub struct Registration(String, String, String, String);

impl Registration {
    fn ordered(&self) -> Ordered<'_> {
        Ordered {
            hook_id: &self.0,
            key_id: &self.1,
            delivery_id: &self.2,
            event_id: &self.3,
        }
    }
}

impl OrderedHooks {
    pub async fn of(
        &self,
        state: &AppState,
        tenant: &str,
    ) -> Result<Arc<TenantHooks>, ServiceError> {
        if let Some((at, hooks)) = self.0.lock().expect("not poisoned").get(tenant) {
            if at.elapsed() < FRESH_FOR {
                return Ok(hooks.clone());
            }
        }
        let active: Vec<Hook> = state
            .store
            .hooks(tenant)
            .await?
            .into_iter()
            .filter(|h| h.active)
            .collect();
        let ordered = active
            .iter()
            .filter(|h| h.controls.ordering.is_some())
            .cloned()
            .filter_map(ReadyHook::new)
            .collect();
        let hooks = Arc::new(TenantHooks { ordered, active });
        self.0
            .lock()
            .expect("not poisoned")
            .insert(tenant.to_owned(), (Instant::now(), hooks.clone()));
        Ok(hooks)
    }
}

/// Registers `events`' deliveries to the tenant's ordered hooks, in order.
pub async fn register(
    state: &AppState,
    tenant: &str,
    hooks: &TenantHooks,
    events: &[Event],
) -> Result<Vec<Registration>, ServiceError> {
    let hooks = &hooks.ordered;
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for event in events {
        // The worker's own decision (`takes` decides ordered hooks first, so seeing only
        // them here changes nothing for them).
        let budget = state.config.filter_budget;
        let taken = hookpost_delivery::takes(hooks.iter(), &event.kind, event.data.get(), budget);
        if taken.exhausted {
            filtering::report_exhausted(&state.metrics, Role::Ingest, tenant, &event.id);
        }
        let data = taken
            .payload
            .as_ref()
            .map_or(&serde_json::Value::Null, Payload::value);
        for hook in taken.hooks {
            let Some(order) = &hook.order else { continue };
            out.push(Registration(
                hook.hook.id.clone(),
                order.key_id(data),
                delivery_id(tenant, &event.id, &hook.hook.id),
                event.id.clone(),
            ));
        }
    }
    let ordered: Vec<Ordered<'_>> = out.iter().map(Registration::ordered).collect();
    state.store.order_register(tenant, &ordered).await?;
    Ok(out)
}

/// Takes registrations back after the publish failed (best effort: a registration left
/// behind waits at its key's head until its event's turn check drops it).
pub async fn unregister(state: &AppState, tenant: &str, registered: &[Registration]) {
    if registered.is_empty() {
        return;
    }
    let ordered: Vec<Ordered<'_>> = registered.iter().map(Registration::ordered).collect();
    if let Err(e) = state.store.order_unregister(tenant, &ordered).await {
        tracing::warn!(error = %e, "could not take back ordering registrations");
    }
}
