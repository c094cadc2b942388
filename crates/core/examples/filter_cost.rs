//! CPU per event of filters at their worst: a 1 MiB event against 100 hooks of 100
//! conditions each, with one work budget for the event, as ingest (ordered hooks) and the
//! worker (every hook) run them: the pass that selects what the filters read from the raw
//! data, then the evaluation. Also the event's first parse (`Event::parse`, nesting check
//! included) and, for comparison, a full `Value` parse of `data` (what filters needed
//! before the pass). Prints figures; asserts nothing.
//!
//! `cargo run --release -p hookpost-core --example filter_cost [events] [shape]` (only
//! the shapes whose name contains `shape`)
//!
//! CPU time is this thread's, from `/proc/thread-self/schedstat` (Linux).

use hookpost_core::filter::{Budget, Filter, Payload, DEFAULT_BUDGET};
use hookpost_core::Event;
use serde_json::{json, Value};

const HOOKS: usize = 100;
const CONDITIONS: usize = 100;
const EVENT_BYTES: usize = 1 << 20;

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    stat.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

/// Hook `h`'s 100 conditions `cond(h, c)` under `not(any(any(50), any(50)))`: a full
/// evaluation visits all of them when none matches.
fn hook_filter(h: usize, cond: &dyn Fn(usize, usize) -> Value) -> Filter {
    let half =
        |from: usize| json!({ "any": (from..from + 50).map(|c| cond(h, c)).collect::<Vec<_>>() });
    Filter::parse(&json!({"not": {"any": [half(0), half(50)]}})).expect("a valid filter")
}

type Shape = (&'static str, String, Box<dyn Fn(usize, usize) -> Value>);

/// (name, event data of about 1 MiB, condition `c` of hook `h`).
fn shapes() -> Vec<Shape> {
    let items = vec![0u8; EVENT_BYTES / 2];
    let text = "a".repeat(EVENT_BYTES - 16);
    let wide: serde_json::Map<String, Value> = (0..EVENT_BYTES / 16)
        .map(|i| (format!("k{i:09}"), json!(0)))
        .collect();
    let path16 = format!("$.k000000001{}", ".x".repeat(15));
    // Hook h reads its own array 15 levels down: every byte of the event is selected.
    let deep = |h: usize| format!("$.h{h:02}{}.v", ".x".repeat(14));
    let per_hook = EVENT_BYTES / HOOKS / 2 - 20;
    let mut hooks_data = serde_json::Map::new();
    for h in 0..HOOKS {
        let mut v = json!({ "v": vec![0u8; per_hook] });
        for _ in 0..14 {
            v = json!({ "x": v });
        }
        hooks_data.insert(format!("h{h:02}"), v);
    }
    let tiny = vec![json!({"a": 0}); EVENT_BYTES / 8];
    vec![
        (
            "array contains",
            json!({ "items": items }).to_string(),
            Box::new(|_, _| json!({"path": "$.items", "op": "contains", "value": -1})),
        ),
        (
            "string contains",
            json!({ "text": text }).to_string(),
            Box::new(
                |_, _| json!({"path": "$.text", "op": "contains", "value": "a".repeat(100) + "b"}),
            ),
        ),
        (
            "wide object paths",
            Value::Object(wide).to_string(),
            Box::new(move |_, _| json!({"path": path16, "op": "eq", "value": 1})),
        ),
        (
            "1 KiB event",
            json!({ "ticket": {"id": 42, "subject": "x".repeat(1000), "tags": ["vip"]} })
                .to_string(),
            Box::new(|_, _| json!({"path": "$.ticket.tags", "op": "contains", "value": "spam"})),
        ),
        (
            "100 deep arrays",
            Value::Object(hooks_data).to_string(),
            Box::new(move |h, _| json!({"path": deep(h), "op": "contains", "value": -1})),
        ),
        (
            "tiny objects",
            json!({ "items": tiny }).to_string(),
            // 10,000 different elements, and the array itself.
            Box::new(|h, c| match c {
                0 => json!({"path": "$.items", "op": "contains", "value": -1}),
                _ => json!({"path": format!("$.items[{}].a", h * 100 + c), "op": "eq", "value": 1}),
            }),
        ),
    ]
}

fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    println!(
        "{HOOKS} hooks x {CONDITIONS} conditions, budget {DEFAULT_BUDGET} units, {events} events per shape; ms of CPU per event"
    );
    println!(
        "{:<18} {:>8} {:>11} {:>10} {:>7} {:>9} {:>7} {:>8} {:>6}",
        "shape", "bytes", "event parse", "full Value", "pass", "evaluate", "total", "units", "out"
    );
    let only = std::env::args().nth(2).unwrap_or_default();
    for (name, data, cond) in shapes().into_iter().filter(|s| s.0.contains(&only)) {
        let filters: Vec<Filter> = (0..HOOKS).map(|h| hook_filter(h, &*cond)).collect();
        let event = format!(r#"{{"tenant":"acme","type":"t.x","data":{data}}}"#);
        // Each phase runs over all the events in one go: the kernel's count of a running
        // thread's CPU time moves in scheduler ticks.
        let t0 = cpu_ns();
        for _ in 0..events {
            std::hint::black_box(Event::parse(event.as_bytes(), None).expect("valid"));
        }
        let t1 = cpu_ns();
        for _ in 0..events {
            std::hint::black_box(serde_json::from_str::<Value>(&data).expect("valid JSON"));
        }
        let t2 = cpu_ns();
        for _ in 0..events {
            std::hint::black_box(Payload::select(&data, &filters, []).expect("valid JSON"));
        }
        let t3 = cpu_ns();
        let payload = Payload::select(&data, &filters, []).expect("valid JSON");
        let mut last = Budget::new(DEFAULT_BUDGET);
        let t4 = cpu_ns();
        for _ in 0..events {
            // What `hookpost_delivery::filtering::choose` does: one budget for the event.
            let mut budget = payload.budget(DEFAULT_BUDGET);
            let kept = filters
                .iter()
                .filter(|f| f.matches(&payload, &mut budget))
                .count();
            std::hint::black_box(kept);
            last = budget;
        }
        let t5 = cpu_ns();
        let ms = |ns: u64| ns as f64 / events as f64 / 1e6;
        println!(
            "{name:<18} {:>8} {:>11.3} {:>10.3} {:>7.3} {:>9.3} {:>7.3} {:>8} {:>6}",
            data.len(),
            ms(t1 - t0),
            ms(t2 - t1),
            ms(t3 - t2),
            ms(t5 - t4),
            ms(t3 - t2 + t5 - t4),
            DEFAULT_BUDGET - last.left(),
            last.exhausted()
        );
    }
}
