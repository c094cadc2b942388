//! CPU per event of filter evaluation at its worst: a 1 MiB event against 100 hooks of
//! 100 conditions each, with one work budget for the event, as ingest (ordered hooks) and
//! the worker (every hook) evaluate them. Prints figures; asserts nothing.
//!
//! `cargo run --release -p hookpost-core --example filter_cost [events]`
//!
//! CPU time is this thread's, from `/proc/thread-self/schedstat` (Linux).

use hookpost_core::filter::{Budget, Filter, DEFAULT_BUDGET};
use serde_json::{json, Value};

const HOOKS: usize = 100;
const EVENT_BYTES: usize = 1 << 20;

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    stat.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

/// 100 copies of `condition` under `not(any(any(50), any(50)))`: a full evaluation visits
/// all of them when none matches.
fn hook_filter(condition: Value) -> Filter {
    let half = json!({ "any": vec![condition; 50] });
    Filter::parse(&json!({"not": {"any": [half.clone(), half]}})).expect("a valid filter")
}

/// (name, event data of about 1 MiB, the condition every hook repeats).
fn shapes() -> Vec<(&'static str, String, Value)> {
    let items = vec![0u8; EVENT_BYTES / 2];
    let text = "a".repeat(EVENT_BYTES - 16);
    let wide: serde_json::Map<String, Value> = (0..EVENT_BYTES / 16)
        .map(|i| (format!("k{i:09}"), json!(0)))
        .collect();
    let path16 = format!("$.k000000001{}", ".x".repeat(15));
    vec![
        (
            "array contains",
            json!({ "items": items }).to_string(),
            json!({"path": "$.items", "op": "contains", "value": -1}),
        ),
        (
            "string contains",
            json!({ "text": text }).to_string(),
            json!({"path": "$.text", "op": "contains", "value": "a".repeat(100) + "b"}),
        ),
        (
            "wide object paths",
            Value::Object(wide).to_string(),
            json!({"path": path16, "op": "eq", "value": 1}),
        ),
        (
            "1 KiB event",
            json!({ "ticket": {"id": 42, "subject": "x".repeat(1000), "tags": ["vip"]} })
                .to_string(),
            json!({"path": "$.ticket.tags", "op": "contains", "value": "spam"}),
        ),
    ]
}

fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    println!(
        "{HOOKS} hooks x 100 conditions, budget {DEFAULT_BUDGET} units, {events} events per shape"
    );
    println!(
        "{:<20} {:>9} {:>9} {:>12} {:>9} {:>10}",
        "shape", "bytes", "parse ms", "evaluate ms", "units", "exhausted"
    );
    for (name, data, condition) in shapes() {
        let filters: Vec<Filter> = (0..HOOKS).map(|_| hook_filter(condition.clone())).collect();
        // Each phase runs over all the events in one go: the kernel's count of a running
        // thread's CPU time moves in scheduler ticks.
        let t0 = cpu_ns();
        for _ in 0..events {
            let payload: Value = serde_json::from_str(&data).expect("valid JSON");
            std::hint::black_box(payload);
        }
        let t1 = cpu_ns();
        let payload: Value = serde_json::from_str(&data).expect("valid JSON");
        let mut last = Budget::new(DEFAULT_BUDGET);
        let t2 = cpu_ns();
        for _ in 0..events {
            // What `hookpost_delivery::filtering::choose` does: one budget for the event.
            let mut budget = Budget::new(DEFAULT_BUDGET);
            let kept = filters
                .iter()
                .filter(|f| f.matches(&payload, &mut budget))
                .count();
            std::hint::black_box(kept);
            last = budget;
        }
        let t3 = cpu_ns();
        let ms = |ns: u64| ns as f64 / events as f64 / 1e6;
        println!(
            "{name:<20} {:>9} {:>9.3} {:>12.3} {:>9} {:>10}",
            data.len(),
            ms(t1 - t0),
            ms(t3 - t2),
            DEFAULT_BUDGET - last.left(),
            last.exhausted()
        );
    }
}
