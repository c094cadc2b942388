//! What every hookpost role shares for operations.
//!
//! - [`metrics`]: every Prometheus family, registered once.
//! - [`health`]: readiness checks and the `/metrics`, `/healthz`, `/readyz` routes.
//! - [`checks`]: the broker, Redis and keyspace checks every role reports alike.
//! - [`telemetry`]: logs through `tracing`, human or JSON.
//! - [`server`]: the HTTP server of every role, with timeouts and a connection cap.
#![forbid(unsafe_code)]

pub mod checks;
pub mod health;
pub mod metrics;
pub mod server;
pub mod telemetry;

pub use checks::{RoleChecks, KEYSPACE_MISSING};
pub use health::Readiness;
pub use metrics::Metrics;
pub use server::{serve, HttpLimits};
