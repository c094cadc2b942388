//! Prometheus metrics. Labels take values from closed sets only (outcome kinds, reasons,
//! routes), never hook ids, URLs or tenants, so cardinality stays fixed.

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Events ingest accepted (RabbitMQ confirmed them), by type from the catalogue
    /// (`other` for the rest).
    pub events_published: IntCounterVec,
    /// Events ingest refused, by reason: invalid, too_large, broker_unavailable,
    /// rate_limited.
    pub events_rejected: IntCounterVec,
    /// Events the worker took, by result: new, duplicate, takeover, busy.
    pub events_processed: IntCounterVec,
    /// Attempts by outcome kind.
    pub deliveries: IntCounterVec,
    /// Deliveries that failed after the whole schedule.
    pub deliveries_failed: IntCounter,
    /// Ordering keys blocked by a failed delivery of a hook that blocks on failure.
    pub ordered_blocks: IntCounter,
    pub attempt_duration: Histogram,
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
    /// Publishes RabbitMQ did not confirm (or could not take), by role.
    pub broker_errors: IntCounterVec,
    /// API requests by route (its pattern) and status class.
    pub http_requests: IntCounterVec,
    /// Queues this process consumes now.
    pub consumers_active: IntGauge,
    /// 1 for what the Redis server keeps on disk: `aof_always`, `aof`, `snapshots`, `none`.
    pub redis_persistence: prometheus::IntGaugeVec,
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

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("valid metric");
    r.register(Box::new(g.clone())).expect("registered once");
    g
}

/// Label values known up front, so every series exists from the start (a rate over a
/// series that appears late misses its first increase).
pub const REJECT_REASONS: &[&str] = &["invalid", "too_large", "broker_unavailable", "rate_limited"];
pub const PROCESS_RESULTS: &[&str] = &["new", "duplicate", "takeover", "busy"];
pub const ROLES: &[&str] = &["ingest", "worker", "scheduler"];

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let m = Metrics {
            events_published: counter_vec(
                &r,
                "hookpost_events_published_total",
                "Events ingest accepted, confirmed by RabbitMQ.",
                &["type"],
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
            deliveries: counter_vec(
                &r,
                "hookpost_deliveries_total",
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
            broker_errors: counter_vec(
                &r,
                "hookpost_broker_errors_total",
                "RabbitMQ publishes that failed or were not confirmed.",
                &["role"],
            ),
            http_requests: counter_vec(
                &r,
                "hookpost_http_requests_total",
                "HTTP requests to the API and the console.",
                &["route", "class"],
            ),
            consumers_active: gauge(
                &r,
                "hookpost_consumers_active",
                "Queues this process consumes.",
            ),
            redis_persistence: {
                let g = prometheus::IntGaugeVec::new(
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
        for (kind, _) in hookpost_core::catalogue::DEFAULT_TYPES {
            m.events_published.with_label_values(&[kind]);
        }
        m.events_published
            .with_label_values(&[hookpost_core::catalogue::OTHER]);
        for reason in REJECT_REASONS {
            m.events_rejected.with_label_values(&[reason]);
        }
        for result in PROCESS_RESULTS {
            m.events_processed.with_label_values(&[result]);
        }
        for kind in hookpost_core::outcome::OutcomeKind::ALL {
            m.deliveries.with_label_values(&[kind.as_str()]);
        }
        for reason in hookpost_core::labels::DeadLetterReason::ALL {
            m.dead_letters.with_label_values(&[reason.as_str()]);
        }
        for role in ROLES {
            m.amqp_reconnects.with_label_values(&[role]);
            m.redis_errors.with_label_values(&[role]);
            m.broker_errors.with_label_values(&[role]);
        }
        for reason in hookpost_core::labels::DeferReason::ALL {
            m.deferred.with_label_values(&[reason.as_str()]);
        }
        for role in ["ingest", "worker"] {
            m.filter_budget_exhausted.with_label_values(&[role]);
        }
        for reason in ["gone", "failing"] {
            m.hooks_disabled.with_label_values(&[reason]);
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

    /// Counts an API request; `route` is the matched pattern, never the raw path.
    pub fn http_request(&self, route: &str, status: u16) {
        let class = match status {
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_requests.with_label_values(&[route, class]).inc();
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
    use std::collections::BTreeMap;

    /// Every family and its label names. A new label (say, a hook id) must be added here
    /// on purpose, where a reviewer sees it.
    #[test]
    fn label_sets_are_pinned() {
        let m = Metrics::new();
        m.http_request("/v1/events", 202);
        m.redis_persistence.with_label_values(&["none"]).set(1);
        m.attempt_duration.observe(0.1);
        let mut families: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in m.registry.gather() {
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
            ("hookpost_dead_letters_total", &["reason"]),
            ("hookpost_deliveries_deferred_total", &["reason"]),
            ("hookpost_slow_attempts_released_total", &[]),
            ("hookpost_fairness_moved_total", &[]),
            ("hookpost_deliveries_failed_total", &[]),
            ("hookpost_deliveries_filtered_total", &[]),
            ("hookpost_deliveries_in_flight", &[]),
            ("hookpost_deliveries_total", &["outcome"]),
            ("hookpost_events_processed_total", &["result"]),
            ("hookpost_events_published_total", &["type"]),
            ("hookpost_events_rejected_total", &["reason"]),
            ("hookpost_filter_budget_exhausted_total", &["role"]),
            ("hookpost_hooks_disabled_total", &["reason"]),
            ("hookpost_http_requests_total", &["class", "route"]),
            ("hookpost_ordering_blocks_total", &[]),
            ("hookpost_redis_errors_total", &["role"]),
            ("hookpost_broker_errors_total", &["role"]),
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
}
