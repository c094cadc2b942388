//! hookpost's delivery worker: consume → fan out → sign → POST → record → ack.
//!
//! - [`consumer`]: the connection loop: consume both queues, reconnect, shut down.
//! - [`process`]: one message to one [`process::Disposition`]; the write-then-ack order.
//!
//! What a delivery is (the prepared hook, who takes an event, the egress policy, the
//! HTTP sender, the retry verdict) is in `hookpost_delivery`, shared with ingest.
//!
//! - [`backlog`]: a slow hook's deliveries wait in its backlog; its drain.
//! - [`gate`]: whether an attempt may go now (slots, `max_in_flight`, `rate_limit`).
//! - [`limits`]: in-flight requests per hook in this worker.
//! - [`ordered`]: ordered hooks: whose turn it is per ordering key.
//! - [`leases`]: the events being processed, their leases renewed while it works.
//! - [`fairness`]: each tenant's share of the worker; a tenant over it is moved aside.
#![forbid(unsafe_code)]

pub mod backlog;
pub mod consumer;
pub mod fairness;
pub mod gate;
pub mod leases;
pub mod limits;
pub mod ordered;
pub mod process;
pub mod settle;

use std::sync::Arc;

use hookpost_broker::{Publisher, Topology};
use hookpost_core::Config;
use hookpost_delivery::hooks_cache::HooksCache;
use hookpost_delivery::Sender;
use hookpost_ops::{Metrics, Readiness};
use hookpost_store::Store;
use tokio::sync::Semaphore;

pub use consumer::run;

/// Everything one worker process shares between its in-flight messages.
pub struct Worker {
    config: Config,
    store: Store,
    topology: Topology,
    /// For dead letters, and for ordered deliveries whose turn has come.
    publisher: Publisher,
    sender: Sender,
    hooks: HooksCache,
    limits: limits::HookLimits,
    leases: leases::Leases,
    hand_overs: ordered::HandOvers,
    armed: backlog::ArmedBacklogs,
    writer: backlog::BacklogWriter,
    in_flight: Semaphore,
    fairness: fairness::Fairness,
    metrics: Arc<Metrics>,
    readiness: Readiness,
}

impl Worker {
    /// A worker sending with `sender`, the process's one HTTP client.
    pub fn new(
        config: Config,
        store: Store,
        sender: Sender,
        metrics: Arc<Metrics>,
        readiness: Readiness,
    ) -> Arc<Worker> {
        // Not ready until the loop has reported each.
        readiness.expect(&["worker.redis", "worker.keyspace", "worker.broker"]);
        let topology = Topology::for_config(&config);
        let reconnects = metrics.amqp_reconnects.with_label_values(&["worker"]);
        let publisher = Publisher::new(
            &config.amqp_url,
            "hookpost-worker-dlq",
            topology.clone(),
            config.connect_timeout,
        )
        .with_reconnect_hook(move || reconnects.inc());
        Arc::new(Worker {
            sender,
            limits: limits::HookLimits::default(),
            leases: leases::Leases::default(),
            hand_overs: ordered::HandOvers::default(),
            armed: backlog::ArmedBacklogs::default(),
            writer: backlog::BacklogWriter::default(),
            in_flight: Semaphore::new(config.concurrency),
            fairness: fairness::Fairness::new(
                config.fairness,
                usize::from(config.prefetch) * topology.events_queues.len(),
            ),
            hooks: HooksCache::default(),
            topology,
            publisher,
            store,
            metrics,
            readiness,
            config,
        })
    }
}
