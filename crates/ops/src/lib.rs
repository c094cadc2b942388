//! What every hookpost role shares for operations.
//!
//! - [`metrics`]: every Prometheus family, registered once.
//! - [`health`]: readiness checks and the `/metrics`, `/healthz`, `/readyz` routes.
//! - [`telemetry`]: logs through `tracing`, human or JSON.
#![forbid(unsafe_code)]

pub mod health;
pub mod metrics;
pub mod telemetry;

pub use health::Readiness;
pub use metrics::Metrics;

/// Serves `router` on `listener` until `cancel` fires.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    cancel: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    // With each connection's address: the audit log records who acted from where.
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { cancel.cancelled().await })
    .await
}
