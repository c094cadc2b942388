//! One delivery's outcome, ready to be made durable.

use hookpost_core::outcome::Attempt;
use hookpost_store::log::{Record, Status};
use hookpost_store::retries::Due;

use crate::context::DeliveryRef;
use crate::ordered::Hold;
use crate::record::Waiting;

/// What became of one delivery.
pub(crate) enum Decided {
    /// An attempt was made; `retry` is the next one's task when it failed with attempts
    /// left. `hold`: the ordering key this handler holds for it (ordered hooks).
    Attempted {
        delivery: DeliveryRef,
        /// Boxed: the signatures it keeps make it the largest variant by far.
        attempt: Box<Attempt>,
        status: Status,
        retry: Option<Due>,
        hold: Option<crate::ordered::Hold>,
    },
    /// Put off without an attempt until `due`, its log record `pending`. `busy`: another
    /// handler holds this very delivery (or held it, and died), so it is logged only
    /// where the log has nothing of it, and no hot state is written: that handler's own
    /// record stands.
    Deferred {
        due: Due,
        record: DeliveryRef,
        busy: bool,
    },
    /// Put in its slow hook's backlog as `entry`, whose drain comes back at `at_ms`; its
    /// log row says `pending` until its attempt.
    Backlogged {
        hook_id: String,
        entry: String,
        at_ms: i64,
        hook_json: String,
    },
    /// Its hook was deleted or deactivated: scheduled attempts are dropped.
    Cancelled(DeliveryRef),
    /// It ended already (a late look at it): nothing to record or send.
    AlreadyEnded,
}

impl Decided {
    /// The task to store once its record is in the log.
    pub fn due(&self) -> Option<&Due> {
        match self {
            Decided::Attempted { retry, .. } => retry.as_ref(),
            Decided::Deferred { due, .. } => Some(due),
            _ => None,
        }
    }

    /// Its log record, written before its task is stored.
    pub fn record<'a>(&'a self, kind: &'a str) -> Option<Record<'a>> {
        let (d, status, next_at, attempt, blocking, if_new) = match self {
            Decided::Attempted {
                delivery,
                attempt,
                status,
                retry,
                hold,
            } => (
                delivery,
                *status,
                retry.as_ref().map(|d| d.at_ms),
                Some(&**attempt),
                hold.as_ref().is_some_and(|h| h.blocks_after(*status)),
                false,
            ),
            Decided::Deferred { due, record, busy } => {
                (record, Status::Pending, Some(due.at_ms), None, false, *busy)
            }
            Decided::Cancelled(delivery) => (delivery, Status::Cancelled, None, None, false, false),
            _ => return None,
        };
        // An ordered one's key reads its state while it holds it.
        let forget_soon = status == Status::Delivered && self.hold().is_none();
        Some(Record {
            delivery_id: &d.id,
            hook_id: &d.hook_id,
            kind,
            hook_json: &d.hook_json,
            status,
            next_at,
            attempt,
            blocking,
            if_new,
            forget_soon,
        })
    }

    /// Its push into its hook's backlog, and its `pending` log row.
    pub fn waiting(&self) -> Option<Waiting<'_>> {
        match self {
            Decided::Backlogged {
                hook_id,
                entry,
                at_ms,
                hook_json,
            } => Some(Waiting {
                hook_id,
                at_ms: *at_ms,
                hook_json,
                backlog: Some(entry),
            }),
            _ => None,
        }
    }

    /// Whether it ended for good with nothing left to read its event: delivered, or
    /// cancelled. (A failed one may be skipped on its ordering key, which reads it.)
    pub fn ended_delivered(&self) -> bool {
        match self {
            Decided::Attempted { status, .. } => *status == Status::Delivered,
            Decided::Cancelled(_) => true,
            _ => false,
        }
    }

    /// The ordering key held for it, to let go once its outcome is durable.
    pub fn hold(&self) -> Option<(&DeliveryRef, &Hold, Status)> {
        match self {
            Decided::Attempted {
                delivery,
                status,
                hold: Some(hold),
                ..
            } => Some((delivery, hold, *status)),
            _ => None,
        }
    }

    /// The hook, when its receiver answered 410 Gone.
    pub fn gone(&self) -> Option<&str> {
        match self {
            Decided::Attempted {
                delivery, attempt, ..
            } if attempt.status == Some(410) => Some(&delivery.hook_id),
            _ => None,
        }
    }
}
