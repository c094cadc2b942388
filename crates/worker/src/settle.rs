//! Settling messages with RabbitMQ, acks batched.
//!
//! Handlers finish out of order, so one channel's finished messages are acked with
//! `multiple` up to the oldest message still being handled: one frame, and one pass
//! through the broker's channel and queue processes, for a run of messages instead of
//! one each. A finished message behind a slow one is held at most [`HOLD`], then acked
//! on its own, so a hanging receiver does not keep the others unacked (they count
//! against the prefetch). Requeues go out at once.

use std::collections::BTreeMap;
use std::time::Duration;

use hookpost_store::Durable;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Acker;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::warn;

/// How long a finished message may wait for an older one before it is acked alone.
pub const HOLD: Duration = Duration::from_millis(20);

/// How long the settler gathers notes before it acks: without it, it wakes for every
/// handler that finishes and acks one message at a time.
const GATHER: Duration = Duration::from_millis(2);

enum Note {
    /// A message was handed to a handler (sent in delivery order, before the handler starts).
    Received(u64),
    /// Its handler finished and the outcome is durable: ack it.
    Done(u64, Acker),
    /// Its handler finished without a durable outcome: give it back.
    Requeue(u64, Acker),
}

/// The handle consumers and handlers use for one channel.
#[derive(Clone)]
pub struct Settler {
    notes: mpsc::UnboundedSender<Note>,
}

impl Settler {
    /// Starts settling for one channel; the task ends, with everything finished acked,
    /// once every handle is dropped.
    pub fn start() -> (Settler, tokio::task::JoinHandle<()>) {
        let (notes, rx) = mpsc::unbounded_channel();
        (Settler { notes }, tokio::spawn(run(rx)))
    }

    pub fn received(&self, tag: u64) {
        let _ = self.notes.send(Note::Received(tag));
    }

    /// Settles one message: the one place a message is acked, and only for the proof
    /// that its outcome is durable.
    pub fn settle(&self, tag: u64, acker: Acker, settlement: Settlement) {
        let note = match settlement {
            Settlement::Ack(_durable) => Note::Done(tag, acker),
            Settlement::Requeue => Note::Requeue(tag, acker),
        };
        let _ = self.notes.send(note);
    }
}

/// How a message is settled.
pub enum Settlement {
    /// Its outcome is durable: ack it.
    Ack(Durable),
    /// Give it back to its queue.
    Requeue,
}

/// One channel's messages between delivery and ack (`A`: what acks one).
struct Book<A> {
    /// Being handled, by tag, with when they arrived.
    handling: BTreeMap<u64, Instant>,
    /// Finished and not acked yet.
    finished: BTreeMap<u64, A>,
}

impl<A> Book<A> {
    fn new() -> Self {
        Book {
            handling: BTreeMap::new(),
            finished: BTreeMap::new(),
        }
    }

    /// What to ack now: the one to ack with `multiple` (covering every finished message
    /// older than the oldest still handled), and those to ack alone.
    fn due(&mut self, now: Instant, closing: bool) -> (Option<A>, Vec<A>) {
        let oldest = self.handling.first_key_value().map(|(t, at)| (*t, *at));
        let behind = match oldest {
            Some((tag, _)) => self.finished.split_off(&tag),
            None => BTreeMap::new(),
        };
        let run = std::mem::replace(&mut self.finished, behind);
        let multiple = run.into_values().next_back();
        let held_too_long = oldest.is_some_and(|(_, at)| now >= at + HOLD);
        let alone = match closing || held_too_long {
            true => std::mem::take(&mut self.finished).into_values().collect(),
            false => Vec::new(),
        };
        (multiple, alone)
    }

    /// When to look again for messages held behind an older one.
    fn wake_at(&self) -> Option<Instant> {
        match self.finished.is_empty() {
            true => None,
            false => self.handling.first_key_value().map(|(_, at)| *at + HOLD),
        }
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Note>) {
    let mut book = Book::new();
    let mut notes = Vec::new();
    loop {
        let wake = book.wake_at();
        // Everything that arrived since the last look, so one ack covers it all.
        let mut open = tokio::select! {
            n = rx.recv_many(&mut notes, 1024) => n > 0,
            _ = sleep_until(wake), if wake.is_some() => true,
        };
        if open {
            tokio::time::sleep(GATHER).await;
            while let Ok(note) = rx.try_recv() {
                notes.push(note);
            }
            open = !(rx.is_closed() && rx.is_empty());
        }
        for note in notes.drain(..) {
            match note {
                Note::Received(tag) => {
                    book.handling.insert(tag, Instant::now());
                }
                Note::Done(tag, acker) => {
                    book.handling.remove(&tag);
                    book.finished.insert(tag, acker);
                }
                Note::Requeue(tag, acker) => {
                    book.handling.remove(&tag);
                    requeue(&acker).await;
                }
            }
        }
        let (multiple, alone) = book.due(Instant::now(), !open);
        if let Some(acker) = multiple {
            ack(&acker, true).await;
        }
        for acker in alone {
            ack(&acker, false).await;
        }
        if !open {
            return;
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

async fn ack(acker: &Acker, multiple: bool) {
    if let Err(e) = acker.ack(BasicAckOptions { multiple }).await {
        // The channel is gone; RabbitMQ redelivers what was not acked.
        warn!(error = %e, "could not ack; the messages will be redelivered");
    }
}

async fn requeue(acker: &Acker) {
    let options = BasicNackOptions {
        requeue: true,
        multiple: false,
    };
    if let Err(e) = acker.nack(options).await {
        warn!(error = %e, "could not requeue a message; it will be redelivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(handling: &[u64], finished: &[u64], at: Instant) -> Book<u64> {
        let mut b = Book::new();
        b.handling = handling.iter().map(|t| (*t, at)).collect();
        b.finished = finished.iter().map(|t| (*t, *t)).collect();
        b
    }

    #[test]
    fn a_finished_run_below_the_oldest_handled_message_is_one_ack() {
        let now = Instant::now();
        let mut b = book(&[4, 7], &[1, 2, 3, 5, 6], now);
        assert_eq!(b.due(now, false), (Some(3), vec![]));
        assert_eq!(b.finished.keys().copied().collect::<Vec<_>>(), [5, 6]);
        assert_eq!(b.wake_at(), Some(now + HOLD));
    }

    #[test]
    fn with_nothing_handled_everything_finished_is_one_ack() {
        let now = Instant::now();
        let mut b = book(&[], &[8, 9, 12], now);
        assert_eq!(b.due(now, false), (Some(12), vec![]));
        assert_eq!(b.wake_at(), None);
    }

    #[test]
    fn messages_held_behind_a_slow_one_are_acked_alone_after_the_hold() {
        let then = Instant::now();
        let mut b = book(&[4], &[5, 6], then);
        assert_eq!(b.due(then + HOLD / 2, false), (None, vec![]));
        assert_eq!(b.due(then + HOLD, false), (None, vec![5, 6]));
        assert_eq!(b.wake_at(), None);
        assert_eq!(b.handling.len(), 1, "the slow one is still being handled");
    }

    #[test]
    fn closing_acks_everything_finished() {
        let now = Instant::now();
        let mut b = book(&[2], &[1, 3], now);
        assert_eq!(b.due(now, true), (Some(1), vec![3]));
    }
}
