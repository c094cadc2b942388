//! Roles and reasons that end up as metric labels, dead-letter headers and console text: one
//! enum each, so that the worker, the metrics and the console share one list. The
//! strings are stable (dashboards and alerts use them).

/// Why a delivery waited without an attempt (`hookpost_deliveries_deferred_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeferReason {
    /// This worker's slots at the hook stayed busy: the hook is slow.
    HookConcurrency,
    /// The hook's `max_in_flight` across workers was reached.
    MaxInFlight,
    /// The hook's `rate_limit`.
    RateLimit,
    /// An earlier delivery for its ordering key had not ended.
    Ordering,
}

impl DeferReason {
    pub const ALL: [DeferReason; 4] = [
        DeferReason::HookConcurrency,
        DeferReason::MaxInFlight,
        DeferReason::RateLimit,
        DeferReason::Ordering,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            DeferReason::HookConcurrency => "hook_concurrency",
            DeferReason::MaxInFlight => "max_in_flight",
            DeferReason::RateLimit => "rate_limit",
            DeferReason::Ordering => "ordering",
        }
    }
}

/// Why a message went to the dead-letter queue (`hookpost_dead_letters_total`, the
/// `x-hookpost-reason` header, the routing key). The event ones are also the API's
/// error codes for a refused event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadLetterReason {
    InvalidJson,
    InvalidEvent,
    MissingField,
    InvalidField,
    UnknownTenant,
    TooLarge,
    InvalidTask,
    TooDeep,
    /// Not an event type of its tenant (see `HOOKPOST_ACCEPT_UNKNOWN_EVENT_TYPES`).
    UnknownEventType,
    /// `data` that its type's schema refuses.
    InvalidData,
}

impl DeadLetterReason {
    pub const ALL: [DeadLetterReason; 10] = [
        DeadLetterReason::InvalidJson,
        DeadLetterReason::InvalidEvent,
        DeadLetterReason::MissingField,
        DeadLetterReason::InvalidField,
        DeadLetterReason::UnknownTenant,
        DeadLetterReason::TooLarge,
        DeadLetterReason::InvalidTask,
        DeadLetterReason::TooDeep,
        DeadLetterReason::UnknownEventType,
        DeadLetterReason::InvalidData,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::InvalidJson => "invalid_json",
            DeadLetterReason::InvalidEvent => "invalid_event",
            DeadLetterReason::MissingField => "missing_field",
            DeadLetterReason::InvalidField => "invalid_field",
            DeadLetterReason::UnknownTenant => "unknown_tenant",
            DeadLetterReason::TooLarge => "too_large",
            DeadLetterReason::InvalidTask => "invalid_task",
            DeadLetterReason::TooDeep => "too_deep",
            DeadLetterReason::UnknownEventType => "unknown_event_type",
            DeadLetterReason::InvalidData => "invalid_data",
        }
    }
}

/// A part of hookpost a process can run: the `role` label of the per-role metrics and
/// the prefix of its readiness checks (`worker.redis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Ingest,
    Worker,
    Scheduler,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Ingest, Role::Worker, Role::Scheduler];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Worker => "worker",
            Role::Scheduler => "scheduler",
        }
    }
}

/// Where an accepted request's events go: the `lane` label of ingest's publish metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Within the tenant's fair lane: the event queues, through the exchange.
    Fair,
    /// A light tenant's, within its fair lane: the light queue.
    Light,
    /// Beyond it: the overflow queue.
    Overflow,
}

impl Lane {
    pub const ALL: [Lane; 3] = [Lane::Fair, Lane::Light, Lane::Overflow];

    pub const fn as_str(self) -> &'static str {
        match self {
            Lane::Fair => "fair",
            Lane::Light => "light",
            Lane::Overflow => "overflow",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_snake_case() {
        let defer: Vec<&str> = DeferReason::ALL.iter().map(|r| r.as_str()).collect();
        let dead: Vec<&str> = DeadLetterReason::ALL.iter().map(|r| r.as_str()).collect();
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        let lanes: Vec<&str> = Lane::ALL.iter().map(|l| l.as_str()).collect();
        for labels in [&defer, &dead, &roles, &lanes] {
            let mut sorted = labels.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), labels.len(), "{labels:?}");
            assert!(labels
                .iter()
                .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        }
        assert_eq!(
            defer,
            [
                "hook_concurrency",
                "max_in_flight",
                "rate_limit",
                "ordering"
            ]
        );
        assert_eq!(roles, ["ingest", "worker", "scheduler"]);
    }
}
