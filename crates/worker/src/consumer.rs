//! The worker's connection loop.
//!
//! Consumes the event queues (one, or every shard) and the deliveries queue with manual
//! acks and a bounded prefetch, one channel each; each message is handled in its own
//! task, and settled through its channel's [`Settler`], which batches the acks. When the
//! connection or the keyspace is lost, it stops, lets RabbitMQ requeue what was not
//! acked, and starts again. On cancel it stops consuming, gives in-flight messages the
//! shutdown grace, sends the last acks, then closes the connection so RabbitMQ
//! redelivers whatever did not finish.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicCancelOptions;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::process::{Disposition, EarlyAck};
use crate::settle::Settler;
use crate::Worker;

/// How one session with the broker ended.
enum End {
    Cancelled,
    BrokerLost(String),
    KeyspaceMissing,
}

/// Runs the worker until `cancel` fires.
pub async fn run(worker: Arc<Worker>, cancel: CancellationToken) {
    let mut backoff = Duration::from_millis(200);
    let mut first = true;
    let renewing = CancellationToken::new();
    let renewals = tokio::spawn({
        let (worker, renewing) = (worker.clone(), renewing.clone());
        async move { worker.leases.keep_alive(&worker.store, &renewing).await }
    });
    let hand_overs = tokio::spawn({
        let (worker, stopping) = (worker.clone(), renewing.clone());
        async move { worker.hand_over(&stopping).await }
    });
    loop {
        if !wait_for_keyspace(&worker, &cancel).await {
            break;
        }
        match session(&worker, &cancel, &mut first).await {
            Ok(End::Cancelled) => break,
            Ok(End::KeyspaceMissing) => continue,
            Ok(End::BrokerLost(why)) | Err(why) => {
                worker.readiness.fail("worker.broker", why.clone());
                warn!(error = %why, "lost RabbitMQ; reconnecting");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    renewing.cancel();
    let _ = tokio::join!(renewals, hand_overs);
    worker.publisher.close().await;
    info!("worker stopped");
}

/// Waits until Redis holds hookpost's keyspace marker; `false` if cancelled first.
async fn wait_for_keyspace(worker: &Worker, cancel: &CancellationToken) -> bool {
    let mut warned = false;
    loop {
        match worker.store.marker_present().await {
            Ok(true) => {
                worker.readiness.ok("worker.redis");
                worker.readiness.ok("worker.keyspace");
                return true;
            }
            Ok(false) => {
                worker.readiness.ok("worker.redis");
                worker
                    .readiness
                    .fail("worker.keyspace", hookpost_store::marker::KEYSPACE_MISSING);
                if !warned {
                    // Not consuming, so that no event is taken as having no subscribers.
                    error!(
                        "{}; not consuming until then",
                        hookpost_store::marker::KEYSPACE_MISSING
                    );
                    warned = true;
                }
            }
            Err(e) => {
                worker
                    .metrics
                    .redis_errors
                    .with_label_values(&["worker"])
                    .inc();
                worker.readiness.fail("worker.redis", e.to_string());
            }
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
) -> Result<End, String> {
    let cfg = &worker.config;
    let conn = hookpost_broker::connect(&cfg.amqp_url, "hookpost-worker", cfg.connect_timeout)
        .await
        .map_err(|e| e.to_string())?;
    if !*first {
        worker
            .metrics
            .amqp_reconnects
            .with_label_values(&["worker"])
            .inc();
    }
    *first = false;
    let setup = conn.create_channel().await.map_err(|e| e.to_string())?;
    worker
        .topology
        .declare(&setup)
        .await
        .map_err(|e| e.to_string())?;
    let seen = worker
        .store
        .queue_shards_seen(worker.topology.events_queues.len() as u32)
        .await
        .map_err(|e| e.to_string())?;
    let leftovers = worker
        .topology
        .leftover_shards(&conn, seen)
        .await
        .map_err(|e| e.to_string())?;
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
    for queue in queues.iter().copied() {
        let overflow = queue == worker.topology.overflow_queue;
        // The overflow queue holds the events of tenants over their share: a smaller
        // prefetch keeps room for the others' while it still goes on.
        let prefetch = match overflow {
            true => (cfg.prefetch / 4).max(1),
            false => cfg.prefetch,
        };
        let (ch, consumer) = hookpost_broker::consume::open(&conn, queue, queue, prefetch)
            .await
            .map_err(|e| e.to_string())?;
        channels.push((ch, queue));
        let (settler, settled) = Settler::start();
        settling.push(settled);
        let source = Source {
            queue: Arc::from(queue),
            is_event: queue != worker.topology.deliveries_queue,
            overflow,
            settler,
        };
        // A consumer's end is an item too: the broker cancelled it, so start again.
        let ended = futures_util::stream::once(std::future::ready(None));
        streams.push(
            consumer
                .map(move |m| Some((source.clone(), m)))
                .chain(ended)
                .boxed(),
        );
    }
    let mut messages = futures_util::stream::select_all(streams);
    worker.readiness.ok("worker.broker");
    worker.metrics.consumers_active.set(channels.len() as i64);
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
                    tracker.spawn(async move {
                        tokio::select! {
                            _ = abandon.cancelled() => {}
                            _ = handle(&w, &source, delivery, &lost) => {}
                        }
                    });
                }
                Some((_, Err(e))) => break End::BrokerLost(e.to_string()),
                None => break End::BrokerLost("the broker cancelled a consumer".into()),
            }
        }
    };
    worker.metrics.consumers_active.set(0);
    drop(messages); // the consumers' handles on the settlers: handlers hold the rest
    for (ch, tag) in &channels {
        let _ = ch
            .basic_cancel((*tag).into(), BasicCancelOptions::default())
            .await;
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
        let _ = settled.await;
    }
    let _ = conn.close(200, "worker stopping".into()).await;
    Ok(end)
}

/// The queue a message came from.
#[derive(Clone)]
struct Source {
    queue: Arc<str>,
    /// An event queue's (or a shard's, or the overflow queue's), not the deliveries
    /// queue's.
    is_event: bool,
    /// The overflow queue's.
    overflow: bool,
    /// Acks for the queue's channel.
    settler: Settler,
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
    let take_acker = || acker.lock().expect("not poisoned").take();
    let ack_now = || {
        if let Some(acker) = take_acker() {
            source.settler.ack(tag, acker);
        }
    };
    let disposition = if is_event {
        worker
            .handle_event(&delivery.data, source.overflow, &EarlyAck(Some(&ack_now)))
            .await
    } else {
        worker.handle_task(&delivery.data).await
    };
    tracing::debug!(?disposition, "handled");
    let Some(acker) = take_acker() else {
        return; // acked early, once the outcomes it carried were durable
    };
    let disposition = match disposition {
        Disposition::DeadLetter(reason, message) => {
            match dead_letter(worker, &delivery.data, reason, &message, &source.queue).await {
                Ok(()) => Disposition::Ack,
                Err(e) => Disposition::Requeue(format!("dead-lettering failed: {e}")),
            }
        }
        other => other,
    };
    match disposition {
        Disposition::Ack => source.settler.ack(tag, acker),
        Disposition::Requeue(why) => {
            worker
                .metrics
                .redis_errors
                .with_label_values(&["worker"])
                .inc();
            warn!(error = %why, "could not make the outcome durable; requeueing");
            // A pause so that a Redis outage does not become a hot requeue loop.
            tokio::time::sleep(Duration::from_millis(500)).await;
            source.settler.requeue(tag, acker);
        }
        Disposition::KeyspaceMissing => {
            keyspace_lost.cancel();
            source.settler.requeue(tag, acker);
        }
        Disposition::DeadLetter(..) => unreachable!("settled above"),
    }
}

async fn dead_letter(
    worker: &Worker,
    body: &[u8],
    reason: &'static str,
    message: &str,
    queue: &str,
) -> Result<(), String> {
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
    worker
        .publisher
        .publish(&msg)
        .await
        .map_err(|e| e.to_string())?;
    worker
        .metrics
        .dead_letters
        .with_label_values(&[reason])
        .inc();
    tracing::debug!(reason, "dead letter confirmed");
    Ok(())
}
