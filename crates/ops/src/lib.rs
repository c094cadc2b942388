//! What every hookpost role shares for operations.
//!
//! - [`metrics`]: every Prometheus family, registered once.
//! - [`health`]: readiness checks and the `/metrics`, `/healthz`, `/readyz` routes.
//! - [`telemetry`]: logs through `tracing`, human or JSON.
//! - [`server`]: the HTTP server of every role, with timeouts and a connection cap.
#![forbid(unsafe_code)]

pub mod health;
pub mod metrics;
pub mod server;
pub mod telemetry;

pub use health::Readiness;
pub use metrics::Metrics;
pub use server::{serve, HttpLimits};
