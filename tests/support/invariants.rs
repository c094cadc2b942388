//! The invariant every fault scenario ends with. For every accepted event (202, or a
//! confirmed publish) and every hook subscribed to it, the receiver saw the delivery
//! answered 2xx at least once, or the log shows it failed after the whole schedule.
//! Delivery is at least once: duplicates are counted and reported, not forbidden.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hookpost_core::delivery::delivery_id;
use serde_json::{json, Value};

use crate::receiver::Answer;
use crate::{Receiver, TestApp};

/// The hooks a load scenario delivers to, for tenant "acme" of `key`: one healthy, one
/// slow (its deliveries are in flight when a fault comes), one that fails every first
/// attempt (so retries go through the retry set and the scheduler while things break).
pub async fn three_hooks(app: &TestApp, key: &str) -> ([Receiver; 3], Ledger) {
    let receivers = [
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    ];
    receivers[1].set_latency(Duration::from_millis(20));
    receivers[2].answer_always(Answer::FirstAttemptFails);
    let mut hooks = Vec::new();
    for rx in &receivers {
        hooks.push(app.hook(key, &rx.url, &["*"]).await);
    }
    (receivers, Ledger::new("acme", &hooks))
}

/// What a scenario promised: the events accepted for one tenant, and its hooks.
pub struct Ledger {
    pub tenant: String,
    pub hooks: Vec<String>,
    pub events: Vec<String>,
    /// Requests answered 503 (nothing accepted), for the report.
    pub refused: usize,
}

/// How a scenario ended.
#[derive(Debug)]
pub struct Tally {
    pub events: usize,
    pub deliveries: usize,
    pub delivered: usize,
    /// Failed after the whole schedule (a legitimate end, shown in the log).
    pub failed: usize,
    /// Neither delivered nor failed: the promise broken.
    pub lost: Vec<String>,
    /// 2xx answers beyond the first, per delivery.
    pub duplicates: usize,
}

impl Tally {
    pub fn duplicates_per_10k(&self) -> f64 {
        self.duplicates as f64 * 10_000.0 / self.deliveries.max(1) as f64
    }
}

impl Ledger {
    pub fn new(tenant: &str, hooks: &[Value]) -> Ledger {
        Ledger {
            tenant: tenant.to_owned(),
            hooks: hooks
                .iter()
                .map(|h| h["id"].as_str().expect("a hook id").to_owned())
                .collect(),
            events: Vec::new(),
            refused: 0,
        }
    }

    fn expected(&self) -> Vec<String> {
        let mut ids = Vec::with_capacity(self.events.len() * self.hooks.len());
        for event in &self.events {
            for hook in &self.hooks {
                ids.push(delivery_id(&self.tenant, event, hook));
            }
        }
        ids
    }

    /// Posts `n` events in batches of `batch` over the API, keeping what was accepted.
    /// A batch answered 503 is counted as refused and sent again, as a producer would.
    pub async fn post(&mut self, app: &TestApp, key: &str, n: usize, batch: usize) {
        let mut sent = 0;
        while sent < n {
            let size = batch.min(n - sent);
            let events: Vec<Value> = (sent..sent + size)
                .map(|i| json!({"type": "ticket.created", "data": {"n": i}}))
                .collect();
            let r = app.post_batch(key, &events).await;
            match r.status().as_u16() {
                202 => {
                    let body: Value = r.json().await.unwrap();
                    self.events.extend(
                        body["ids"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|id| id.as_str().unwrap().to_owned()),
                    );
                    sent += size;
                }
                503 => {
                    self.refused += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => panic!("a batch answered {other}: {}", r.text().await.unwrap()),
            }
        }
    }

    /// Waits up to `timeout` for every expected delivery to end, then tallies, prints
    /// the report line and asserts that nothing was lost.
    pub async fn settle(
        &self,
        scenario: &str,
        app: &TestApp,
        receivers: &[&Receiver],
        max_attempts: usize,
        timeout: Duration,
    ) -> Tally {
        let expected = self.expected();
        let started = Instant::now();
        let tally = loop {
            let tally = self.tally(app, receivers, &expected, max_attempts).await;
            if tally.lost.is_empty() || started.elapsed() > timeout {
                break tally;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        eprintln!(
            "fault report | {scenario} | events {} | deliveries {} | delivered {} | failed {} | lost {} | duplicates {} ({:.1} per 10,000) | 503s {}",
            tally.events,
            tally.deliveries,
            tally.delivered,
            tally.failed,
            tally.lost.len(),
            tally.duplicates,
            tally.duplicates_per_10k(),
            self.refused,
        );
        for id in tally.lost.iter().take(3) {
            eprintln!("lost {id}: {}", self.trace(app, id).await);
        }
        assert!(
            tally.lost.is_empty(),
            "{scenario}: {} deliveries lost, e.g. {:?}",
            tally.lost.len(),
            &tally.lost[..tally.lost.len().min(5)]
        );
        tally
    }

    /// What the stores hold of a lost delivery and its event, to tell where it stopped.
    async fn trace(&self, app: &TestApp, id: &str) -> String {
        let t = &self.tenant;
        let Some((event, hook)) = self.events.iter().find_map(|e| {
            let h = self.hooks.iter().find(|h| delivery_id(t, e, h) == id)?;
            Some((e.as_str(), h.as_str()))
        }) else {
            return "not one of the ledger's".into();
        };
        let k = app.store.keys();
        let mut conn = app.store.conn();
        // The state holds the lease: `p:<received_at>:<lease end>`.
        let (state, kept, hot): (
            Option<String>,
            bool,
            std::collections::HashMap<String, String>,
        ) = redis::pipe()
            .get(k.event_state(t, event))
            .exists(k.event(t, event))
            .hgetall(k.delivery(t, id))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        let logged = app
            .db
            .delivery(t, id)
            .await
            .ok()
            .flatten()
            .map(|d| format!("{} after {} attempts", d.status.as_str(), d.attempts.len()));
        format!(
            "event {event} hook {hook}: state {state:?}, kept {kept}, hot {hot:?}, \
             logged {logged:?}"
        )
    }

    async fn tally(
        &self,
        app: &TestApp,
        receivers: &[&Receiver],
        expected: &[String],
        max_attempts: usize,
    ) -> Tally {
        let mut ok: HashMap<String, usize> = HashMap::new();
        for rx in receivers {
            for r in rx.delivered() {
                *ok.entry(r.delivery_id()).or_default() += 1;
            }
        }
        let mut tally = Tally {
            events: self.events.len(),
            deliveries: expected.len(),
            delivered: 0,
            failed: 0,
            lost: Vec::new(),
            duplicates: ok.values().map(|n| n - 1).sum(),
        };
        for id in expected {
            if ok.contains_key(id) {
                tally.delivered += 1;
                continue;
            }
            let logged = app.db.delivery(&self.tenant, id).await.ok().flatten();
            match logged {
                Some(d) if d.status.as_str() == "failed" && d.attempts.len() >= max_attempts => {
                    tally.failed += 1
                }
                _ => tally.lost.push(id.clone()),
            }
        }
        tally
    }
}

/// How many times longer the fault scenarios run: `HOOKPOST_FAULT_SCALE` (default 1, the
/// short versions of the default test run; the README's soak command sets more).
pub fn scale() -> usize {
    std::env::var("HOOKPOST_FAULT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}
