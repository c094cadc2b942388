//! Consuming with manual acks and a bounded prefetch.

use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};

/// Opens a channel on `conn` with `prefetch` unacked messages at most and consumes `queue`.
pub async fn open(
    conn: &Connection,
    queue: &str,
    tag: &str,
    prefetch: u16,
) -> lapin::Result<(Channel, Consumer)> {
    let ch = channel(conn, prefetch).await?;
    let consumer = consume(&ch, queue, tag).await?;
    Ok((ch, consumer))
}

/// A channel on `conn` whose consumers hold `prefetch` unacked messages each at most.
pub async fn channel(conn: &Connection, prefetch: u16) -> lapin::Result<Channel> {
    let ch = conn.create_channel().await?;
    ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
    Ok(ch)
}

/// Consumes `queue` on `ch` with manual acks, as consumer `tag`.
pub async fn consume(ch: &Channel, queue: &str, tag: &str) -> lapin::Result<Consumer> {
    ch.basic_consume(
        queue.into(),
        tag.into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
}
