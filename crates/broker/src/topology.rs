//! Names and declarations of everything hookpost keeps in RabbitMQ.
//!
//! ```text
//! {prefix}.events (topic) --#--> {prefix}.events.q ─┐
//!            (default exchange) --> {prefix}.deliveries ─┤ worker
//! rejected / poison ----------> {prefix}.dead (fanout) --> {prefix}.dead
//! ```

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

#[derive(Debug, Clone)]
pub struct Topology {
    /// Producers publish events here, routing key = event type.
    pub exchange: String,
    /// Every event, for the workers.
    pub events_queue: String,
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
            events_queue: format!("{prefix}.events.q"),
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

    /// The queues workers consume.
    pub fn work_queues(&self) -> [&str; 2] {
        [&self.events_queue, &self.deliveries_queue]
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
        ch.queue_declare(
            self.dead_queue.as_str().into(),
            durable,
            FieldTable::default(),
        )
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
        ch.queue_bind(
            self.events_queue.as_str().into(),
            self.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        Ok(())
    }

    /// Deletes everything declared (tests and `hookpost` teardown of a prefix).
    pub async fn delete(&self, ch: &Channel) -> lapin::Result<()> {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        for queue in [&self.events_queue, &self.deliveries_queue, &self.dead_queue] {
            ch.queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in [&self.exchange, &self.dead_exchange] {
            ch.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}
