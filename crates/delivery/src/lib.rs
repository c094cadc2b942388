//! What delivering a webhook means, shared by ingest (registration, ordered hooks, test
//! sends) and the worker, so that both apply the same rules.
//!
//! - [`hooks_cache`]: the prepared hook ([`ReadyHook`]) and each tenant's hooks, cached.
//! - [`takes`]: which hooks take an event (type, active, filter): the one definition.
//! - [`filtering`]: the filters of an event's hooks, paid from one work budget.
//! - [`egress`]: which addresses may be delivered to: one rule, checked in the resolver.
//! - [`registration`]: a hook URL checked at registration by that same rule.
//! - [`sender`]: one HTTP attempt as an [`hookpost_core::outcome::Attempt`]; one client
//!   per process.
//! - [`verdict`]: what follows an attempt (delivered, retry when, gone, failed), a pure
//!   function of the attempt, the retry policy and a jitter draw.
#![forbid(unsafe_code)]

pub mod egress;
pub mod filtering;
pub mod hooks_cache;
pub mod registration;
pub mod sender;
pub mod takes;
pub mod verdict;

pub use hooks_cache::ReadyHook;
pub use sender::{Envelope, Sender};
pub use takes::{takes, Taken};
pub use verdict::{verdict, RetryPolicy, Verdict};
