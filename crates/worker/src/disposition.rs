//! What becomes of a message, and why a message goes back to its queue.

use hookpost_broker::BrokerError;
use hookpost_core::labels::DeadLetterReason;
use hookpost_store::{Durable, StoreError};

/// What becomes of a message. An ack needs the proof that its outcome is durable.
#[derive(Debug)]
pub enum Disposition {
    Ack(Durable),
    /// Acked already through [`EarlyAck`]; this only reports.
    AckedEarly(Acked),
    /// Put it back for another try: its outcome could not be made durable.
    Requeue(Requeue),
    /// Send it to the dead-letter queue with a reason and a message, then ack.
    DeadLetter(DeadLetterReason, String),
    /// Redis does not hold hookpost's keyspace: requeue and stop consuming.
    KeyspaceMissing,
}

impl Disposition {
    /// What the keyspace marker check makes of a message: `None` when the marker is
    /// there and the message may go on.
    pub fn unless_keyspace(marker: hookpost_store::Result<bool>) -> Option<Disposition> {
        match marker {
            Ok(true) => None,
            Ok(false) => Some(Disposition::KeyspaceMissing),
            Err(e) => Some(e.into()),
        }
    }
}

/// Why a message goes back to its queue.
#[derive(Debug, thiserror::Error)]
pub enum Requeue {
    #[error("could not make the outcome durable")]
    Store(#[source] StoreError),
    #[error("could not write the outcome to the log")]
    Db(#[source] hookpost_db::DbError),
    #[error("could not move an event to the overflow queue")]
    Overflow(#[source] BrokerError),
    #[error("could not dead-letter the message")]
    DeadLetter(#[source] BrokerError),
    #[error("a slow hook's backlog was disarmed each time this worker armed it")]
    BacklogDisarmed,
    #[error("the backlog writer stopped before it answered")]
    BacklogWriterGone,
}

impl Requeue {
    /// The error metric that counts it: RabbitMQ's, PostgreSQL's, else Redis's.
    pub fn errors<'a>(&self, m: &'a hookpost_ops::Metrics) -> &'a prometheus::IntCounterVec {
        match self {
            Requeue::Overflow(_) | Requeue::DeadLetter(_) => &m.broker_errors,
            Requeue::Db(_) => &m.db_errors,
            _ => &m.redis_errors,
        }
    }
}

impl From<hookpost_db::DbError> for Requeue {
    fn from(e: hookpost_db::DbError) -> Self {
        Requeue::Db(e)
    }
}

impl From<StoreError> for Requeue {
    fn from(e: StoreError) -> Self {
        Requeue::Store(e)
    }
}

impl From<StoreError> for Disposition {
    fn from(e: StoreError) -> Self {
        Disposition::Requeue(Requeue::Store(e))
    }
}

impl From<Requeue> for Disposition {
    fn from(why: Requeue) -> Self {
        Disposition::Requeue(why)
    }
}

/// The message was acked through [`EarlyAck`]: only [`EarlyAck::ack_now`] makes one.
#[derive(Debug)]
pub struct Acked(());

/// Acks the message being handled at once, before its handler returns (once).
pub struct EarlyAck<'a>(Option<&'a (dyn Fn(Durable) + Sync)>);

impl<'a> EarlyAck<'a> {
    pub fn new(ack: &'a (dyn Fn(Durable) + Sync)) -> Self {
        EarlyAck(Some(ack))
    }

    /// For a message that must not be acked before its handler returns.
    pub fn none() -> Self {
        EarlyAck(None)
    }

    pub fn possible(&self) -> bool {
        self.0.is_some()
    }

    /// Acks now when possible; else the ack waits for the handler's return.
    pub fn ack_now(&self, durable: Durable) -> Disposition {
        match self.0 {
            Some(ack) => {
                ack(durable);
                Disposition::AckedEarly(Acked(()))
            }
            None => Disposition::Ack(durable),
        }
    }
}

/// An error and its causes, for a log line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
