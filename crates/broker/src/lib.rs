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
pub async fn connect(
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
