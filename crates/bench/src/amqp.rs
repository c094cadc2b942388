//! The bench's own RabbitMQ use, apart from hookpost's: a connection to the local broker
//! (`HOOKPOST_AMQP_URL`), queues named for the run, and confirms checked.

use std::time::Duration;

use anyhow::bail;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, PublisherConfirm};

/// A connection named `name` to the broker the bench uses.
pub async fn connect(name: &str) -> anyhow::Result<Connection> {
    let url = std::env::var("HOOKPOST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    Ok(hookpost_broker::connect(&url, name, Duration::from_secs(5)).await?)
}

/// A name of this run's own, so that runs side by side do not share a queue.
pub fn run_name(stem: &str) -> String {
    format!("{stem}-{}-{}", std::process::id(), hookpost_core::now_ms())
}

/// Declares a durable queue of the bench's own.
pub async fn declare(ch: &Channel, queue: &str) -> anyhow::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(queue.into(), durable, FieldTable::default())
        .await?;
    Ok(())
}

/// Publishes `body` as a persistent message straight to `queue` (the default exchange);
/// its confirm, to await with [`confirmed`].
pub async fn publish(ch: &Channel, queue: &str, body: &[u8]) -> anyhow::Result<PublisherConfirm> {
    let persistent = BasicProperties::default().with_delivery_mode(2);
    let options = BasicPublishOptions::default();
    Ok(ch
        .basic_publish("".into(), queue.into(), options, body, persistent)
        .await?)
}

/// Waits for every confirm: an error unless RabbitMQ took and routed each message.
pub async fn confirmed(confirms: Vec<PublisherConfirm>) -> anyhow::Result<()> {
    for c in futures_util::future::try_join_all(confirms).await? {
        if !matches!(c, Confirmation::Ack(None)) {
            bail!("RabbitMQ refused or could not route a publish: {c:?}");
        }
    }
    Ok(())
}
