//! A publisher that answers only once RabbitMQ has confirmed, and reconnects by itself.
//!
//! One connection and one confirm-mode channel are shared by every caller; many publishes
//! are in flight at once and each awaits its own confirm. Any failure retires the
//! connection, and the next call makes a new one (declaring the topology again), so a
//! broker that comes back is used without a restart, and a channel RabbitMQ nacks on (one
//! opened while a quorum queue was electing a leader keeps asking the stopped one) is
//! replaced by one that asks again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::try_join_all;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use tokio::sync::Mutex;

use crate::{BrokerError, Topology};

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub body: &'a [u8],
    pub message_id: Option<&'a str>,
    /// Headers, e.g. the reason of a dead letter.
    pub headers: &'a [(&'a str, String)],
}

struct Live {
    conn: Connection,
    channel: Channel,
}

pub struct Publisher {
    url: String,
    name: String,
    topology: Topology,
    timeout: Duration,
    /// Messages published before their confirms are awaited and the next ones go.
    window: usize,
    live: Mutex<Option<Arc<Live>>>,
    /// Whether any connection was made yet: every later one is a reconnect, whether the
    /// last one was found dead, retired after a failed publish, or a connect failed between.
    connected_once: AtomicBool,
    on_reconnect: Box<dyn Fn() + Send + Sync>,
}

impl Publisher {
    /// Does not connect yet: the first publish (or [`Publisher::ready`]) does.
    pub fn new(url: &str, name: &str, topology: Topology, timeout: Duration) -> Self {
        Publisher {
            url: url.to_owned(),
            name: name.to_owned(),
            topology,
            timeout,
            window: usize::MAX,
            live: Mutex::new(None),
            connected_once: AtomicBool::new(false),
            on_reconnect: Box::new(|| {}),
        }
    }

    /// Called on every new connection after the first (a metric counts them).
    pub fn with_reconnect_hook(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_reconnect = Box::new(hook);
        self
    }

    /// `publish_all` sends `window` messages, waits for their confirms, then sends the
    /// next ones (without it, all at once). RabbitMQ takes a burst of messages whole
    /// before it serves another connection's: a quiet publisher's message waits about
    /// 65 µs for each message of a burst sent beside it on this machine (the bench's
    /// `broker-floor`).
    pub fn with_window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Connects if needed; `Ok` when a confirmed publish could be made now.
    pub async fn ready(&self) -> Result<(), BrokerError> {
        self.channel().await.map(|_| ())
    }

    async fn channel(&self) -> Result<Arc<Live>, BrokerError> {
        let mut guard = self.live.lock().await;
        if let Some(live) = guard.as_ref() {
            if live.conn.status().connected() && live.channel.status().connected() {
                return Ok(live.clone());
            }
        }
        guard.take();
        let conn = crate::connect(&self.url, &self.name, self.timeout).await?;
        let channel = conn.create_channel().await?;
        self.topology.declare(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        if self.connected_once.swap(true, Ordering::Relaxed) {
            (self.on_reconnect)();
        }
        let live = Arc::new(Live { conn, channel });
        *guard = Some(live.clone());
        Ok(live)
    }

    async fn forget(&self, broken: &Arc<Live>) {
        let mut guard = self.live.lock().await;
        if guard.as_ref().is_some_and(|l| Arc::ptr_eq(l, broken)) {
            *guard = None;
            // Publishes still in flight on it get their confirms (or time out) first.
            let (old, grace) = (broken.clone(), self.timeout);
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                crate::close(&old.conn, "replaced").await;
            });
        }
    }

    /// Publishes one persistent message and waits for its confirm.
    pub async fn publish(&self, msg: &Outgoing<'_>) -> Result<(), BrokerError> {
        self.publish_all(std::slice::from_ref(msg)).await
    }

    /// Publishes every message, a window at a time ([`Publisher::with_window`]), each
    /// window's confirms awaited before the next goes: `Ok` only if RabbitMQ confirmed
    /// each one. The timeout applies to each window, so that a big batch is not cut off
    /// for its size; a failed window retires the connection, and what went before it
    /// stays published (event ids make a retried request's duplicates harmless).
    pub async fn publish_all(&self, msgs: &[Outgoing<'_>]) -> Result<(), BrokerError> {
        let live = self.channel().await?;
        for window in msgs.chunks(self.window) {
            let result =
                tokio::time::timeout(self.timeout, Self::send(&live.channel, window)).await;
            let result = result.unwrap_or(Err(BrokerError::Timeout(self.timeout)));
            if result.is_err() {
                self.forget(&live).await;
                return result;
            }
        }
        Ok(())
    }

    async fn send(channel: &Channel, msgs: &[Outgoing<'_>]) -> Result<(), BrokerError> {
        let mut confirms = Vec::with_capacity(msgs.len());
        for m in msgs {
            let confirm = channel
                .basic_publish(
                    m.exchange.into(),
                    m.routing_key.into(),
                    // Mandatory: a message no queue takes comes back, and is an error
                    // rather than a silent loss.
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    m.body,
                    properties(m),
                )
                .await?;
            confirms.push(confirm);
        }
        for confirmation in try_join_all(confirms).await? {
            match confirmation {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(_)) => return Err(BrokerError::Nacked("unroutable".into())),
                Confirmation::Nack(_) => return Err(BrokerError::Nacked("nack".into())),
                Confirmation::NotRequested => {
                    return Err(BrokerError::Nacked("confirms are off".into()))
                }
            }
        }
        Ok(())
    }

    /// Closes the connection (shutdown).
    pub async fn close(&self) {
        if let Some(live) = self.live.lock().await.take() {
            crate::close(&live.conn, "bye").await;
        }
    }
}

fn properties(m: &Outgoing<'_>) -> BasicProperties {
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into());
    if let Some(id) = m.message_id {
        props = props.with_message_id(id.into());
    }
    if !m.headers.is_empty() {
        let mut table = FieldTable::default();
        for (k, v) in m.headers {
            table.insert((*k).into(), AMQPValue::LongString(v.as_str().into()));
        }
        props = props.with_headers(table);
    }
    props
}
