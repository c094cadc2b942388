//! The event parser, as the exchange path calls it (no tenant from a key) and as the HTTP
//! path does: never a panic; an accepted event round-trips through its published JSON.
#![no_main]

use hookpost_core::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    for tenant in [None, Some("acme")] {
        if let Ok(event) = Event::parse(bytes, tenant) {
            let again = Event::parse(&event.to_json(), None).expect("a published event parses");
            assert_eq!(again.id, event.id);
            assert_eq!(again.data.get(), event.data.get());
        }
    }
});
