//! Which of an event's subscribed hooks take it by their filters, all paid for from one
//! work budget for the event (`HOOKPOST_FILTER_BUDGET`). Ingest decides the ordered hooks
//! with this before the publish, the worker every hook after it.

use hookpost_core::filter::{Budget, Payload};
use hookpost_core::labels::Role;
use hookpost_ops::metrics::Metrics;
use tracing::warn;

use crate::hooks_cache::ReadyHook;

/// Each hook's decision, in the order given, and whether the budget ran out.
#[derive(Debug, PartialEq, Eq)]
pub struct Chosen {
    pub kept: Vec<bool>,
    pub exhausted: bool,
}

/// Decides `hooks` against `payload` (`None`: not parsed, so no filter passes), selected
/// for their filters, its pass paid from the budget first. A hook
/// without a filter always takes the event; one whose filter cannot be finished within
/// the budget does not (fail closed). Ordered hooks go first: ingest decides them alone
/// and the worker must come to the same decision, whatever its other hooks' filters cost.
pub fn choose(hooks: &[&ReadyHook], payload: Option<&Payload>, units: u64) -> Chosen {
    let mut budget = payload.map_or(Budget::new(units), |p| p.budget(units));
    let mut kept = vec![false; hooks.len()];
    let ordered = |want: bool| (0..hooks.len()).filter(move |&i| hooks[i].order.is_some() == want);
    for i in ordered(true).chain(ordered(false)) {
        kept[i] = match (&hooks[i].filter, payload) {
            (None, _) => true,
            (Some(f), Some(p)) => f.matches(p, &mut budget),
            (Some(_), None) => false,
        };
    }
    Chosen {
        kept,
        exhausted: budget.exhausted(),
    }
}

/// Counts and logs an event whose filters ran out of budget; `role` is ingest or worker.
/// The line names the event, never its payload.
pub fn report_exhausted(metrics: &Metrics, role: Role, tenant: &str, event_id: &str) {
    let role = role.as_str();
    metrics
        .filter_budget_exhausted
        .with_label_values(&[role])
        .inc();
    warn!(
        tenant,
        event_id, role, "the event's filters ran out of budget; the hooks left did not take it"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpost_core::Hook;
    use serde_json::{json, Value};

    fn hook(filter: Option<Value>, ordered: bool) -> ReadyHook {
        let mut hook = Hook {
            url: "http://127.0.0.1:9/".into(),
            events: vec!["*".into()],
            active: true,
            filter,
            ..Hook::default()
        };
        hook.controls.ordering = ordered.then(|| "fifo".to_owned());
        ReadyHook::new(hook).expect("a valid hook")
    }

    #[test]
    fn ordered_hooks_are_decided_first_and_the_rest_fail_closed_once_out_of_budget() {
        let data = json!({"items": vec![0; 1000], "kind": "refund"}).to_string();
        // Matches when evaluated in full (no -1 among the items).
        let heavy = json!({"not": {"path": "$.items", "op": "contains", "value": -1}});
        let light = json!({"path": "$.kind", "op": "eq", "value": "refund"});
        let hooks = [
            hook(Some(light.clone()), false),
            hook(None, false),
            hook(Some(heavy.clone()), true),
            hook(Some(light.clone()), true),
        ];
        let all: Vec<&ReadyHook> = hooks.iter().collect();
        let filters = hooks.iter().filter_map(|h| h.filter.as_ref());
        let payload = Payload::select(&data, filters, []).expect("valid JSON");
        let plenty = choose(&all, Some(&payload), 1_000_000);
        assert_eq!(plenty.kept, [true, true, true, true]);
        assert!(!plenty.exhausted);

        // Enough for the heavy ordered hook and its light ordered neighbour only.
        let ordered: Vec<&ReadyHook> = hooks[2..].iter().collect();
        let mut units = 1;
        while !choose(&ordered, Some(&payload), units)
            .kept
            .iter()
            .all(|k| *k)
        {
            units += 1;
        }
        let tight = choose(&all, Some(&payload), units);
        // The ordered hooks decide as ingest (which sees only them) does; the unordered
        // filtered hook finds the budget spent; the unfiltered one always takes it.
        assert_eq!(tight.kept, [false, true, true, true]);
        assert!(tight.exhausted);
        assert_eq!(choose(&ordered, Some(&payload), units).kept, [true, true]);

        // No parsed payload: no filter passes.
        assert_eq!(
            choose(&all, None, 1_000_000).kept,
            [false, true, false, false]
        );
    }
}
