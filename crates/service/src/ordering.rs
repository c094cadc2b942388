//! Registers the deliveries of ordered hooks before their events are published, so that
//! a key's order is the order its events were accepted, whichever worker claims them
//! first (a worker registers on claim too, for events published straight to the
//! exchange). A tenant's ordered hooks are read at most once a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hookpost_core::delivery::delivery_id;
use hookpost_core::Event;
use hookpost_store::ordering::Ordered;
use hookpost_worker::filtering;
use hookpost_worker::hooks_cache::ReadyHook;

use crate::AppState;
use crate::ServiceError;

/// How long a tenant's list of ordered hooks is used before it is read again: a hook
/// made ordered orders the events accepted from then on, at most this much later.
const FRESH_FOR: Duration = Duration::from_secs(1);

/// When a tenant's ordered hooks were read, and what they were.
type Read = (Instant, Arc<Vec<ReadyHook>>);

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
    async fn of(
        &self,
        state: &AppState,
        tenant: &str,
    ) -> Result<Arc<Vec<ReadyHook>>, ServiceError> {
        if let Some((at, hooks)) = self.0.lock().expect("not poisoned").get(tenant) {
            if at.elapsed() < FRESH_FOR {
                return Ok(hooks.clone());
            }
        }
        let hooks: Arc<Vec<ReadyHook>> = Arc::new(
            state
                .store
                .hooks(tenant)
                .await?
                .into_iter()
                .filter(|h| h.controls.ordering.is_some())
                .filter_map(ReadyHook::new)
                .collect(),
        );
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
    events: &[Event],
) -> Result<Vec<Registration>, ServiceError> {
    let hooks = state.ordered_hooks.of(state, tenant).await?;
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for event in events {
        let subscribed: Vec<&ReadyHook> =
            hooks.iter().filter(|h| h.hook.wants(&event.kind)).collect();
        if subscribed.is_empty() {
            continue; // no payload to parse
        }
        let payload: serde_json::Value = serde_json::from_str(event.data.get()).unwrap_or_default();
        // The same choice the worker makes: subscribed, active, and past the filter within
        // the event's budget (the worker decides ordered hooks first, as here).
        let budget = state.config.filter_budget;
        let chosen = filtering::choose(&subscribed, Some(&payload), budget);
        if chosen.exhausted {
            filtering::report_exhausted(&state.metrics, "ingest", tenant, &event.id);
        }
        for (hook, kept) in subscribed.into_iter().zip(chosen.kept) {
            let Some(order) = &hook.order else { continue };
            if kept {
                out.push(Registration(
                    hook.hook.id.clone(),
                    order.key_id(&payload),
                    delivery_id(tenant, &event.id, &hook.hook.id),
                    event.id.clone(),
                ));
            }
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
