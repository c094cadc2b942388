//! hookpost's delivery worker: consume → fan out → sign → POST → record → ack.
//!
//! The coordinator ([`Worker`]) wires parts that own their state; parts depend on lower
//! parts, never on the coordinator.
//!
//! Coordinator:
//! - [`consumer`]: the connection loop and the role's task set: consume, reconnect,
//!   settle each message, shut down.
//! - [`process`]: one message to one [`disposition::Disposition`].
//! - [`fan_out`]: an event's first attempts; the early ack when some are slow.
//! - [`attempt`]: one delivery's attempt: turn, gate, attempter; or why it waits.
//! - [`record`]: the write-then-ack order, [`Worker::make_durable`].
//! - [`drain`]: a slow hook's backlog worked through.
//!
//! Parts:
//! - [`gate`]: whether an attempt may go now (slots, `max_in_flight`, `rate_limit`),
//!   over [`limits`]: in-flight requests per hook in this worker.
//! - [`attempter`]: one signed POST and what follows from its answer (its `verdict`).
//! - [`backlog`]: pushes into slow hooks' backlogs, through [`backlog_writer`].
//! - [`ordered`]: ordered hooks: whose turn it is per ordering key; the hand-overs.
//! - [`leases`]: the events being processed, their leases renewed while it works.
//! - [`removals`]: delivered events' states, removed in bulk off the delivery's path.
//! - [`fairness`]: each tenant's share of the worker; a tenant over it is moved aside.
//!   [`boost`]: the overflow queue's second consumer, while one tenant is alone.
//! - [`settle`]: acks (for a [`hookpost_store::Durable`] only) and requeues, batched.
//!
//! What a delivery is (the prepared hook and the hooks cache, who takes an event, the
//! egress policy, the HTTP sender, the retry verdict) is in `hookpost_delivery`, shared
//! with ingest.
//!
//! Values: [`context`] (an attempt's event, delivery and hook), [`decided`] (one
//! delivery's outcome), [`disposition`] (a message's; typed requeue reasons),
//! [`persist`] (a durable write tried again over a short outage).
#![forbid(unsafe_code)]

pub mod attempt;
pub mod attempter;
pub mod backlog;
pub mod backlog_writer;
mod boost;
pub mod consumer;
pub(crate) mod context;
pub(crate) mod decided;
pub mod disposition;
pub mod drain;
pub mod fairness;
pub mod fan_out;
pub mod gate;
pub mod leases;
pub mod limits;
pub mod ordered;
pub(crate) mod persist;
pub mod process;
pub mod record;
pub mod removals;
pub mod settle;

use std::sync::Arc;

use hookpost_broker::{Publisher, Topology};
use hookpost_core::labels::Role;
use hookpost_core::Config;
use hookpost_db::Db;
use hookpost_delivery::hooks_cache::HooksCache;
use hookpost_delivery::Sender;
use hookpost_ops::{Metrics, RoleChecks};
use hookpost_store::Store;

pub use consumer::{run, WorkerError};

/// The coordinator: everything one worker process shares between its in-flight
/// messages, as parts.
pub struct Worker {
    config: Config,
    store: Store,
    /// PostgreSQL: the log's truth, written before each ack.
    db: Db,
    /// Each tenant's event types, for events published straight to the exchange.
    types: hookpost_db::event_types::KnownTypes,
    topology: Topology,
    /// For dead letters and moves to the overflow queue (and the turns' hand-overs).
    publisher: Arc<Publisher>,
    hooks: HooksCache,
    gate: gate::Gate,
    attempter: attempter::Attempter,
    backlogs: backlog::Backlogs,
    turns: ordered::Turns,
    leases: leases::Leases,
    fairness: fairness::Fairness,
    metrics: Arc<Metrics>,
    /// `worker.broker`, `worker.redis`, `worker.keyspace` (`worker2.…` for a second lane).
    checks: RoleChecks,
    /// Counts this role's broker reconnects (the consumer's; the publisher has its own hook).
    count_reconnect: Box<dyn Fn() + Send + Sync>,
}

impl Worker {
    /// A worker sending with `sender` (its process's HTTP client, or its lane's) and
    /// reporting its readiness through `checks` (its lane's: [`RoleChecks::of_lane`]).
    pub fn new(
        config: Config,
        store: Store,
        db: Db,
        sender: Sender,
        metrics: Arc<Metrics>,
        checks: RoleChecks,
    ) -> Arc<Worker> {
        let topology = Topology::for_config(&config);
        let publisher = Arc::new(
            Publisher::new(
                &config.amqp_url,
                "hookpost-worker-dlq",
                topology.clone(),
                config.connect_timeout,
            )
            .with_reconnect_hook(metrics.reconnect_counter(Role::Worker)),
        );
        Arc::new(Worker {
            gate: gate::Gate::new(config.clone(), store.clone()),
            attempter: attempter::Attempter::new(config.clone(), sender, metrics.clone()),
            backlogs: backlog::Backlogs::new(store.clone(), metrics.clone()),
            turns: ordered::Turns::new(
                store.clone(),
                config.clone(),
                metrics.clone(),
                publisher.clone(),
                topology.clone(),
            ),
            leases: leases::Leases::default(),
            fairness: fairness::Fairness::new(
                config.fairness,
                usize::from(config.prefetch) * topology.events_queues.len(),
            ),
            hooks: HooksCache::default(),
            topology,
            publisher,
            store,
            types: hookpost_db::event_types::KnownTypes::new(db.clone(), &config),
            db,
            checks,
            count_reconnect: Box::new(metrics.reconnect_counter(Role::Worker)),
            metrics,
            config,
        })
    }
}
