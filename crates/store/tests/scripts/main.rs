//! Direct tests of the store's Lua scripts, one module per script family, through the
//! functions the roles call, against the real Redis (`HOOKPOST_TEST_REDIS_URL`, else
//! 127.0.0.1:6379), each test under a prefix of its own that is deleted afterwards.
//!
//! Times are driven without sleeping on chance: a lease of zero has run out by the next
//! call (Redis's clock never stands before the one that set it), and times the scripts
//! answer are checked against Redis's own `TIME` read around the call.

mod common;

mod events;
mod hooks;
mod limits;
mod marker;
mod ordering;
mod record;
mod retries;
mod shards;
mod tracked;
