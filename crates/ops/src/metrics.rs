//! Prometheus metrics. Labels take values from closed sets only (outcome kinds, reasons,
//! routes), never hook ids, URLs or tenants, so cardinality stays fixed.

use hookpost_core::labels::Role;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Events accepted, by type from the catalogue (`other` for the rest) and path: `api`
    /// (ingest, once RabbitMQ confirmed them), `exchange` (published straight to the
    /// exchange: counted by the worker that first takes one).
    pub events_published: IntCounterVec,
    /// Events ingest refused, by reason: invalid, too_large, broker_unavailable,
    /// rate_limited.
    pub events_rejected: IntCounterVec,
    /// Events the worker took, by result: new, duplicate, takeover, busy.
    pub events_processed: IntCounterVec,
    /// Attempts by outcome kind.
    pub attempts: IntCounterVec,
    /// Deliveries that failed after the whole schedule.
    pub deliveries_failed: IntCounter,
    /// Ordering keys blocked by a failed delivery of a hook that blocks on failure.
    pub ordered_blocks: IntCounter,
    pub attempt_duration: Histogram,
    /// From the event's acceptance to its delivery's first attempt (`first_attempt`) and
    /// to its 2xx (`delivered`): the figures a webhook SLO is written on.
    pub event_delivery: HistogramVec,
    pub in_flight: IntGauge,
    /// Deliveries put off without an attempt, by reason ([`hookpost_core::labels::DeferReason`]).
    pub deferred: IntCounterVec,
    /// Event x hook pairs a hook's filter kept out.
    pub filtered: IntCounter,
    /// Events whose filters ran out of their work budget, by role: ingest, worker.
    pub filter_budget_exhausted: IntCounterVec,
    /// First attempts still running when their event's message was acked (each with a
    /// safety-net retry), so that a slow receiver does not hold the message.
    pub slow_attempts_released: IntCounter,
    /// Events a worker moved to the overflow queue: their tenant held more than its share
    /// of the worker while other tenants had events too.
    pub fairness_moved: IntCounter,
    /// Events ingest published to the overflow queue: beyond their tenant's fair lane.
    pub events_overflowed: IntCounter,
    /// From ingest's publish to RabbitMQ's confirm of every message of a request, by the
    /// lane its events took (`fair`, `light`, `overflow`): the broker's part of an API answer.
    pub publish_confirm_seconds: HistogramVec,
    /// Ingest's calls to Redis for intake tokens, by what they asked: `events` (the
    /// request's and a lease, with their lane) or `lane` alone.
    pub intake_asks: IntCounterVec,
    /// Hooks hookpost deactivated by itself, by reason: gone (410), failing.
    pub hooks_disabled: IntCounterVec,
    pub retries_scheduled: IntCounter,
    pub retries_claimed: IntCounter,
    pub retry_set_size: IntGauge,
    /// Due retries not yet claimed.
    pub retries_due: IntGauge,
    /// Now minus the oldest due time not yet claimed.
    pub scheduler_lag: Gauge,
    /// Messages dead-lettered, by reason.
    pub dead_letters: IntCounterVec,
    pub amqp_reconnects: IntCounterVec,
    pub redis_errors: IntCounterVec,
    /// Times Redis came back without its keyspace and was rebuilt from PostgreSQL.
    pub redis_rebuilds: IntCounter,
    pub redis_resyncs: IntCounter,
    /// PostgreSQL statements that failed, by role.
    pub db_errors: IntCounterVec,
    /// Writes (one event's outcomes each) committed in one transaction.
    pub db_batch_size: Histogram,
    /// From `BEGIN` to the answer of `COMMIT`, for the worker's group writes.
    pub db_commit_seconds: Histogram,
    /// How long a PostgreSQL query waited for a connection of the pool.
    pub db_pool_wait_seconds: Histogram,
    /// Groups of first sights the log writer wrote again by their keys.
    pub db_groups_again: IntCounter,
    /// API and console requests by route (its pattern), method and status code.
    pub http_request_duration: HistogramVec,
    /// 1, labelled with the version and the git commit of the build.
    pub build_info: IntGaugeVec,
    /// 1 for each role this process runs (`hookpost all`: all three), so that alerts can
    /// tell a missing scheduler from a scheduler reporting zeros.
    pub role_info: IntGaugeVec,
    /// Publishes RabbitMQ did not confirm (or could not take), by role.
    pub broker_errors: IntCounterVec,
    /// Queues this process consumes now.
    pub consumers_active: IntGauge,
    /// Worker lanes consuming the overflow queue with the whole prefetch (a second
    /// consumer, while one tenant is alone at them).
    pub overflow_whole_prefetch: IntGauge,
    /// 1 for what the Redis server keeps on disk: `aof_always`, `aof`, `snapshots`, `none`.
    pub redis_persistence: IntGaugeVec,
    /// Failed authentications (API key, admin token, console sign-in) by surface (`api`,
    /// `console`) and answer: `refused` (401), `throttled` (429, too many from one address).
    pub auth_failures: IntCounterVec,
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("registered once");
    c
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let h = HistogramVec::new(opts, labels).expect("valid metric");
    r.register(Box::new(h.clone())).expect("registered once");
    h
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let h = Histogram::with_opts(opts).expect("valid metric");
    r.register(Box::new(h.clone())).expect("registered once");
    h
}

/// Waits on a server (a database commit or connection, a broker confirm): sub-millisecond
/// to seconds.
const WAIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

/// Label values known up front, so every series exists from the start (a rate over a
/// series that appears late misses its first increase).
pub const REJECT_REASONS: &[&str] = &["invalid", "too_large", "broker_unavailable", "rate_limited"];
pub const PROCESS_RESULTS: &[&str] = &["new", "duplicate", "takeover", "busy"];
/// How an event reached hookpost: `POST /v1/events`, or straight to the exchange.
pub const INTAKE_PATHS: &[&str] = &["api", "exchange"];
/// Webhook latencies: a receiver answering in tens of milliseconds, up to the default
/// retry interval of an hour.
pub const EVENT_DELIVERY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0, 3600.0,
];
pub const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Methods the API answers; anything else is counted as `other`, so a client cannot
/// create series.
const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl Metrics {
    /// A publisher's reconnect hook: counts `role`'s broker reconnects.
    pub fn reconnect_counter(&self, role: Role) -> impl Fn() + Send + Sync + 'static {
        let reconnects = self.amqp_reconnects.with_label_values(&[role.as_str()]);
        move || reconnects.inc()
    }

    pub fn new() -> Metrics {
        let r = Registry::new();
        let m = Metrics {
            events_published: counter_vec(
                &r,
                "hookpost_events_published_total",
                "Events accepted: by ingest once RabbitMQ confirmed them, or by the worker that first took one published straight to the exchange.",
                &["type", "path"],
            ),
            events_rejected: counter_vec(
                &r,
                "hookpost_events_rejected_total",
                "Events ingest refused.",
                &["reason"],
            ),
            events_processed: counter_vec(
                &r,
                "hookpost_events_processed_total",
                "Events taken by workers.",
                &["result"],
            ),
            attempts: counter_vec(
                &r,
                "hookpost_delivery_attempts_total",
                "Delivery attempts by outcome.",
                &["outcome"],
            ),
            deliveries_failed: counter(
                &r,
                "hookpost_deliveries_failed_total",
                "Deliveries failed after the whole retry schedule.",
            ),
            ordered_blocks: counter(
                &r,
                "hookpost_ordering_blocks_total",
                "Ordering keys blocked until an operator resends or skips.",
            ),
            attempt_duration: {
                let h = Histogram::with_opts(
                    HistogramOpts::new(
                        "hookpost_attempt_duration_seconds",
                        "Duration of one delivery attempt.",
                    )
                    .buckets(vec![
                        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    ]),
                )
                .expect("valid metric");
                r.register(Box::new(h.clone())).expect("registered once");
                h
            },
            event_delivery: histogram_vec(
                &r,
                "hookpost_event_delivery_seconds",
                "From the event's acceptance to its delivery's first attempt, and to its 2xx.",
                &["stage"],
                EVENT_DELIVERY_BUCKETS,
            ),
            in_flight: gauge(
                &r,
                "hookpost_deliveries_in_flight",
                "Delivery attempts in flight.",
            ),
            deferred: counter_vec(
                &r,
                "hookpost_deliveries_deferred_total",
                "Deliveries put off without an attempt.",
                &["reason"],
            ),
            slow_attempts_released: counter(
                &r,
                "hookpost_slow_attempts_released_total",
                "First attempts still running when their event's message was acked.",
            ),
            fairness_moved: counter(
                &r,
                "hookpost_fairness_moved_total",
                "Events moved to the overflow queue: their tenant was over its share.",
            ),
            events_overflowed: counter(
                &r,
                "hookpost_events_overflowed_total",
                "Events ingest sent to the overflow queue: beyond their tenant's fair lane.",
            ),
            publish_confirm_seconds: histogram_vec(
                &r,
                "hookpost_publish_confirm_seconds",
                "From ingest's publish to RabbitMQ's confirm of a request's events, by the lane they took.",
                &["lane"],
                WAIT_BUCKETS,
            ),
            intake_asks: counter_vec(
                &r,
                "hookpost_intake_asks_total",
                "Ingest's calls to Redis for a tenant's intake tokens: events (with their lane), or the lane alone.",
                &["ask"],
            ),
            hooks_disabled: counter_vec(
                &r,
                "hookpost_hooks_disabled_total",
                "Hooks deactivated by hookpost itself.",
                &["reason"],
            ),
            filtered: counter(
                &r,
                "hookpost_deliveries_filtered_total",
                "Event x hook pairs a hook's filter kept out.",
            ),
            filter_budget_exhausted: counter_vec(
                &r,
                "hookpost_filter_budget_exhausted_total",
                "Events whose filters ran out of their work budget (the hooks left did not take them).",
                &["role"],
            ),
            retries_scheduled: counter(
                &r,
                "hookpost_retries_scheduled_total",
                "Tasks stored in the retry set.",
            ),
            retries_claimed: counter(
                &r,
                "hookpost_retries_claimed_total",
                "Due retries moved back to RabbitMQ.",
            ),
            retry_set_size: gauge(&r, "hookpost_retry_set_size", "Entries in the retry set."),
            retries_due: gauge(
                &r,
                "hookpost_retries_due",
                "Retries due now and not yet claimed.",
            ),
            scheduler_lag: {
                let g = Gauge::new(
                    "hookpost_scheduler_lag_seconds",
                    "Now minus the oldest due retry not yet claimed.",
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("registered once");
                g
            },
            dead_letters: counter_vec(
                &r,
                "hookpost_dead_letters_total",
                "Messages dead-lettered.",
                &["reason"],
            ),
            amqp_reconnects: counter_vec(
                &r,
                "hookpost_amqp_reconnects_total",
                "New AMQP connections after a loss.",
                &["role"],
            ),
            redis_errors: counter_vec(
                &r,
                "hookpost_redis_errors_total",
                "Redis commands that failed.",
                &["role"],
            ),
            redis_rebuilds: counter(
                &r,
                "hookpost_redis_rebuilds_total",
                "Times Redis was rebuilt from PostgreSQL after it came back empty.",
            ),
            redis_resyncs: counter(
                &r,
                "hookpost_redis_resyncs_total",
                "Times Redis came back from a restart or fail-over with its data, perhaps without its last writes, and what waits for an attempt was put back from PostgreSQL.",
            ),
            db_errors: counter_vec(
                &r,
                "hookpost_db_errors_total",
                "PostgreSQL statements that failed.",
                &["role"],
            ),
            db_batch_size: histogram(
                &r,
                "hookpost_db_batch_size",
                "Writes (one event's outcomes each) committed in one PostgreSQL transaction.",
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
            ),
            db_commit_seconds: histogram(
                &r,
                "hookpost_db_commit_seconds",
                "From BEGIN to the answer of COMMIT of the worker's group writes.",
                WAIT_BUCKETS,
            ),
            db_pool_wait_seconds: histogram(
                &r,
                "hookpost_db_pool_wait_seconds",
                "How long a PostgreSQL query waited for a pooled connection.",
                WAIT_BUCKETS,
            ),
            db_groups_again: counter(
                &r,
                "hookpost_db_groups_again_total",
                "Groups of the worker's log writes, all first sights, that found a row written before (a write made again) and went again by their keys.",
            ),
            broker_errors: counter_vec(
                &r,
                "hookpost_broker_errors_total",
                "RabbitMQ publishes that failed or were not confirmed.",
                &["role"],
            ),
            http_request_duration: histogram_vec(
                &r,
                "hookpost_http_request_duration_seconds",
                "HTTP requests to the API and the console, by route pattern, method and status code.",
                &["route", "method", "code"],
                HTTP_BUCKETS,
            ),
            role_info: {
                let g = IntGaugeVec::new(
                    Opts::new("hookpost_role_info", "1 for each role this process runs."),
                    &["role"],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("registered once");
                g
            },
            build_info: {
                let g = IntGaugeVec::new(
                    Opts::new("hookpost_build_info", "1, labelled with the build's version and git commit."),
                    &["version", "commit"],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("registered once");
                g
            },
            consumers_active: gauge(
                &r,
                "hookpost_consumers_active",
                "Queues this process consumes.",
            ),
            overflow_whole_prefetch: gauge(
                &r,
                "hookpost_overflow_whole_prefetch",
                "Worker lanes consuming the overflow queue with the whole prefetch (one tenant alone at them).",
            ),
            redis_persistence: {
                let g = IntGaugeVec::new(
                    Opts::new(
                        "hookpost_redis_persistence",
                        "1 for what the Redis server keeps on disk.",
                    ),
                    &["mode"],
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("registered once");
                g
            },
            auth_failures: counter_vec(
                &r,
                "hookpost_auth_failures_total",
                "Failed authentications: refused, or throttled after too many from one address.",
                &["surface", "answer"],
            ),
            registry: r,
        };
        let types = hookpost_core::catalogue::DEFAULT_TYPES
            .iter()
            .map(|(kind, _)| *kind);
        for kind in types.chain([hookpost_core::catalogue::OTHER]) {
            for path in INTAKE_PATHS {
                m.events_published.with_label_values(&[kind, path]);
            }
        }
        for stage in ["first_attempt", "delivered"] {
            m.event_delivery.with_label_values(&[stage]);
        }
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("HOOKPOST_BUILD_COMMIT")])
            .set(1);
        #[cfg(target_os = "linux")]
        m.registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("registered once");
        for reason in REJECT_REASONS {
            m.events_rejected.with_label_values(&[reason]);
        }
        for result in PROCESS_RESULTS {
            m.events_processed.with_label_values(&[result]);
        }
        for kind in hookpost_core::outcome::OutcomeKind::ALL {
            m.attempts.with_label_values(&[kind.as_str()]);
        }
        for reason in hookpost_core::labels::DeadLetterReason::ALL {
            m.dead_letters.with_label_values(&[reason.as_str()]);
        }
        for role in Role::ALL {
            m.amqp_reconnects.with_label_values(&[role.as_str()]);
            m.redis_errors.with_label_values(&[role.as_str()]);
            m.db_errors.with_label_values(&[role.as_str()]);
            m.broker_errors.with_label_values(&[role.as_str()]);
        }
        for reason in hookpost_core::labels::DeferReason::ALL {
            m.deferred.with_label_values(&[reason.as_str()]);
        }
        // The scheduler runs no filters.
        for role in [Role::Ingest, Role::Worker] {
            m.filter_budget_exhausted
                .with_label_values(&[role.as_str()]);
        }
        for reason in ["gone", "failing"] {
            m.hooks_disabled.with_label_values(&[reason]);
        }
        for lane in hookpost_core::labels::Lane::ALL {
            m.publish_confirm_seconds
                .with_label_values(&[lane.as_str()]);
        }
        for ask in ["events", "lane"] {
            m.intake_asks.with_label_values(&[ask]);
        }
        for surface in ["api", "console"] {
            for answer in ["refused", "throttled"] {
                m.auth_failures.with_label_values(&[surface, answer]);
            }
        }
        m
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding never fails");
        String::from_utf8(out).expect("text format is UTF-8")
    }

    /// Times an API request; `route` is the matched pattern, never the raw path.
    pub fn http_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let method = HTTP_METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other");
        let code = status.to_string();
        self.http_request_duration
            .with_label_values(&[route, method, &code])
            .observe(seconds);
    }

    /// Says this process runs `role`.
    pub fn role_started(&self, role: Role) {
        self.role_info.with_label_values(&[role.as_str()]).set(1);
    }

    /// Counts an accepted event; `path` is one of [`INTAKE_PATHS`].
    pub fn event_accepted(&self, type_label: &str, path: &str) {
        self.events_published
            .with_label_values(&[type_label, path])
            .inc();
    }

    /// Records one attempt whose outcome is known. `accepted_ms` is when hookpost
    /// accepted the event; `first` marks the delivery's first attempt. Operators' resends
    /// are no part of the event's latency: pass `None` for them.
    pub fn attempt_made(
        &self,
        attempt: &hookpost_core::outcome::Attempt,
        accepted_ms: Option<i64>,
    ) {
        self.attempts
            .with_label_values(&[attempt.outcome.as_str()])
            .inc();
        self.attempt_duration
            .observe(attempt.duration_ms as f64 / 1000.0);
        let Some(accepted) = accepted_ms else { return };
        let since = |at_ms: i64| (at_ms - accepted).max(0) as f64 / 1000.0;
        if attempt.attempt == 1 {
            self.event_delivery
                .with_label_values(&["first_attempt"])
                .observe(since(attempt.at));
        }
        if attempt.delivered() {
            let ended = attempt.at + attempt.duration_ms as i64;
            self.event_delivery
                .with_label_values(&["delivered"])
                .observe(since(ended));
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpost_core::outcome::{Attempt, OutcomeKind};
    use std::collections::BTreeMap;

    /// Every family and its label names. A new label (say, a hook id) must be added here
    /// on purpose, where a reviewer sees it.
    #[test]
    fn label_sets_are_pinned() {
        let m = Metrics::new();
        m.http_request("/v1/events", "POST", 202, 0.01);
        m.redis_persistence.with_label_values(&["none"]).set(1);
        m.role_started(Role::Worker);
        m.attempt_duration.observe(0.1);
        let mut families: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in m.registry.gather() {
            if !f.name().starts_with("hookpost_") {
                continue;
            }
            let labels = f
                .get_metric()
                .first()
                .map(|s| s.get_label().iter().map(|l| l.name().to_owned()).collect())
                .unwrap_or_default();
            families.insert(f.name().to_owned(), labels);
        }
        let pinned: BTreeMap<String, Vec<String>> = [
            ("hookpost_amqp_reconnects_total", &["role"][..]),
            ("hookpost_attempt_duration_seconds", &[]),
            ("hookpost_auth_failures_total", &["answer", "surface"]),
            ("hookpost_consumers_active", &[]),
            ("hookpost_overflow_whole_prefetch", &[]),
            ("hookpost_dead_letters_total", &["reason"]),
            ("hookpost_deliveries_deferred_total", &["reason"]),
            ("hookpost_slow_attempts_released_total", &[]),
            ("hookpost_fairness_moved_total", &[]),
            ("hookpost_deliveries_failed_total", &[]),
            ("hookpost_deliveries_filtered_total", &[]),
            ("hookpost_deliveries_in_flight", &[]),
            ("hookpost_events_overflowed_total", &[]),
            ("hookpost_intake_asks_total", &["ask"]),
            ("hookpost_publish_confirm_seconds", &["lane"]),
            ("hookpost_events_processed_total", &["result"]),
            ("hookpost_delivery_attempts_total", &["outcome"]),
            ("hookpost_event_delivery_seconds", &["stage"]),
            ("hookpost_events_published_total", &["path", "type"]),
            ("hookpost_events_rejected_total", &["reason"]),
            ("hookpost_filter_budget_exhausted_total", &["role"]),
            ("hookpost_hooks_disabled_total", &["reason"]),
            (
                "hookpost_http_request_duration_seconds",
                &["code", "method", "route"],
            ),
            ("hookpost_build_info", &["commit", "version"]),
            ("hookpost_role_info", &["role"]),
            ("hookpost_ordering_blocks_total", &[]),
            ("hookpost_redis_errors_total", &["role"]),
            ("hookpost_broker_errors_total", &["role"]),
            ("hookpost_db_errors_total", &["role"]),
            ("hookpost_redis_rebuilds_total", &[]),
            ("hookpost_redis_resyncs_total", &[]),
            ("hookpost_db_batch_size", &[]),
            ("hookpost_db_commit_seconds", &[]),
            ("hookpost_db_pool_wait_seconds", &[]),
            ("hookpost_db_groups_again_total", &[]),
            ("hookpost_redis_persistence", &["mode"]),
            ("hookpost_retries_claimed_total", &[]),
            ("hookpost_retries_due", &[]),
            ("hookpost_retries_scheduled_total", &[]),
            ("hookpost_retry_set_size", &[]),
            ("hookpost_scheduler_lag_seconds", &[]),
        ]
        .into_iter()
        .map(|(n, l)| (n.to_owned(), l.iter().map(|s| s.to_string()).collect()))
        .collect();
        assert_eq!(families, pinned);
    }

    /// The label values every enum-labelled family starts with. Dashboards and alerts
    /// match these strings: renaming one must fail here.
    #[test]
    fn label_values_are_pinned() {
        let m = Metrics::new();
        // (family, label name) -> the values registered up front.
        let mut values: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for f in m.registry.gather() {
            for series in f.get_metric() {
                for l in series.get_label() {
                    let key = (f.name().to_owned(), l.name().to_owned());
                    let seen = values.entry(key).or_default();
                    if !seen.iter().any(|v| v == l.value()) {
                        seen.push(l.value().to_owned());
                    }
                }
            }
        }
        let roles = &["ingest", "scheduler", "worker"][..];
        let pinned: [(&str, &str, &[&str]); 14] = [
            (
                "hookpost_deliveries_deferred_total",
                "reason",
                &[
                    "hook_concurrency",
                    "max_in_flight",
                    "ordering",
                    "rate_limit",
                ],
            ),
            (
                "hookpost_dead_letters_total",
                "reason",
                &[
                    "invalid_data",
                    "invalid_event",
                    "invalid_field",
                    "invalid_json",
                    "invalid_task",
                    "missing_field",
                    "too_deep",
                    "too_large",
                    "unknown_event_type",
                    "unknown_tenant",
                ],
            ),
            ("hookpost_amqp_reconnects_total", "role", roles),
            ("hookpost_redis_errors_total", "role", roles),
            ("hookpost_db_errors_total", "role", roles),
            ("hookpost_broker_errors_total", "role", roles),
            (
                "hookpost_filter_budget_exhausted_total",
                "role",
                &["ingest", "worker"],
            ),
            (
                "hookpost_delivery_attempts_total",
                "outcome",
                &[
                    "connect",
                    "delivered",
                    "dns",
                    "http_status",
                    "refused_by_policy",
                    "timeout",
                    "tls",
                ],
            ),
            (
                "hookpost_events_published_total",
                "path",
                &["api", "exchange"],
            ),
            (
                "hookpost_events_rejected_total",
                "reason",
                &["broker_unavailable", "invalid", "rate_limited", "too_large"],
            ),
            (
                "hookpost_events_processed_total",
                "result",
                &["busy", "duplicate", "new", "takeover"],
            ),
            (
                "hookpost_hooks_disabled_total",
                "reason",
                &["failing", "gone"],
            ),
            (
                "hookpost_event_delivery_seconds",
                "stage",
                &["delivered", "first_attempt"],
            ),
            (
                "hookpost_publish_confirm_seconds",
                "lane",
                &["fair", "light", "overflow"],
            ),
        ];
        for (family, label, expected) in pinned {
            let mut got = values
                .get(&(family.to_owned(), label.to_owned()))
                .cloned()
                .unwrap_or_default();
            got.sort_unstable();
            assert_eq!(got, expected, "{family}{{{label}}}");
        }
        for role in Role::ALL {
            m.role_started(role);
        }
        let started: Vec<i64> = roles
            .iter()
            .map(|r| m.role_info.with_label_values(&[r]).get())
            .collect();
        assert_eq!(started, [1, 1, 1], "role_info uses the same role names");
    }

    fn attempt(n: u32, at: i64, ms: u64, outcome: OutcomeKind) -> Attempt {
        Attempt {
            attempt: n,
            at,
            duration_ms: ms,
            outcome,
            status: None,
            error: None,
            response: None,
            retry_after_s: None,
            signatures: None,
            uuid: None,
        }
    }

    fn stage(m: &Metrics, stage: &str) -> (u64, f64) {
        let h = m.event_delivery.with_label_values(&[stage]);
        (h.get_sample_count(), h.get_sample_sum())
    }

    #[test]
    fn event_latency_counts_first_attempts_and_deliveries_but_not_resends() {
        let m = Metrics::new();
        m.attempt_made(&attempt(1, 10_500, 250, OutcomeKind::Timeout), Some(10_000));
        assert_eq!(stage(&m, "first_attempt"), (1, 0.5));
        assert_eq!(stage(&m, "delivered").0, 0);
        m.attempt_made(
            &attempt(2, 70_000, 1_000, OutcomeKind::Delivered),
            Some(10_000),
        );
        assert_eq!(
            stage(&m, "first_attempt").0,
            1,
            "a retry is no first attempt"
        );
        assert_eq!(stage(&m, "delivered"), (1, 61.0));
        m.attempt_made(&attempt(1, 90_000, 10, OutcomeKind::Delivered), None);
        assert_eq!(
            stage(&m, "delivered").0,
            1,
            "a resend is no part of the latency"
        );
        let attempts = |o: &str| m.attempts.with_label_values(&[o]).get();
        assert_eq!((attempts("delivered"), attempts("timeout")), (2, 1));
        assert_eq!(m.attempt_duration.get_sample_count(), 3);
    }

    #[test]
    fn methods_outside_the_known_set_make_no_series() {
        let m = Metrics::new();
        m.http_request("/v1/hooks", "BREW", 404, 0.001);
        let text = m.render();
        assert!(
            text.contains(r#"code="404",method="other",route="/v1/hooks""#),
            "{text}"
        );
        assert!(!text.contains("BREW"));
    }

    #[test]
    fn build_info_and_the_process_collector_are_exported() {
        let text = Metrics::new().render();
        let info = format!(
            r#"hookpost_build_info{{commit="{}",version="{}"}} 1"#,
            env!("HOOKPOST_BUILD_COMMIT"),
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&info), "{text}");
        #[cfg(target_os = "linux")]
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
        ] {
            assert!(text.contains(&format!("\n{name} ")), "{name} missing");
        }
    }
}
