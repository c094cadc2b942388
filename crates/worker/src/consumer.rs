//! The worker's connection loop.
//!
//! Consumes the event queues (one, or every shard) and the deliveries queue with manual
//! acks and a bounded prefetch, one channel each; each message is handled in its own
//! task, and settled through its channel's [`Settler`], which batches the acks. When the
//! connection or the keyspace is lost, it stops, lets RabbitMQ requeue what was not
//! acked, and starts again. On cancel it stops consuming, gives in-flight messages the
//! shutdown grace, sends the last acks, then closes the connection so RabbitMQ
//! redelivers whatever did not finish.

use hookpost_ops::{telemetry, KEYSPACE_MISSING};
use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::future::Future;

use futures_util::StreamExt;
use hookpost_broker::BrokerError;
use hookpost_core::labels::Role;
use hookpost_store::{Durable, NothingToWrite, StoreError};
use lapin::message::Delivery;
use lapin::options::BasicCancelOptions;
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn, Instrument};

use crate::boost::Boost;
use crate::disposition::{chain, Disposition, EarlyAck, Requeue};
use crate::settle::{Settlement, Settler};
use crate::Worker;

/// How often the overflow queue's second consumer is started or stopped as the
/// worker's tenants come and go.
const STEER_EVERY: Duration = Duration::from_millis(100);

/// How one session with the broker ended.
enum End {
    Cancelled,
    BrokerLost(String),
    KeyspaceMissing,
}

/// Why a session with the broker could not start.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("RabbitMQ")]
    Broker(#[from] BrokerError),
    #[error("RabbitMQ")]
    Amqp(#[from] lapin::Error),
    #[error("Redis")]
    Store(#[from] StoreError),
}

/// Why the worker role stopped before it was cancelled.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the worker's {task} panicked")]
    Panicked {
        task: &'static str,
        #[source]
        source: JoinError,
    },
    #[error("the worker's {task} ended on its own")]
    Ended { task: &'static str },
}

/// Runs the worker until `cancel` fires. Its background loops (lease renewals,
/// hand-overs, state removals, the backlog writer) run in one task set: one that panics
/// or ends takes the role down, and the error says which.
pub async fn run(worker: Arc<Worker>, cancel: CancellationToken) -> Result<(), WorkerError> {
    let stopping = CancellationToken::new();
    let mut tasks = Tasks::default();
    let (w, s) = (worker.clone(), stopping.clone());
    tasks.spawn("lease renewals", async move {
        w.leases.keep_alive(&w.store, &s).await
    });
    let (w, s) = (worker.clone(), stopping.clone());
    tasks.spawn("hand-overs", async move { w.turns.hand_over(&s).await });
    let (w, s) = (worker.clone(), stopping.clone());
    tasks.spawn("state removals", async move {
        crate::removals::send(&w.store, &s).await
    });
    if let Some(writer) = worker.backlogs.writer_loop() {
        let (store, s) = (worker.store.clone(), stopping.clone());
        tasks.spawn("backlog writer", async move {
            tokio::select! {
                _ = s.cancelled() => {}
                _ = writer.run(store) => {}
            }
        });
    }
    let outcome = tokio::select! {
        _ = connect(&worker, &cancel) => Ok(()),
        failure = tasks.failure() => {
            error!(error = %chain(&failure), "the worker is stopping");
            Err(failure)
        }
    };
    stopping.cancel();
    while tasks.set.join_next().await.is_some() {}
    worker.publisher.close().await;
    info!("worker stopped");
    outcome
}

/// The role's background loops, each with its name.
#[derive(Default)]
struct Tasks {
    set: JoinSet<()>,
    names: HashMap<tokio::task::Id, &'static str>,
}

impl Tasks {
    fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        self.names.insert(self.set.spawn(task).id(), name);
    }

    /// The first loop to end: none may before the role is cancelled.
    async fn failure(&mut self) -> WorkerError {
        let name = |id| self.names.get(&id).copied().unwrap_or("background task");
        match self.set.join_next_with_id().await {
            Some(Ok((id, ()))) => WorkerError::Ended { task: name(id) },
            Some(Err(source)) => WorkerError::Panicked {
                task: name(source.id()),
                source,
            },
            None => std::future::pending().await,
        }
    }
}

/// Connects, consumes, and connects again after a loss, until `cancel` fires.
async fn connect(worker: &Arc<Worker>, cancel: &CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    let mut first = true;
    loop {
        if !wait_for_keyspace(worker, cancel).await {
            break;
        }
        let ended = session(worker, cancel, &mut first).await;
        match ended.map_err(|e| chain(&e)) {
            Ok(End::Cancelled) => break,
            Ok(End::KeyspaceMissing) => continue,
            Ok(End::BrokerLost(why)) | Err(why) => {
                worker.checks.broker(Err(&why));
                warn!(error = %why, "lost RabbitMQ; reconnecting");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Waits until Redis holds hookpost's keyspace marker; `false` if cancelled first.
async fn wait_for_keyspace(worker: &Worker, cancel: &CancellationToken) -> bool {
    let mut warned = false;
    loop {
        match worker.checks.keyspace(worker.store.marker_present().await) {
            Some(true) => return true,
            Some(false) if !warned => {
                // Not consuming, so that no event is taken as having no subscribers.
                error!("{KEYSPACE_MISSING}; not consuming until then");
                warned = true;
            }
            _ => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return false,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn session(
    worker: &Arc<Worker>,
    cancel: &CancellationToken,
    first: &mut bool,
) -> Result<End, SessionError> {
    let cfg = &worker.config;
    let conn =
        hookpost_broker::connect(&cfg.amqp_url, "hookpost-worker", cfg.connect_timeout).await?;
    if !*first {
        (worker.count_reconnect)();
    }
    *first = false;
    let setup = conn.create_channel().await?;
    worker.topology.declare(&setup).await?;
    let seen = worker
        .store
        .queue_shards_seen(worker.topology.events_queues.len() as u32)
        .await?;
    let leftovers = worker.topology.leftover_shards(&conn, seen).await?;
    if !leftovers.is_empty() {
        warn!(queues = ?leftovers, "consuming shard queues above HOOKPOST_QUEUE_SHARDS until they are empty");
    }
    let queues: Vec<&str> = worker
        .topology
        .work_queues()
        .chain(leftovers.iter().map(String::as_str))
        .collect();
    let mut channels = Vec::new();
    let mut streams = Vec::new();
    let mut settling = Vec::new();
    // The overflow queue's second consumer, while this worker serves one tenant alone,
    // with the overflow's source and a settler of its own (acks go on its channel).
    let mut boost = None;
    for queue in queues.iter().copied() {
        let overflow = queue == worker.topology.overflow_queue;
        // The overflow queue holds the events of tenants over their share: a smaller
        // prefetch keeps room for the others' while it still goes on (a second consumer
        // takes the rest while one tenant is alone). The light queue's (a trickle each)
        // take the whole prefetch, as the event queues do.
        let prefetch = match overflow {
            true => crate::boost::narrow(cfg.prefetch),
            false => cfg.prefetch,
        };
        let (ch, consumer) = hookpost_broker::consume::open(&conn, queue, queue, prefetch).await?;
        channels.push((ch, queue));
        let (settler, settled) = Settler::start();
        settling.push(settled);
        let source = Source {
            queue: Arc::from(queue),
            is_event: queue != worker.topology.deliveries_queue,
            aside: overflow || queue == worker.topology.light_queue,
            settler,
        };
        if overflow {
            let running = worker.metrics.overflow_whole_prefetch.clone();
            if let Some(b) = Boost::open(&conn, queue, cfg.prefetch, running).await? {
                let (settler, settled) = Settler::start();
                settling.push(settled);
                boost = Some((
                    b,
                    Source {
                        settler,
                        ..source.clone()
                    },
                ));
            }
        }
        // A consumer's end is an item too: the broker cancelled it, so start again.
        let ended = futures_util::stream::once(std::future::ready(None));
        streams.push(source.messages(consumer).chain(ended).boxed());
    }
    let mut steer = tokio::time::interval(STEER_EVERY);
    // Ticks missed while a handler was being spawned are not made up in a burst.
    steer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut messages = futures_util::stream::select_all(streams);
    // Added and taken back, not set: a process's lanes share the gauge.
    worker.metrics.consumers_active.add(channels.len() as i64);
    worker.checks.broker(Ok::<_, String>(()));
    info!(?queues, "consuming");

    let tracker = TaskTracker::new();
    // Stops in-flight handlers that outlive the shutdown grace; their messages are redelivered.
    let abandon = CancellationToken::new();
    let keyspace_lost = CancellationToken::new();
    let end = loop {
        tokio::select! {
            _ = cancel.cancelled() => break End::Cancelled,
            _ = keyspace_lost.cancelled() => break End::KeyspaceMissing,
            next = messages.next() => match next.flatten() {
                Some((source, Ok(delivery))) => {
                    source.settler.received(delivery.delivery_tag);
                    let (w, abandon, lost) = (worker.clone(), abandon.clone(), keyspace_lost.clone());
                    // Boxed: the handler's state is about 10 KB, which the task would
                    // otherwise copy as it is spawned and again as it ends.
                    tracker.spawn(Box::pin(async move {
                        tokio::select! {
                            _ = abandon.cancelled() => {}
                            _ = handle(&w, &source, delivery, &lost) => {}
                        }
                    }));
                }
                Some((_, Err(e))) => break End::BrokerLost(e.to_string()),
                None => break End::BrokerLost("the broker cancelled a consumer".into()),
            },
            _ = steer.tick(), if boost.is_some() => {
                let (b, source) = boost.as_mut().expect("checked");
                match b.steer(!worker.fairness.crowded()).await {
                    // No end sentinel: its end is its cancel's, asked for here.
                    Ok(Some(consumer)) => messages.push(source.clone().messages(consumer).boxed()),
                    Ok(None) => {}
                    Err(e) => break End::BrokerLost(e.to_string()),
                }
            }
        }
    };
    worker.metrics.consumers_active.sub(channels.len() as i64);
    drop(messages); // the consumers' handles on the settlers: handlers hold the rest
    for (ch, tag) in &channels {
        let _ = ch
            .basic_cancel((*tag).into(), BasicCancelOptions::default())
            .await;
    }
    if let Some((mut boost, _source)) = boost.take() {
        let _ = boost.stop().await;
    }
    tracker.close();
    if let End::BrokerLost(_) = end {
        // Their acks cannot reach RabbitMQ any more, but their outcomes can still be
        // stored: let them finish while we reconnect, so that the redelivered copies
        // find their events done (or leased, then done) instead of sending them again.
        tokio::spawn(async move {
            tracker.wait().await;
            drop(abandon);
        });
        return Ok(end);
    }
    let grace = match end {
        End::Cancelled => cfg.shutdown_grace,
        _ => Duration::ZERO,
    };
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        warn!(grace = ?grace, "in-flight messages did not finish in time; they will be redelivered");
    }
    abandon.cancel();
    tracker.wait().await;
    // The last acks go out before the connection closes.
    for settled in settling {
        if let Err(e) = settled.await {
            error!(error = %e, "a settler stopped before its last acks");
        }
    }
    hookpost_broker::close(&conn, "worker stopping").await;
    Ok(end)
}

/// The queue a message came from.
#[derive(Clone)]
struct Source {
    queue: Arc<str>,
    /// An event queue's (or a shard's, or the light or overflow queue's), not the deliveries
    /// queue's.
    is_event: bool,
    /// The overflow or light queue's: events the worker's fair shares never move.
    aside: bool,
    /// Acks for the queue's channel.
    settler: Settler,
}

impl Source {
    /// `consumer`'s messages, each with this source (`None` is kept for a consumer's end).
    fn messages(
        self,
        consumer: lapin::Consumer,
    ) -> impl futures_util::Stream<Item = Option<(Source, lapin::Result<Delivery>)>> {
        consumer.map(move |m| Some((self.clone(), m)))
    }
}

/// Handles one message and settles it with RabbitMQ.
async fn handle(
    worker: &Worker,
    source: &Source,
    delivery: Delivery,
    keyspace_lost: &CancellationToken,
) {
    let is_event = source.is_event;
    tracing::debug!(
        is_event,
        bytes = delivery.data.len(),
        redelivered = delivery.redelivered,
        "message"
    );
    let tag = delivery.delivery_tag;
    let acker = std::sync::Mutex::new(Some(delivery.acker));
    let settle = |settlement: Settlement| {
        if let Some(acker) = acker.lock().expect("not poisoned").take() {
            source.settler.settle(tag, acker, settlement);
        }
    };
    let ack_now = |durable: Durable| settle(Settlement::Ack(durable));
    let disposition = if is_event {
        let early = EarlyAck::new(&ack_now);
        // The event's span joins the trace the producer (or ingest) sent along.
        let span = tracing::info_span!("worker.event");
        let traceparent = header(&delivery.properties, telemetry::TRACEPARENT)
            .filter(|t| telemetry::continue_trace(&span, t));
        worker
            .handle_event(
                &delivery.data,
                delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.as_str()),
                traceparent,
                source.aside,
                &early,
            )
            .instrument(span)
            .await
    } else {
        // Boxed: a task's state is larger than an event's, and would set the size every
        // message's handler is allocated with.
        Box::pin(worker.handle_task(&delivery.data)).await
    };
    tracing::debug!(?disposition, "handled");
    let settlement = match disposition {
        // Acked early, once the outcomes it carried were durable.
        Disposition::AckedEarly(_) => return,
        Disposition::Ack(durable) => Settlement::Ack(durable),
        Disposition::DeadLetter(reason, message) => {
            match dead_letter(worker, &delivery.data, reason, &message, &source.queue).await {
                Ok(durable) => Settlement::Ack(durable),
                Err(e) => requeue(worker, Requeue::DeadLetter(e)).await,
            }
        }
        Disposition::Requeue(why) => requeue(worker, why).await,
        Disposition::KeyspaceMissing => {
            keyspace_lost.cancel();
            Settlement::Requeue
        }
    };
    settle(settlement);
}

/// A text header of a message, if it has one.
fn header<'a>(properties: &'a lapin::BasicProperties, name: &str) -> Option<&'a str> {
    properties
        .headers()
        .as_ref()?
        .inner()
        .get(name)
        .and_then(|v| match v {
            lapin::types::AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
            lapin::types::AMQPValue::ShortString(s) => Some(s.as_str()),
            _ => None,
        })
}

/// Counts and logs a requeue by what failed, then pauses, so that an outage does not
/// become a hot requeue loop.
async fn requeue(worker: &Worker, why: Requeue) -> Settlement {
    why.errors(&worker.metrics)
        .with_label_values(&[Role::Worker.as_str()])
        .inc();
    warn!(error = %chain(&why), "requeueing a message");
    tokio::time::sleep(Duration::from_millis(500)).await;
    Settlement::Requeue
}

/// Publishes the message to the dead-letter exchange; the proof once RabbitMQ confirmed.
async fn dead_letter(
    worker: &Worker,
    body: &[u8],
    reason: hookpost_core::labels::DeadLetterReason,
    message: &str,
    queue: &str,
) -> Result<Durable, BrokerError> {
    let reason = reason.as_str();
    warn!(reason, error = %message, "dead-lettering a message");
    let headers = [
        ("x-hookpost-reason", reason.to_owned()),
        ("x-hookpost-error", message.chars().take(1000).collect()),
        ("x-hookpost-queue", queue.to_owned()),
    ];
    let msg = hookpost_broker::Outgoing {
        exchange: &worker.topology.dead_exchange,
        routing_key: reason,
        body,
        message_id: None,
        headers: &headers,
    };
    worker.publisher.publish(&msg).await?;
    worker
        .metrics
        .dead_letters
        .with_label_values(&[reason])
        .inc();
    tracing::debug!(reason, "dead letter confirmed");
    Ok(Durable::nothing_to_write(NothingToWrite::DeadLettered))
}
