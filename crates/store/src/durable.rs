//! The proof that a message's outcome is durable, which its ack requires.
//!
//! Only this crate makes a [`Durable`] after a write: [`Store::record`],
//! [`Store::schedule`] and [`Store::schedule_drain`] return one once Redis has taken the
//! write. The one other door is [`Durable::nothing_to_write`], with the reason. The
//! worker's settler acks only in exchange for one, so "write, then ack" is checked by
//! the compiler.
//!
//! [`Store::record`]: crate::Store::record
//! [`Store::schedule`]: crate::Store::schedule
//! [`Store::schedule_drain`]: crate::Store::schedule_drain

/// A message's outcome is durable: what its ack needs. Not `Clone`: one proof, one ack.
#[derive(Debug)]
pub struct Durable(Proof);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proof {
    Written,
    Nothing(NothingToWrite),
}

/// Why a message is settled without a write of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NothingToWrite {
    /// The event, or the delivery, ended before: its outcome is stored already.
    AlreadyDone,
    /// A retry task whose attempt was made already (a duplicate task).
    DuplicateTask,
    /// The event expired (retention) before its retry came.
    EventExpired,
    /// A drain found its backlog empty and disarmed it.
    BacklogEmpty,
    /// RabbitMQ confirmed the message's copy in the dead-letter queue.
    DeadLettered,
    /// RabbitMQ confirmed the event's copy in the overflow queue.
    MovedToOverflow,
}

impl Durable {
    /// Made by the store's write functions once the write is committed.
    pub(crate) fn written() -> Durable {
        Durable(Proof::Written)
    }

    /// Settles a message that has nothing to write, for `reason`.
    pub fn nothing_to_write(reason: NothingToWrite) -> Durable {
        Durable(Proof::Nothing(reason))
    }

    /// `None` when an outcome was written.
    pub fn nothing_written(&self) -> Option<NothingToWrite> {
        match self.0 {
            Proof::Written => None,
            Proof::Nothing(reason) => Some(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_says_whether_anything_was_written() {
        assert_eq!(Durable::written().nothing_written(), None);
        let none = Durable::nothing_to_write(NothingToWrite::DeadLettered);
        assert_eq!(none.nothing_written(), Some(NothingToWrite::DeadLettered));
    }
}
