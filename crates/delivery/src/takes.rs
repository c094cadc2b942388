//! Which of a tenant's hooks take an event: subscribed to its type, active, and past
//! their filters within the event's budget ([`crate::filtering::choose`]). The worker's
//! fan-out and ingest's registration of ordered deliveries both decide with [`takes`],
//! so that they come to the same decision for an ordered hook.

use hookpost_core::filter::Payload;

use crate::filtering::choose;
use crate::hooks_cache::ReadyHook;

/// The hooks that take an event, and what deciding it took.
pub struct Taken<'h> {
    /// The hooks that take the event, in the order given.
    pub hooks: Vec<&'h ReadyHook>,
    /// The parts of the event's data the subscribed hooks read (filters, ordering keys
    /// whole), taken when one needed them; `None` otherwise, or when it is not JSON
    /// (then no filter passes).
    pub payload: Option<Payload>,
    /// Subscribed hooks whose filter kept the event from them.
    pub filtered_out: usize,
    /// The filters ran out of the event's budget: the hooks left did not take it.
    pub exhausted: bool,
}

/// Which of `hooks` take an event of type `kind` whose data is `data` (JSON), with
/// `budget` work units for all their filters. The payload is parsed at most once, and
/// only when a subscribed hook has a filter or an ordering key.
pub fn takes<'h>(
    hooks: impl IntoIterator<Item = &'h ReadyHook>,
    kind: &str,
    data: &str,
    budget: u64,
) -> Taken<'h> {
    let subscribed: Vec<&ReadyHook> = hooks.into_iter().filter(|h| h.hook.wants(kind)).collect();
    let needs_payload = subscribed
        .iter()
        .any(|h| h.filter.is_some() || h.order.is_some());
    let payload = match needs_payload {
        true => Payload::select(
            data,
            subscribed.iter().filter_map(|h| h.filter.as_ref()),
            subscribed.iter().filter_map(|h| h.order.as_ref()?.key()),
        ),
        false => None,
    };
    let chosen = choose(&subscribed, payload.as_ref(), budget);
    let filtered_out = chosen.kept.iter().filter(|kept| !**kept).count();
    let hooks = subscribed
        .into_iter()
        .zip(chosen.kept)
        .filter_map(|(hook, kept)| kept.then_some(hook))
        .collect();
    Taken {
        hooks,
        payload,
        filtered_out,
        exhausted: chosen.exhausted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpost_core::Hook;
    use serde_json::{json, Value};

    fn hook(id: &str, events: &[&str], active: bool, filter: Option<Value>) -> ReadyHook {
        let hook = Hook {
            id: id.into(),
            url: "http://127.0.0.1:9/".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            active,
            filter,
            ..Hook::default()
        };
        ReadyHook::new(hook).expect("a valid hook")
    }

    fn ids(taken: &Taken<'_>) -> Vec<String> {
        taken.hooks.iter().map(|h| h.hook.id.clone()).collect()
    }

    #[test]
    fn type_active_and_filter_decide_and_the_payload_is_parsed_only_when_needed() {
        let refunds = json!({"path": "$.kind", "op": "eq", "value": "refund"});
        let hooks = [
            hook("all", &["*"], true, None),
            hook("created", &["ticket.created"], true, None),
            hook("other", &["ticket.closed"], true, Some(refunds.clone())),
            hook("off", &["*"], false, None),
            hook("refunds", &["ticket.created"], true, Some(refunds)),
        ];
        let refund = r#"{"kind": "refund"}"#;
        let taken = takes(&hooks, "ticket.created", refund, 1_000_000);
        assert_eq!(ids(&taken), ["all", "created", "refunds"]);
        assert_eq!((taken.filtered_out, taken.exhausted), (0, false));
        assert_eq!(
            taken.payload.as_ref().map(Payload::value),
            Some(&json!({"kind": "refund"}))
        );

        let taken = takes(&hooks, "ticket.created", r#"{"kind": "sale"}"#, 1_000_000);
        assert_eq!(ids(&taken), ["all", "created"]);
        assert_eq!(taken.filtered_out, 1);

        // Nobody subscribed has a filter: the data is not parsed.
        let taken = takes(&hooks[..2], "ticket.created", refund, 1_000_000);
        assert_eq!(ids(&taken).len(), 2);
        assert!(taken.payload.is_none());

        // Data that is not JSON: no filter passes.
        let taken = takes(&hooks, "ticket.created", "not json", 1_000_000);
        assert_eq!(ids(&taken), ["all", "created"]);
    }

    #[test]
    fn an_ordered_hook_is_decided_the_same_among_all_hooks_as_alone() {
        // What ingest sees (the ordered hooks only) and what the worker sees (all of
        // them) must agree on the ordered hook, however tight the budget.
        let data = json!({"items": vec![0; 500], "kind": "refund"}).to_string();
        let heavy = json!({"not": {"path": "$.items", "op": "contains", "value": -1}});
        let mut ordered = Hook {
            id: "ordered".into(),
            url: "http://127.0.0.1:9/".into(),
            events: vec!["*".into()],
            active: true,
            filter: Some(heavy.clone()),
            ..Hook::default()
        };
        ordered.controls.ordering = Some("fifo".into());
        let ordered = ReadyHook::new(ordered).expect("a valid hook");
        let others: Vec<ReadyHook> = (0..5)
            .map(|i| hook(&format!("h{i}"), &["*"], true, Some(heavy.clone())))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for budget in (0..40_000).step_by(1_000) {
            let alone = takes([&ordered], "ticket.created", &data, budget);
            let all = takes(
                others.iter().chain([&ordered]),
                "ticket.created",
                &data,
                budget,
            );
            let has = |t: &Taken<'_>| t.hooks.iter().any(|h| h.hook.id == "ordered");
            assert_eq!(has(&alone), has(&all), "budget {budget}");
            seen.insert(has(&alone));
        }
        assert_eq!(seen.len(), 2, "budgets both too small and large enough");
    }
}
