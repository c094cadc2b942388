//! Names and declarations of everything hookpost keeps in RabbitMQ.
//!
//! ```text
//! {prefix}.events (topic) --#--> {prefix}.events.q ─┐
//!            (default exchange) --> {prefix}.events.light ─┤
//!            (default exchange) --> {prefix}.events.overflow ─┤ worker
//!            (default exchange) --> {prefix}.deliveries ─┤
//! rejected / poison ----------> {prefix}.dead (fanout) --> {prefix}.dead
//! ```
//!
//! Ingest publishes a tenant's API events beyond its fair lane straight to the overflow
//! queue, and those of a light tenant (a trickle, see ingest's `lanes`) straight to the
//! light queue; workers move to the overflow queue the events of a tenant over its share
//! of the worker.
//! The exchange itself cannot route by tenant (RabbitMQ routes on the routing key and
//! headers, not on a field of the body), so events published to it by producers all
//! land in the event queues first.
//!
//! With `HOOKPOST_QUEUE_SHARDS=N` (N > 1), events are spread over N queues by a hash of
//! their `message_id` (the event id) in RabbitMQ's consistent-hash exchange (plugin
//! `rabbitmq_consistent_hash_exchange`, shipped with RabbitMQ), and every worker
//! consumes all of them:
//!
//! ```text
//! {prefix}.events (topic) --#--> {prefix}.events.hash (x-consistent-hash)
//!     --> {prefix}.events.q, {prefix}.events.q.1 … {prefix}.events.q.{N-1}
//! ```
//!
//! Ordered hooks keep their order across shards: a delivery's place in its key's line
//! is fixed in Redis when the event is accepted, not by the queue it travels in.
//!
//! When N is lowered, the shards above it are left over: workers (which record the most
//! shards the prefix has had in Redis) take them off the hash exchange and keep
//! consuming them ([`Topology::leftover_shards`]), so that no event stays behind in a
//! queue nobody reads.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

#[derive(Debug, Clone)]
pub struct Topology {
    /// Producers publish events here, routing key = event type.
    pub exchange: String,
    /// Every event, for the workers: one queue, or the shards (the first keeps the
    /// unsharded queue's name).
    pub events_queues: Vec<String>,
    /// Spreads events over the shards (declared only when there are several).
    pub hash_exchange: String,
    /// The API events of light tenants, published here by ingest so that they wait
    /// behind no heavy tenant's; consumed by every worker with the whole prefetch.
    pub light_queue: String,
    /// Events of a tenant beyond its fair lane, published here by ingest, and events a
    /// worker moved out of the event queues because their tenant held more than its
    /// share of the worker while others had events too (see the worker's `fairness`);
    /// consumed by every worker with a smaller prefetch.
    pub overflow_queue: String,
    /// hookpost's own tasks: retries, deferred and resent deliveries.
    pub deliveries_queue: String,
    /// Where malformed messages go, with their reason.
    pub dead_exchange: String,
    pub dead_queue: String,
    /// Declare quorum queues (replicated across a RabbitMQ cluster) instead of classic ones.
    pub quorum: bool,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Topology {
            exchange: format!("{prefix}.events"),
            events_queues: vec![format!("{prefix}.events.q")],
            hash_exchange: format!("{prefix}.events.hash"),
            light_queue: format!("{prefix}.events.light"),
            overflow_queue: format!("{prefix}.events.overflow"),
            deliveries_queue: format!("{prefix}.deliveries"),
            dead_exchange: format!("{prefix}.dead"),
            dead_queue: format!("{prefix}.dead"),
            quorum: false,
        }
    }

    /// The topology a deployment's configuration names.
    pub fn for_config(config: &hookpost_core::Config) -> Self {
        Topology {
            quorum: config.quorum_queues,
            ..Topology::new(&config.prefix)
        }
        .sharded(config.queue_shards)
    }

    /// Spreads events over `shards` queues.
    pub fn sharded(mut self, shards: u32) -> Self {
        let first = self.events_queues[0].clone();
        self.events_queues = std::iter::once(first.clone())
            .chain((1..shards.max(1)).map(|i| format!("{first}.{i}")))
            .collect();
        self
    }

    fn is_sharded(&self) -> bool {
        self.events_queues.len() > 1
    }

    /// Arguments every queue is declared with.
    fn queue_args(&self) -> FieldTable {
        let mut args = FieldTable::default();
        if self.quorum {
            args.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        args
    }

    /// The queues workers consume: the event queues, the light and overflow queues, then
    /// the deliveries queue.
    pub fn work_queues(&self) -> impl Iterator<Item = &str> {
        self.events_queues
            .iter()
            .chain([
                &self.light_queue,
                &self.overflow_queue,
                &self.deliveries_queue,
            ])
            .map(String::as_str)
    }

    /// Declares everything (idempotent: every role does it at start and after a reconnect).
    pub async fn declare(&self, ch: &Channel) -> lapin::Result<()> {
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.exchange_declare(
            self.exchange.as_str().into(),
            ExchangeKind::Topic,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
        ch.exchange_declare(
            self.dead_exchange.as_str().into(),
            ExchangeKind::Fanout,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        ch.queue_declare(self.dead_queue.as_str().into(), durable, self.queue_args())
            .await?;
        ch.queue_bind(
            self.dead_queue.as_str().into(),
            self.dead_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        // A message rejected without requeue (by RabbitMQ's own limits) is dead-lettered,
        // never dropped.
        let mut args = self.queue_args();
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.dead_exchange.as_str().into()),
        );
        for queue in self.work_queues() {
            ch.queue_declare(queue.into(), durable, args.clone())
                .await?;
        }
        if self.is_sharded() {
            self.declare_shards(ch).await
        } else {
            // Gone when shards are turned off again (deleting one that is not there is
            // fine), so that the first queue does not get each event twice.
            ch.exchange_delete(self.hash_exchange.as_str().into(), Default::default())
                .await?;
            self.bind_events(ch, &self.events_queues[0], &self.exchange, "#")
                .await
        }
    }

    async fn declare_shards(&self, ch: &Channel) -> lapin::Result<()> {
        use lapin::options::ExchangeBindOptions;
        let mut args = FieldTable::default();
        // Producers that set no message_id all land in one shard: nothing is lost.
        args.insert(
            "hash-property".into(),
            AMQPValue::LongString("message_id".into()),
        );
        ch.exchange_declare(
            self.hash_exchange.as_str().into(),
            ExchangeKind::Custom("x-consistent-hash".into()),
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
        ch.exchange_bind(
            self.hash_exchange.as_str().into(),
            self.exchange.as_str().into(),
            "#".into(),
            ExchangeBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        // The unsharded binding would give the first shard a copy of every event.
        ch.queue_unbind(
            self.events_queues[0].as_str().into(),
            self.exchange.as_str().into(),
            "#".into(),
            FieldTable::default(),
        )
        .await?;
        for queue in &self.events_queues {
            // The binding key is the queue's weight on the hash ring.
            self.bind_events(ch, queue, &self.hash_exchange, "1")
                .await?;
        }
        Ok(())
    }

    /// The shard queues between this topology's count and `seen`, the most the prefix
    /// has had (a larger `HOOKPOST_QUEUE_SHARDS` before): unbound from the hash exchange
    /// so that no new event goes there, to be consumed until they are empty. One an
    /// operator deleted already is skipped.
    pub async fn leftover_shards(
        &self,
        conn: &lapin::Connection,
        seen: u32,
    ) -> lapin::Result<Vec<String>> {
        let first = &self.events_queues[0];
        let mut found = Vec::new();
        for i in self.events_queues.len()..seen as usize {
            let queue = format!("{first}.{i}");
            let Some(ch) = existing_queue(conn, &queue).await? else {
                continue;
            };
            if self.is_sharded() {
                ch.queue_unbind(
                    queue.as_str().into(),
                    self.hash_exchange.as_str().into(),
                    "1".into(),
                    FieldTable::default(),
                )
                .await?;
            }
            let _ = ch.close(200, "probed".into()).await;
            found.push(queue);
        }
        Ok(found)
    }

    async fn bind_events(
        &self,
        ch: &Channel,
        queue: &str,
        exchange: &str,
        key: &str,
    ) -> lapin::Result<()> {
        ch.queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
    }

    /// Deletes everything declared (tests' and the bench's clean-ups), on a connection
    /// of its own named `name`. Bounded by [`crate::CLOSE_WAIT`], as the close is: lapin
    /// may drop the socket under a request and leave it waiting for good.
    pub async fn tear_down(&self, urls: &str, name: &str) -> Result<(), crate::BrokerError> {
        let conn = crate::connect(urls, name, crate::CLOSE_WAIT).await?;
        let delete = async { self.delete(&conn.create_channel().await?).await };
        let deleted = tokio::time::timeout(crate::CLOSE_WAIT, delete).await;
        crate::close(&conn, "done").await;
        match deleted {
            Ok(deleted) => Ok(deleted?),
            Err(_) => Err(crate::BrokerError::Timeout(crate::CLOSE_WAIT)),
        }
    }

    async fn delete(&self, ch: &Channel) -> lapin::Result<()> {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        for queue in self.work_queues().chain([self.dead_queue.as_str()]) {
            ch.queue_delete(queue.into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in [&self.exchange, &self.hash_exchange, &self.dead_exchange] {
            ch.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

/// A channel on which `queue` was found (a passive declare of a missing queue closes its
/// channel, so each probe takes one), or `None` when it does not exist.
async fn existing_queue(conn: &lapin::Connection, queue: &str) -> lapin::Result<Option<Channel>> {
    let ch = conn.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let found = ch
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await;
    Ok(found.is_ok().then_some(ch))
}

#[cfg(test)]
mod tests {
    use super::Topology;

    #[test]
    fn the_first_shard_keeps_the_unsharded_queues_name() {
        let one = Topology::new("p");
        assert_eq!(
            one.work_queues().collect::<Vec<_>>(),
            [
                "p.events.q",
                "p.events.light",
                "p.events.overflow",
                "p.deliveries"
            ]
        );
        let three = Topology::new("p").sharded(3);
        assert_eq!(
            three.work_queues().collect::<Vec<_>>(),
            [
                "p.events.q",
                "p.events.q.1",
                "p.events.q.2",
                "p.events.light",
                "p.events.overflow",
                "p.deliveries"
            ]
        );
        assert_eq!(Topology::new("p").sharded(0).events_queues, ["p.events.q"]);
    }
}
