//! Reading the dead-letter queue without taking from it (the console's operator page).
//!
//! Messages are fetched unacknowledged and given back when the channel closes, so none is
//! lost; RabbitMQ keeps their place and marks them redelivered.

use std::time::Duration;

use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};

use crate::BrokerError;

/// One dead-lettered message as an operator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// `x-hookpost-reason`: `not_json`, `unknown_tenant`, `too_large`, …
    pub reason: String,
    /// `x-hookpost-error`: what was wrong, in words.
    pub error: String,
    /// The first [`BODY_SNIPPET`] bytes of the message, as text.
    pub body: String,
    pub body_len: usize,
}

/// How much of a dead letter's body is shown.
pub const BODY_SNIPPET: usize = 512;

/// How many messages `queue` holds, and up to `limit` of them from its head.
pub async fn peek(
    url: &str,
    queue: &str,
    limit: usize,
    timeout: Duration,
) -> Result<(u32, Vec<DeadLetter>), BrokerError> {
    let conn = crate::connect(url, "hookpost-console", timeout).await?;
    let result = tokio::time::timeout(timeout, read(&conn, queue, limit)).await;
    // Closing the channel and connection hands every unacknowledged message back.
    crate::close(&conn, "done").await;
    result.unwrap_or(Err(BrokerError::Timeout(timeout)))
}

async fn read(
    conn: &lapin::Connection,
    queue: &str,
    limit: usize,
) -> Result<(u32, Vec<DeadLetter>), BrokerError> {
    let ch = conn.create_channel().await?;
    let declared = ch
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(m) = ch
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        let header = |name: &str| {
            m.properties
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get(name).cloned())
                .map(|v| match v {
                    AMQPValue::LongString(s) => s.to_string(),
                    AMQPValue::ShortString(s) => s.to_string(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default()
        };
        let data = &m.delivery.data;
        let cut = data.len().min(BODY_SNIPPET);
        out.push(DeadLetter {
            reason: header("x-hookpost-reason"),
            error: header("x-hookpost-error"),
            body: String::from_utf8_lossy(&data[..cut]).into_owned(),
            body_len: data.len(),
        });
    }
    Ok((declared.message_count(), out))
}
