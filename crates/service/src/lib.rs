//! hookpost's application layer: the state the API and the web console share, and the
//! operations on it as plain async functions over [`AppState`]. Errors are
//! [`ServiceError`]s, which carry a stable code and an HTTP status but no framework
//! type: ingest turns them into JSON errors, the console into pages.
//!
//! - [`state`]: [`AppState`], what one ingest process holds (config, store, publisher,
//!   sender, metrics, caches).
//! - [`hooks`]: a tenant's hooks: create, list, read, change, delete, rotate, test.
//! - [`deliveries`]: the delivery log, event lookup, resend and skip.
//! - [`event_types`]: the event-type catalogue: global and tenants' own types, checks.
//! - [`tenants`]: tenants, their API keys and intake limits; the retry backlog.
//! - [`audit`]: writing and listing the audit log.
//! - [`test_send`]: sample events sent now, under their limits.
//! - [`ordering`]: ordered hooks' deliveries registered before their events are published.
//! - [`intake`], [`light`]: each tenant's intake tokens and fair lane, leased to this
//!   process; which tenants are light, so that their events take the light queue.
//! - [`auth`]: API keys, the admin token, constant-time comparison.
//! - [`client`], [`throttle`]: client addresses, and the limit on failed authentications.
//! - [`path_id`]: ids from URL paths, checked before they reach the store.
//! - [`error`]: the errors of every operation, with their codes.
//! - [`fields`]: how an optional JSON field reads (absent, `null`, a value).
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod client;
pub mod deliveries;
pub mod error;
pub mod event_types;
pub mod fields;
pub mod hooks;
pub mod intake;
pub mod light;
pub mod ordering;
pub mod path_id;
pub mod state;
pub mod tenants;
pub mod test_send;
pub mod throttle;

pub use error::ServiceError;
pub use hookpost_ops::KEYSPACE_MISSING;
pub use state::{AppState, SharedState};

#[cfg(test)]
mod tests;
