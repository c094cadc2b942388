//! A hook as a client sends it, through the checks ingest applies to each field (URL,
//! event types, headers, filter, delivery controls, ordering), and a stored hook read
//! back. Never a panic.
#![no_main]

use std::collections::BTreeMap;

use hookpost_core::controls::{self, Controls, RateLimit};
use hookpost_core::filter::Filter;
use hookpost_core::hook::{check_events, check_headers, check_url};
use hookpost_core::Hook;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let _ = serde_json::from_slice::<Hook>(bytes);
    let Ok(Value::Object(input)) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    if let Some(Value::String(url)) = input.get("url") {
        let _ = check_url(url);
    }
    if let Some(events) = input.get("events") {
        if let Ok(e) = serde_json::from_value::<Vec<String>>(events.clone()) {
            let _ = check_events(&e);
        }
    }
    if let Some(headers) = input.get("headers") {
        if let Ok(h) = serde_json::from_value::<BTreeMap<String, String>>(headers.clone()) {
            let _ = check_headers(&h);
        }
    }
    if let Some(filter) = input.get("filter") {
        let _ = Filter::parse(filter);
    }
    if let Some(v) = input.get("rate_limit") {
        if let Ok(r) = serde_json::from_value::<RateLimit>(v.clone()) {
            let _ = r.check();
        }
    }
    if let Some(Value::Number(n)) = input.get("max_in_flight") {
        if let Some(n) = n.as_u64().and_then(|n| u32::try_from(n).ok()) {
            let _ = controls::check_max_in_flight(n);
        }
    }
    if let Some(v) = input.get("retry_schedule") {
        if let Ok(steps) = serde_json::from_value::<Vec<String>>(v.clone()) {
            let _ = controls::parse_retry_schedule(&steps);
        }
    }
    // The controls as stored, and the ordering they make.
    if let Ok(c) = serde_json::from_value::<Controls>(Value::Object(input)) {
        let _ = c.retry();
        let _ = c.ordering();
    }
});
