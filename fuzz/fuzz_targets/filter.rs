//! The filter parser and evaluator: the input is a filter and a payload, one JSON value
//! per line. Never a panic; an accepted filter round-trips through its canonical form,
//! and its evaluation spends no more than its budget and decides the same way twice.
#![no_main]

use hookpost_core::filter::{Budget, Filter};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let (filter, payload) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(filter) = serde_json::from_str::<Value>(filter) else {
        return;
    };
    let Ok(parsed) = Filter::parse(&filter) else {
        return;
    };
    let canonical = serde_json::to_value(&parsed).expect("a filter serialises");
    assert_eq!(Filter::parse(&canonical).as_ref(), Ok(&parsed));
    let Ok(payload) = serde_json::from_str::<Value>(payload) else {
        return;
    };
    // A small budget too, so that running out is explored as well.
    for units in [64, 100_000] {
        let (mut a, mut b) = (Budget::new(units), Budget::new(units));
        let first = parsed.matches(&payload, &mut a);
        assert_eq!(first, parsed.matches(&payload, &mut b));
        assert_eq!(a.left(), b.left());
        assert!(
            !(first && a.exhausted()),
            "a filter out of budget never matches"
        );
    }
});
