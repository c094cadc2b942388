//! hookpost's side of RabbitMQ.
//!
//! - [`topology`]: the exchange, queues and dead-letter queue, named from the prefix.
//! - [`publisher`]: a reconnecting publisher that returns only once RabbitMQ confirmed.
//! - [`consume`]: opening a consuming channel with manual acks and a bounded prefetch.
//! - [`dead`]: reading the dead-letter queue without taking from it.
#![forbid(unsafe_code)]

pub mod consume;
pub mod dead;
pub mod publisher;
pub mod topology;

pub use publisher::{Outgoing, Publisher};
pub use topology::Topology;

use std::time::Duration;

/// RabbitMQ could not be reached, or did not confirm.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("RabbitMQ is unreachable: {0}")]
    Unreachable(String),
    #[error("RabbitMQ refused the message: {0}")]
    Nacked(String),
    #[error("RabbitMQ did not answer within {0:?}")]
    Timeout(Duration),
}

impl From<lapin::Error> for BrokerError {
    fn from(e: lapin::Error) -> Self {
        BrokerError::Unreachable(e.to_string())
    }
}

/// Connects within `timeout`, so that callers fail fast when the broker is away.
///
/// `urls` may list the nodes of a RabbitMQ cluster, comma-separated. Each call starts
/// with the node after the one the previous call started with and goes on to the next
/// when one does not answer: connections spread over the nodes, and a role that lost
/// its node reconnects to another.
pub async fn connect(
    urls: &str,
    name: &str,
    timeout: Duration,
) -> Result<lapin::Connection, BrokerError> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let nodes: Vec<&str> = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if nodes.len() <= 1 {
        return connect_node(urls.trim(), name, timeout).await;
    }
    let start = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut last = None;
    for i in 0..nodes.len() {
        let url = nodes[(start + i) % nodes.len()];
        match connect_node(url, name, timeout).await {
            Ok(conn) => return Ok(conn),
            Err(e) => {
                tracing::warn!(node = %hookpost_core::config::redact_url(url), error = %e, "RabbitMQ node unreachable; trying the next");
                last = Some(e);
            }
        }
    }
    Err(last.expect("at least one node"))
}

async fn connect_node(
    url: &str,
    name: &str,
    timeout: Duration,
) -> Result<lapin::Connection, BrokerError> {
    let props = lapin::ConnectionProperties::default().with_connection_name(name.to_owned().into());
    match tokio::time::timeout(timeout, lapin::Connection::connect(url, props)).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(BrokerError::Timeout(timeout)),
    }
}

/// How long closing a connection may take. lapin can drop a connection's socket and
/// leave its close waiting for an answer that will never come (seen in tests'
/// clean-ups, which then hung); a stop must not wait on that.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Closes `conn` cleanly, or gives up after [`CLOSE_WAIT`]: the socket goes either way.
pub async fn close(conn: &lapin::Connection, reason: &str) {
    let _ = tokio::time::timeout(CLOSE_WAIT, conn.close(200, reason.into())).await;
}
