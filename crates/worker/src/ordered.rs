//! Ordered hooks: a delivery is attempted only while it holds its ordering key (it is the
//! key's oldest delivery not yet ended). Its handler lets go once the outcome is
//! recorded, and the next delivery for the key is sent for at once. A delivery that
//! must wait is looked at again after a while, a safety net behind that hand-over.

use std::sync::Arc;
use std::time::Duration;

use hookpost_broker::{Publisher, Topology};
use hookpost_core::ordering::{OnFailure, Ordering};
use hookpost_core::task::Task;
use hookpost_core::Config;
use hookpost_ops::Metrics;
use hookpost_store::log::{Delivery, Status};
use hookpost_store::ordering::{turn_task, Ordered, Release, Turn};
use hookpost_store::retries::Due;
use hookpost_store::Store;
use tracing::warn;

use crate::context::EventParts;

/// Behind the hand-over, how soon a waiting delivery looks again: after as long as it has
/// waited so far, within these bounds. Rarely: a long queue for one key must not churn,
/// and the hand-over is what moves a key along.
const POLL_FIRST: Duration = Duration::from_secs(60);
const POLL_MOST: Duration = Duration::from_secs(600);

/// A delivery another handler holds looks again this long after that hold ends.
const BUSY_MARGIN: Duration = Duration::from_secs(1);

/// This handler holds a delivery's key.
pub struct Hold {
    key_id: String,
    token: String,
    on_failure: OnFailure,
}

impl Hold {
    /// Whether a delivery that ended `status` keeps this key from the next ones: failed
    /// for good on a hook that blocks on failure.
    pub(crate) fn blocks_after(&self, status: Status) -> bool {
        status == Status::Failed && self.on_failure != OnFailure::Skip
    }
}

/// Not its turn.
pub enum NotYet {
    /// Look again then.
    Wait(i64),
    /// Another handler is attempting this very delivery, or died attempting it: look
    /// again when its hold has ended.
    Busy(i64),
    /// The key's holder (`<delivery id>:<event id>`) is attempted by nobody and Redis
    /// shows nothing of its end, which may be only in the log; else look again at `at_ms`.
    Unsure { holder: String, at_ms: i64 },
    /// It ended: never look again.
    Ended,
}

/// Ordered hooks' turns: taking and letting go of keys, and sending for the next.
pub struct Turns {
    store: Store,
    config: Config,
    metrics: Arc<Metrics>,
    /// For hand-overs, straight to the deliveries queue.
    publisher: Arc<Publisher>,
    topology: Topology,
    hand_overs: HandOvers,
}

impl Turns {
    pub fn new(
        store: Store,
        config: Config,
        metrics: Arc<Metrics>,
        publisher: Arc<Publisher>,
        topology: Topology,
    ) -> Self {
        Turns {
            store,
            config,
            metrics,
            publisher,
            topology,
            hand_overs: HandOvers::default(),
        }
    }

    /// Takes delivery `id`'s key, or says when to look again.
    pub(crate) async fn take_turn(
        &self,
        ev: &EventParts<'_>,
        hook_id: &str,
        order: &Ordering,
        id: &str,
    ) -> Result<Hold, NotYet> {
        let (tenant, event_id) = (ev.tenant, ev.id);
        let hold = Hold {
            key_id: key_id(ev, order),
            token: hookpost_core::ids::random_id("ord"),
            on_failure: order.on_failure,
        };
        let d = Ordered {
            hook_id,
            key_id: &hold.key_id,
            delivery_id: id,
            event_id,
        };
        // Longer than an attempt can take with its waits; a dead handler's hold ends then.
        let lease = self.config.request_timeout + self.config.hook_wait + Duration::from_secs(10);
        let now = hookpost_core::now_ms();
        let waited = Duration::from_millis(now.saturating_sub(ev.received_at).max(0) as u64);
        let poll = now + waited.clamp(POLL_FIRST, POLL_MOST).as_millis() as i64;
        let later = |by: Duration| now + by.as_millis() as i64;
        match self.store.order_turn(tenant, &d, &hold.token, lease).await {
            Ok(Turn::Go) => Ok(hold),
            Ok(Turn::Wait(idle_head)) => {
                if let Some(head) = idle_head {
                    self.send_for(turn_task(tenant, hook_id, &head).into_iter().collect());
                }
                Err(NotYet::Wait(poll))
            }
            Ok(Turn::Unsure(holder)) => Err(NotYet::Unsure {
                holder,
                at_ms: poll,
            }),
            Ok(Turn::Blocked) => Err(NotYet::Wait(poll)),
            // Its handler has ended the attempt by the end of its hold, or died.
            Ok(Turn::Busy(left)) => Err(NotYet::Busy(later(left + BUSY_MARGIN))),
            Ok(Turn::Ended) => Err(NotYet::Ended),
            Err(e) => {
                warn!(error = %e, "could not check an ordered delivery's turn");
                Err(NotYet::Wait(later(self.config.defer_delay)))
            }
        }
    }

    /// Lets go of the key of `d`, which the log shows ended, as its handler would have had
    /// it not died first: hands it on (sending for the next), or blocks it. `ev` is an
    /// event on the same key (`d`'s own, or the next one's). When the next is `asking`,
    /// a delivery whose handler takes its turn itself, it is not sent for: `true` then.
    pub(crate) async fn let_go_ended(
        &self,
        ev: &EventParts<'_>,
        order: &Ordering,
        d: &Delivery,
        asking: Option<&str>,
    ) -> bool {
        let hold = Hold {
            key_id: key_id(ev, order),
            // Letting go of an ended delivery's key asks for no token.
            token: String::new(),
            on_failure: order.on_failure,
        };
        let status = Some(d.status);
        let next = self.let_go(ev.tenant, &d.event_id, &d.hook_id, &d.id, &hold, status);
        match next.await {
            Some(Due {
                task: Task::Attempt(t),
                ..
            }) if asking == Some(t.delivery_id.as_str()) => true,
            next => {
                self.send_for(next.into_iter().collect());
                false
            }
        }
    }

    /// Lets go of a held key after the delivery's outcome (`status`) is recorded; the
    /// task that sends for the next delivery, when it is someone else's turn now.
    pub(crate) async fn let_go(
        &self,
        tenant: &str,
        event_id: &str,
        hook_id: &str,
        id: &str,
        hold: &Hold,
        status: Option<Status>,
    ) -> Option<Due> {
        let how = match status {
            Some(s) if hold.blocks_after(s) => {
                self.metrics.ordered_blocks.inc();
                Release::Block
            }
            Some(Status::Delivered | Status::Cancelled | Status::Failed) => Release::Done,
            _ => Release::Retry,
        };
        let d = Ordered {
            hook_id,
            key_id: &hold.key_id,
            delivery_id: id,
            event_id,
        };
        // On failure the hold's lease ends it, and the next turn check finds the
        // delivery ended.
        let next = match self.store.order_release(tenant, &d, how, &hold.token).await {
            Ok(next) => next?,
            Err(e) => {
                warn!(error = %e, "could not hand an ordering key on");
                return None;
            }
        };
        turn_task(tenant, hook_id, &next)
    }
}

/// The ordering key of an event's delivery to a hook ordered by `order`.
fn key_id(ev: &EventParts<'_>, order: &Ordering) -> String {
    // Parsed by the fan-out already; a retry's event is parsed here.
    match ev.payload {
        Some(p) => order.key_id(p),
        None => order.key_id(&serde_json::from_str(ev.data).unwrap_or_default()),
    }
}

/// Deliveries whose turn has come, on their way to the deliveries queue.
struct HandOvers {
    tx: tokio::sync::mpsc::UnboundedSender<Due>,
    rx: std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Due>>>,
}

impl Default for HandOvers {
    fn default() -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        HandOvers {
            tx,
            rx: std::sync::Mutex::new(Some(rx)),
        }
    }
}

impl Turns {
    /// Sends for the deliveries whose turn has come, without waiting: a publisher confirm
    /// takes up to a disk flush, and a key's hand-overs follow one another. Each waiting
    /// delivery also looks again by itself, so a hand-over lost here only delays.
    pub(crate) fn send_for(&self, next: Vec<Due>) {
        for due in next {
            let _ = self.hand_overs.tx.send(due);
        }
    }

    /// Publishes hand-overs straight to the deliveries queue (the retry set and the
    /// scheduler would add their interval to each) until `cancel` fires. Batches go out
    /// as they come, each awaiting its own confirms, so that a slow disk flush does not
    /// hold the next key's turn back.
    pub async fn hand_over(&self, cancel: &tokio_util::sync::CancellationToken) {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let Some(mut rx) = self.hand_overs.rx.lock().expect("not poisoned").take() else {
            return;
        };
        let mut in_flight = FuturesUnordered::new();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                due = rx.recv() => {
                    let Some(first) = due else { break };
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                    }
                    in_flight.push(self.publish_hand_overs(batch));
                }
                Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            }
        }
        while in_flight.next().await.is_some() {}
    }

    /// One batch of hand-overs; through the retry set when the broker does not confirm.
    async fn publish_hand_overs(&self, batch: Vec<Due>) {
        let bodies: Vec<String> = batch.iter().map(|d| d.task.to_json()).collect();
        let msgs: Vec<hookpost_broker::Outgoing<'_>> = bodies
            .iter()
            .map(|body| hookpost_broker::Outgoing {
                exchange: "",
                routing_key: &self.topology.deliveries_queue,
                body: body.as_bytes(),
                message_id: None,
                headers: &[],
            })
            .collect();
        if self.publisher.publish_all(&msgs).await.is_ok() {
            return;
        }
        if let Err(e) = self.store.schedule(&batch).await {
            warn!(error = %e, "could not send for the next ordered deliveries; they look again soon");
        }
    }
}
