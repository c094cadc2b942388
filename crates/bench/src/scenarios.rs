//! The scenarios. Each starts its own hookpost under a fresh prefix, measures, and
//! removes everything it made.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hookpost::Roles;
use hookpost_broker::Topology;
use hookpost_core::Config;
use hookpost_store::Store;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::BasicProperties;
use serde_json::json;

use crate::launch::Hookpost;
use crate::rebuild::Waiting;
use crate::receiver::Receivers;
use crate::{percentile, procstat, NoisyVia, Options, Report};

const ADMIN: &str = "hp-bench-Q4w8Ez2Rt6Yu0Ip3As7Df1Gh5Jk9Lz";
/// Distinct `ticket.id`s in the events the API is sent (the `ordered` scenario's keys).
const TICKETS: usize = 100;

/// hookpost running for one scenario, with a tenant and its key.
pub struct Bench {
    pub config: Config,
    pub hookpost: Option<Hookpost>,
    /// The bench's own connection to hookpost's Redis keys (set-up and clean-up).
    pub store: Store,
    pub base: String,
    pub http: reqwest::Client,
    pub key: String,
    pub rx: Receivers,
    cpu_start: Vec<(&'static str, u32, f64)>,
    /// Redis commands, PostgreSQL CPU and database size at the start.
    stores_start: crate::stores::StoreCounters,
}

/// A key and database prefix of a run's own, so that runs side by side share nothing.
pub(crate) fn run_prefix() -> String {
    format!("bench{}", &hookpost_core::ids::random_id("x")[2..10])
}

impl Bench {
    pub async fn start(o: &Options, roles: Roles) -> anyhow::Result<Bench> {
        Bench::start_with(o, roles, false).await
    }

    /// `default_intake`: keep the deployment's intake limit (the environment's, else the
    /// default) instead of the benches' own, far above it.
    pub async fn start_with(
        o: &Options,
        roles: Roles,
        default_intake: bool,
    ) -> anyhow::Result<Bench> {
        let prefix = run_prefix();
        let base_config = Config::from_env().context("configuration")?;
        // Every role needs HOOKPOST_SECRET_KEY; a run's prefix is its own, so a fresh key
        // serves when none is set (child roles are given it with the rest).
        let secret_keys = match base_config.secret_keys.clone() {
            Some(keys) => keys,
            None => hookpost_core::secret_key::SecretKeys::parse(
                &hookpost_core::secret_key::SecretKeys::generate("bench"),
            )
            .map_err(anyhow::Error::msg)?,
        };
        // A database of the run's own on HOOKPOST_DATABASE_URL's server, dropped at the end.
        let database_url = hookpost_db::scratch::with_database(&base_config.database_url, &prefix);
        let config = Config {
            prefix,
            database_url,
            secret_keys: Some(secret_keys),
            admin_token: Some(ADMIN.into()),
            allow_private_targets: true,
            retry_schedule: hookpost_core::retry::RetrySchedule::new(vec![Duration::from_secs(
                3600,
            )]),
            request_timeout: Duration::from_secs(5),
            // The benches measure hookpost's capacity, far above a tenant's default
            // intake limit (but `noisy-neighbour` measures that limit at work).
            tenant_rate: match default_intake {
                true => base_config.tenant_rate,
                false => hookpost_store::intake::MAX_INTAKE,
            },
            tenant_burst: match default_intake {
                true => base_config.tenant_burst,
                false => hookpost_store::intake::MAX_INTAKE,
            },
            ..base_config
        };
        let store = hookpost::store(&config)?;
        let rx = Receivers::start().await?;
        // From here the run has made things of its own: a start that fails removes them
        // (a build that refuses the schema, say), as `finish` does.
        let started = async {
            hookpost::migrate(&config).await?; // `hookpost admin init`
            store.init_marker().await?;
            Hookpost::start(o.hookpost.as_deref(), &config, roles).await
        };
        let hookpost = match started.await {
            Ok(h) => h,
            Err(e) => {
                remove_made(&config, &store).await?;
                return Err(e);
            }
        };
        let base = format!("http://{}", hookpost.http_addr().context("ingest runs")?);
        let cpu_start = procstat::cpu_now(procstat::processes(
            Some(&config.redis_url),
            o.hookpost.is_none(),
        ));
        let mut b = Bench {
            config,
            hookpost: Some(hookpost),
            store,
            base,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()?,
            key: String::new(),
            rx,
            cpu_start,
            stores_start: Default::default(),
        };
        b.count_stores_from_now().await;
        match b.tenant("bench").await {
            Ok(key) => b.key = key,
            Err(e) => {
                b.finish().await?;
                return Err(e);
            }
        }
        Ok(b)
    }

    async fn tenant(&self, id: &str) -> anyhow::Result<String> {
        let url = format!("{}/v1/tenants", self.base);
        self.http
            .post(url)
            .bearer_auth(ADMIN)
            .json(&json!({"id": id}))
            .send()
            .await?
            .error_for_status()?;
        let url = format!("{}/v1/tenants/{id}/keys", self.base);
        let r: serde_json::Value = self
            .http
            .post(url)
            .bearer_auth(ADMIN)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(r["key"].as_str().context("a key")?.to_owned())
    }

    pub async fn hook(&self, key: &str, url: &str) -> anyhow::Result<()> {
        self.hook_with(key, url, json!({})).await
    }

    /// A hook with more fields (`ordering`, …).
    pub async fn hook_with(
        &self,
        key: &str,
        url: &str,
        more: serde_json::Value,
    ) -> anyhow::Result<()> {
        let mut body = json!({"url": url, "events": ["*"]});
        if let (Some(b), Some(m)) = (body.as_object_mut(), more.as_object()) {
            b.extend(m.clone());
        }
        self.http
            .post(format!("{}/v1/hooks", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Publishes events `ids` (their numbers) for `tenant` straight to the exchange, with
    /// confirms awaited in windows of 1,000 (as a fast producer would).
    pub async fn publish_amqp(
        &self,
        tenant: &str,
        ids: std::ops::Range<usize>,
        payload_bytes: usize,
    ) -> anyhow::Result<()> {
        let conn = hookpost_broker::connect(
            &self.config.amqp_url,
            "bench-producer",
            Duration::from_secs(5),
        )
        .await?;
        let ch = conn.create_channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        let exchange = Topology::new(&self.config.prefix).exchange;
        let pad = crate::filler(payload_bytes.saturating_sub(40));
        let (mut sent, n) = (ids.start, ids.end);
        let body_of = |i: usize| {
            format!(
                r#"{{"id":"e{i}","tenant":"{tenant}","type":"ticket.created","data":{{"i":{i},"sent_at_us":{},"pad":"{pad}"}}}}"#,
                crate::now_us()
            )
        };
        // message_id = the event id: with queue shards, what the hash exchange spreads by.
        let props_of = |i: usize| {
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_message_id(format!("e{i}").into())
        };
        // Mandatory: a message no queue takes comes back. A binding declared a moment ago
        // may not route yet, so the first message is sent again until it is taken.
        let mandatory = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let mut tries = 0;
        while sent < n {
            let c = ch
                .basic_publish(
                    exchange.as_str().into(),
                    "ticket.created".into(),
                    mandatory,
                    body_of(sent).as_bytes(),
                    props_of(sent),
                )
                .await?
                .await?;
            match c {
                lapin::Confirmation::Ack(None) => {
                    sent += 1;
                    break;
                }
                _ if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => bail!("RabbitMQ did not take the first event: {other:?}"),
            }
        }
        while sent < n {
            let mut confirms = Vec::with_capacity(1000);
            for i in sent..(sent + 1000).min(n) {
                confirms.push(
                    ch.basic_publish(
                        exchange.as_str().into(),
                        "ticket.created".into(),
                        mandatory,
                        body_of(i).as_bytes(),
                        props_of(i),
                    )
                    .await?,
                );
            }
            sent += confirms.len();
            crate::amqp::confirmed(confirms).await?;
        }
        hookpost_broker::close(&conn, "done").await;
        Ok(())
    }

    /// POSTs `n` events at `concurrency`, `batch` per request; returns request latencies (ms).
    pub async fn post_http(
        &self,
        n: usize,
        concurrency: usize,
        batch: usize,
        payload_bytes: usize,
    ) -> anyhow::Result<Vec<f64>> {
        let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
        let pad = crate::filler(payload_bytes.saturating_sub(40));
        let mut tasks = tokio::task::JoinSet::new();
        let mut sent = 0;
        while sent < n {
            let k = batch.min(n - sent);
            let events: Vec<serde_json::Value> = (sent..sent + k)
                .map(|i| json!({"id": format!("h{i}"), "type": "ticket.created", "data": {"i": i, "ticket": {"id": i % TICKETS}, "sent_at_us": crate::now_us(), "pad": pad}}))
                .collect();
            sent += k;
            let (url, body) = if batch == 1 {
                (format!("{}/v1/events", self.base), events[0].clone())
            } else {
                (
                    format!("{}/v1/events/batch", self.base),
                    serde_json::Value::Array(events),
                )
            };
            let permit = sem.clone().acquire_owned().await?;
            let (http, key) = (self.http.clone(), self.key.clone());
            tasks.spawn(async move {
                let start = Instant::now();
                let r = http.post(url).bearer_auth(key).json(&body).send().await;
                drop(permit);
                match r {
                    Ok(r) if r.status() == 202 => Ok(start.elapsed().as_secs_f64() * 1000.0),
                    Ok(r) => Err(anyhow::anyhow!("ingest answered {}", r.status())),
                    Err(e) => Err(e.into()),
                }
            });
        }
        let mut latencies = Vec::with_capacity(n);
        while let Some(r) = tasks.join_next().await {
            latencies.push(r??);
        }
        Ok(latencies)
    }

    /// Waits until the receivers saw `n` distinct deliveries, or the deadline passes.
    pub async fn wait_for(&self, n: usize, deadline_s: u64) -> bool {
        let start = Instant::now();
        let mut last_report = Instant::now();
        while self.rx.distinct() < n {
            if start.elapsed() > Duration::from_secs(deadline_s) {
                return false;
            }
            if last_report.elapsed() > Duration::from_secs(2) {
                eprintln!("  … {}/{} deliveries", self.rx.distinct(), n);
                last_report = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// CPU seconds used so far by each process that takes part.
    fn cpu_s(&self) -> BTreeMap<String, f64> {
        let hookpost = self.hookpost.iter().flat_map(|h| h.pids());
        let named = self
            .cpu_start
            .iter()
            .map(|(n, pid, _)| (n.to_string(), *pid));
        named
            .chain(hookpost)
            .filter_map(|(n, pid)| Some((n, procstat::sample(pid)?.cpu_s)))
            .collect()
    }

    /// One turn: events `ids` published for `tenant`, until its healthy deliveries are in.
    async fn turn(&self, tenant: &str, ids: Range<usize>, o: &Options) -> anyhow::Result<Turn> {
        let (before, cpu, start) = (self.rx.distinct(), self.cpu_s(), Instant::now());
        let postgres = crate::stores::postgres_cpu_s();
        let n = ids.len();
        self.publish_amqp(tenant, ids, o.payload_bytes).await?;
        self.wait_for(before + n, o.deadline_s).await;
        let last = self.rx.seen.lock().expect("not poisoned").last_at;
        let delivered = self.rx.distinct() - before;
        let turn = Turn {
            delivered,
            secs: match delivered {
                0 => 0.0,
                _ => last.map_or(0.0, |l| l.saturating_duration_since(start).as_secs_f64()),
            },
            cpu_s: self
                .cpu_s()
                .into_iter()
                .map(|(n, s)| (n.clone(), s - cpu.get(&n).copied().unwrap_or(s)))
                .collect(),
            postgres_cpu_s: crate::stores::postgres_cpu_s() - postgres,
        };
        eprintln!(
            "  turn of {tenant}: {delivered} deliveries, {:.0}/s, {:.0} µs of CPU each",
            turn.rate(),
            turn.cpu_s.values().sum::<f64>() * 1e6 / delivered.max(1) as f64
        );
        Ok(turn)
    }

    /// Lost, duplicates, CPU seconds and memory of each process, into the report.
    pub async fn account(&self, report: &mut Report, expected: usize) {
        let delivered = self.rx.seen.lock().expect("not poisoned").ids.len();
        self.account_as(report, expected, delivered).await;
    }

    /// Counts the stores' figures from now on: what a scenario set up before is not
    /// part of what it measures.
    pub async fn count_stores_from_now(&mut self) {
        self.stores_start =
            crate::stores::StoreCounters::read(&self.store, &self.config.database_url).await;
    }

    /// [`Bench::account`] for a scenario whose `done` units of work (of `expected`) are
    /// not the receivers' deliveries: the stores' figures per unit, and what is missing
    /// counted as lost.
    pub async fn account_as(&self, report: &mut Report, expected: usize, done: usize) {
        let now = crate::stores::StoreCounters::read(&self.store, &self.config.database_url).await;
        now.put(&self.stores_start, done, report);
        let duplicates = {
            let seen = self.rx.seen.lock().expect("not poisoned");
            seen.ids.values().map(|c| u64::from(c - 1)).sum::<u64>()
        };
        report.put("lost", expected.saturating_sub(done) as f64);
        report.put("duplicates", duplicates as f64);
        for (name, pid, start) in &self.cpu_start {
            if let Some(s) = procstat::sample(*pid) {
                report.put(&format!("cpu_s.{name}"), s.cpu_s - start);
                report.put(&format!("rss_mb.{name}"), s.rss_mb);
                if *pid == std::process::id() {
                    report.put(&format!("peak_rss_mb.{name}"), s.peak_rss_mb);
                }
            }
        }
        if let Some(h) = &self.hookpost {
            h.account(report, "");
            h.put_counters(report).await;
        }
    }

    /// Runs `body` on this bench, then stops hookpost and removes what the run made,
    /// whether `body` got through or not: a run that fails half way leaves nothing on
    /// the shared servers.
    pub async fn around<T>(
        mut self,
        body: impl AsyncFnOnce(&mut Bench) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let outcome = body(&mut self).await;
        let finished = self.finish().await;
        let value = outcome?;
        finished?;
        Ok(value)
    }

    /// Stops hookpost and removes everything the scenario made.
    async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(h) = self.hookpost.take() {
            h.stop().await;
        }
        remove_made(&self.config, &self.store).await
    }
}

/// Removes what a run made: its Redis keys, queues and exchanges, and its database.
async fn remove_made(config: &Config, store: &Store) -> anyhow::Result<()> {
    store.delete_everything().await?;
    Topology::for_config(config)
        .tear_down(&config.amqp_url, "bench-cleanup")
        .await?;
    hookpost_db::migrate::drop_database(&config.database_url).await?;
    Ok(())
}

fn rate(n: usize, since: Instant, until: Option<Instant>) -> f64 {
    let secs = until
        .unwrap_or_else(Instant::now)
        .saturating_duration_since(since)
        .as_secs_f64();
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// `throughput` (and `fanout` with `hooks` > 1): events straight to the exchange.
pub async fn throughput(o: &Options, name: &str, hooks: usize) -> anyhow::Result<Report> {
    Bench::start(o, Roles::ALL)
        .await?
        .around(async |b: &mut Bench| {
            for h in 0..hooks {
                b.hook(&b.key, &b.rx.url("ok", h)).await?;
            }
            let expected = o.events * hooks;
            b.rx.expect(expected);
            let start = Instant::now();
            b.publish_amqp("bench", 0..o.events, o.payload_bytes)
                .await?;
            let published = start.elapsed();
            let complete = b.wait_for(expected, o.deadline_s).await;
            let last = b.rx.seen.lock().expect("not poisoned").last_at;
            let mut r = Report::new(name);
            r.put("events", o.events as f64);
            r.put("hooks", hooks as f64);
            r.put("publish_per_sec", o.events as f64 / published.as_secs_f64());
            r.put("deliveries_per_sec", rate(b.rx.distinct(), start, last));
            r.put("complete", f64::from(u8::from(complete)));
            b.account(&mut r, expected).await;
            Ok(r)
        })
        .await
}

/// `http` (end to end, one hook), `fanout-http` (each event to `hooks` hooks) and
/// `ingest` (API only, no hooks).
pub async fn http(o: &Options, name: &str, hooks: usize) -> anyhow::Result<Report> {
    Bench::start(o, Roles::ALL)
        .await?
        .around(async |b: &mut Bench| {
            for h in 0..hooks {
                b.hook(&b.key, &b.rx.url("ok", h)).await?;
            }
            b.rx.expect(o.events * hooks);
            let start = Instant::now();
            let mut lat = b
                .post_http(o.events, o.concurrency, o.batch, o.payload_bytes)
                .await?;
            let accepted_s = start.elapsed().as_secs_f64();
            let mut r = Report::new(name);
            r.put("events", o.events as f64);
            r.put("batch", o.batch as f64);
            r.put("concurrency", o.concurrency as f64);
            r.put("accepted_per_sec", o.events as f64 / accepted_s);
            r.put("api_p50_ms", percentile(&mut lat, 50.0));
            r.put("api_p99_ms", percentile(&mut lat, 99.0));
            if hooks > 0 {
                let expected = o.events * hooks;
                r.put("hooks", hooks as f64);
                let complete = b.wait_for(expected, o.deadline_s).await;
                let last = b.rx.seen.lock().expect("not poisoned").last_at;
                r.put("deliveries_per_sec", rate(b.rx.distinct(), start, last));
                r.put("complete", f64::from(u8::from(complete)));
                b.account(&mut r, expected).await;
            } else {
                b.account(&mut r, 0).await;
            }
            Ok(r)
        })
        .await
}

/// `latency`: a fixed rate for a fixed time; publish-to-arrival percentiles.
pub async fn latency(o: &Options) -> anyhow::Result<Report> {
    Bench::start(o, Roles::ALL)
        .await?
        .around(async |b: &mut Bench| {
            b.hook(&b.key, &b.rx.url("ok", 0)).await?;
            let total = (o.rate * o.duration_s) as usize;
            b.rx.expect(total);
            let per_tick = (o.rate / 100).max(1) as usize; // 100 ticks a second
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut sent = 0;
            while sent < total {
                tick.tick().await;
                let n = per_tick.min(total - sent);
                b.publish_amqp("bench", sent..sent + n, o.payload_bytes)
                    .await?;
                sent += n;
            }
            b.wait_for(total, o.deadline_s).await;
            let mut lat = std::mem::take(&mut b.rx.seen.lock().expect("not poisoned").latencies_ms);
            let mut r = Report::new("latency");
            r.put("rate_per_sec", o.rate as f64);
            r.put("events", total as f64);
            for p in [50.0, 90.0, 99.0] {
                r.put(&format!("p{p}_ms"), percentile(&mut lat, p));
            }
            r.put("max_ms", lat.iter().copied().fold(0.0, f64::max));
            b.account(&mut r, total).await;
            Ok(r)
        })
        .await
}

/// How many turns `isolation` takes at each half.
const ISOLATION_TURNS: usize = 5;

/// What one turn of a scenario delivered, in how long, for how much CPU (by process).
#[derive(Default)]
struct Turn {
    delivered: usize,
    secs: f64,
    cpu_s: BTreeMap<String, f64>,
    /// The database server's, apart: a shared server's other work counts in it too.
    postgres_cpu_s: f64,
}

impl std::ops::AddAssign for Turn {
    fn add_assign(&mut self, t: Turn) {
        self.delivered += t.delivered;
        self.secs += t.secs;
        self.postgres_cpu_s += t.postgres_cpu_s;
        for (n, s) in t.cpu_s {
            *self.cpu_s.entry(n).or_default() += s;
        }
    }
}

impl Turn {
    fn rate(&self) -> f64 {
        match self.secs > 0.0 {
            true => self.delivered as f64 / self.secs,
            false => 0.0,
        }
    }

    /// CPU µs per delivery of every process together, then of each, then PostgreSQL's.
    fn put_cpu(&self, r: &mut Report, half: &str) {
        let per_delivery = |s: f64| s * 1e6 / self.delivered.max(1) as f64;
        let all = self.cpu_s.values().sum();
        r.put(&format!("cpu_us_per_delivery.{half}"), per_delivery(all));
        for (n, s) in &self.cpu_s {
            r.put(&format!("cpu_us_per_delivery.{half}.{n}"), per_delivery(*s));
        }
        let postgres = per_delivery(self.postgres_cpu_s);
        r.put(&format!("postgres_cpu_us_per_delivery.{half}"), postgres);
    }
}

/// `isolation`: the healthy hook's rate alone, and beside 10 hanging hooks (another tenant
/// of the same process), as a ratio. The halves take turns, `events` each in all, so
/// that the host's drift over a run weighs on both alike; the hanging hooks exist from
/// the start, but get events only in their tenant's turns.
pub async fn isolation(o: &Options) -> anyhow::Result<Report> {
    Bench::start(o, Roles::ALL)
        .await?
        .around(async |b: &mut Bench| {
            b.hook(&b.key, &b.rx.url("ok", 0)).await?;
            let key2 = b.tenant("bench2").await?;
            for h in 0..10 {
                b.hook(&key2, &b.rx.url("hang", h)).await?;
            }
            b.hook(&key2, &b.rx.url("ok", 1)).await?;
            let turns = ISOLATION_TURNS.clamp(1, o.events.max(1));
            let (mut alone, mut beside) = (Turn::default(), Turn::default());
            for t in 0..turns {
                let ids = o.events * t / turns..o.events * (t + 1) / turns;
                alone += b.turn("bench", ids.clone(), o).await?;
                beside += b.turn("bench2", ids, o).await?;
            }
            let mut r = Report::new("isolation");
            r.put("events", o.events as f64);
            r.put("turns", turns as f64);
            r.put("healthy_alone_per_sec", alone.rate());
            r.put("healthy_beside_10_hanging_per_sec", beside.rate());
            let ratio = match alone.rate() > 0.0 {
                true => beside.rate() / alone.rate(),
                false => 0.0,
            };
            r.put("ratio", ratio);
            // Steadier than the rates on a busy host: what each delivery cost every process.
            alone.put_cpu(&mut r, "alone");
            beside.put_cpu(&mut r, "beside");
            b.account(&mut r, 2 * o.events).await;
            Ok(r)
        })
        .await
}

/// `retry-drain`: `events` retries made due at once; the rate the scheduler moves them
/// back with no worker running, then the rate workers deliver them.
pub async fn retry_drain(o: &Options) -> anyhow::Result<Report> {
    let only_ingest = Roles {
        worker: false,
        scheduler: false,
        ..Roles::ALL
    };
    Bench::start(o, only_ingest)
        .await?
        .around(async |b: &mut Bench| {
            b.hook(&b.key, &b.rx.url("ok", 0)).await?;
            let store = &b.store;
            let hook = store.hooks("bench").await?.remove(0);
            let snapshot = hook.snapshot_json();
            let failed = hookpost_core::outcome::Attempt {
                attempt: 1,
                at: hookpost_core::now_ms(),
                duration_ms: 1,
                outcome: hookpost_core::outcome::OutcomeKind::HttpStatus,
                status: Some(500),
                error: None,
                response: None,
                retry_after_s: None,
                signatures: None,
                uuid: None,
            };
            // Events as the first attempt would have left them (claimed, the delivery's hot
            // state `retrying` after one failed attempt), and their retries due now.
            let mut due = Vec::with_capacity(1000);
            for i in 0..o.events {
                let raw = format!(
                    r#"{{"id":"r{i}","tenant":"bench","type":"ticket.created","data":{{"i":{i}}}}}"#
                );
                let event = hookpost_core::Event::parse(raw.as_bytes(), None)
                    .map_err(|e| anyhow::anyhow!(e))?;
                let received_at = hookpost_core::now_ms();
                store.claim_event(&event, 60_000, received_at).await?;
                let delivery_id =
                    hookpost_core::delivery::delivery_id("bench", &event.id, &hook.id);
                let first = hookpost_store::log::Record {
                    delivery_id: &delivery_id,
                    hook_id: &hook.id,
                    kind: &event.kind,
                    hook_json: &snapshot,
                    status: hookpost_store::log::Status::Retrying,
                    next_at: Some(hookpost_core::now_ms()),
                    attempt: Some(&failed),
                    blocking: false,
                    if_new: false,
                    forget_soon: false,
                };
                let done = hookpost_store::log::EventMark::Done(hookpost_store::log::Kept {
                    kind: &event.kind,
                    data: event.data.get(),
                    received_at,
                    occurred_at: None,
                    traceparent: None,
                });
                store
                    .record("bench", &event.id, &[first], done, i64::MAX)
                    .await?;
                due.push(hookpost_store::retries::Due {
                    at_ms: hookpost_core::now_ms(),
                    task: hookpost_core::task::Task::Attempt(hookpost_core::task::AttemptTask {
                        tenant: "bench".into(),
                        event_id: event.id.clone(),
                        hook_id: hook.id.clone(),
                        delivery_id,
                        attempt: 2,
                        resend: false,
                    }),
                });
                if due.len() == 1000 || i + 1 == o.events {
                    store.schedule(&due).await?;
                    due.clear();
                }
            }
            let mut config = b.config.clone();
            config.scheduler_batch = 1000;
            let mut r = Report::new("retry-drain");
            let start = Instant::now(); // the scheduler's start-up counts
            let scheduler =
                Hookpost::start(o.hookpost.as_deref(), &config, Roles::SCHEDULER).await?;
            loop {
                let stats = store.retry_stats().await?;
                if stats.size == 0 || start.elapsed() > Duration::from_secs(o.deadline_s) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let moved_s = start.elapsed().as_secs_f64();
            let peak_after_drain = procstat::sample(std::process::id())
                .map(|s| s.peak_rss_mb)
                .unwrap_or(0.0);
            scheduler.account(&mut r, ".moving");
            scheduler.stop().await;
            let start = Instant::now();
            // The scheduler runs too: deliveries deferred at a busy hook come back through it.
            let roles = Roles {
                ingest: false,
                worker: true,
                scheduler: true,
            };
            let workers = Hookpost::start(o.hookpost.as_deref(), &config, roles).await?;
            let complete = b.wait_for(o.events, o.deadline_s).await;
            let last = b.rx.seen.lock().expect("not poisoned").last_at;
            workers.account(&mut r, ".delivering");
            workers.stop().await;
            r.put("retries", o.events as f64);
            r.put("moved_per_sec", o.events as f64 / moved_s);
            r.put("delivered_per_sec", rate(b.rx.distinct(), start, last));
            r.put("complete", f64::from(u8::from(complete)));
            if o.hookpost.is_none() {
                r.put("peak_rss_mb_after_drain", peak_after_drain);
            }
            b.account(&mut r, o.events).await;
            Ok(r)
        })
        .await
}

/// `backlog-drain`: `events` deliveries parked in a hanging hook's backlog, then the hook
/// answers again (its URL moved to a receiver that does): the rate its drain delivers
/// them, from the first drained delivery to the last, and what that cost each process.
/// The hook's first attempts, which hang until the request timeout, wait for their
/// retry an hour away and are not counted.
pub async fn backlog_drain(o: &Options) -> anyhow::Result<Report> {
    Bench::start(o, Roles::ALL)
        .await?
        .around(async |b: &mut Bench| {
            b.hook(&b.key, &b.rx.url("hang", 0)).await?;
            let hook = b.store.hooks("bench").await?.remove(0);
            b.publish_amqp("bench", 0..o.events, o.payload_bytes)
                .await?;
            // Parked once the backlog stops growing: every event is handled by then.
            let (mut parked, mut still_since) = (0, Instant::now());
            let start = Instant::now();
            while still_since.elapsed() < Duration::from_secs(2) {
                if start.elapsed() > Duration::from_secs(o.deadline_s) {
                    bail!("the backlog still grew after {}s", o.deadline_s);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                let len = b.store.backlog_len("bench", &hook.id).await? as usize;
                if len != parked {
                    (parked, still_since) = (len, Instant::now());
                }
            }
            eprintln!("  {parked} deliveries parked; the hook answers again");
            b.http
                .patch(format!("{}/v1/hooks/{}", b.base, hook.id))
                .bearer_auth(&b.key)
                .json(&json!({"url": b.rx.url("ok", 0)}))
                .send()
                .await?
                .error_for_status()?;
            let (cpu, postgres) = (b.cpu_s(), crate::stores::postgres_cpu_s());
            let complete = b.wait_for(parked, o.deadline_s).await;
            let (first, last) = {
                let seen = b.rx.seen.lock().expect("not poisoned");
                (seen.first_at, seen.last_at)
            };
            let mut r = Report::new("backlog-drain");
            r.put("parked", parked as f64);
            r.put("complete", f64::from(u8::from(complete)));
            let drained = b.rx.distinct();
            if let Some(first) = first {
                r.put(
                    "drained_per_sec",
                    rate(drained.saturating_sub(1), first, last),
                );
            }
            let per_delivery = |s: f64| s * 1e6 / drained.max(1) as f64;
            for (n, s) in b.cpu_s() {
                let used = s - cpu.get(&n).copied().unwrap_or(s);
                r.put(&format!("cpu_us_per_delivery.{n}"), per_delivery(used));
            }
            let used = crate::stores::postgres_cpu_s() - postgres;
            r.put("postgres_cpu_us_per_delivery.draining", per_delivery(used));
            b.account(&mut r, parked).await;
            Ok(r)
        })
        .await
}

/// `ordered`: the same events over the API (batches of `batch`) to a plain hook, then
/// to a hook ordered by `$.ticket.id` (100 tickets), and the ratio of the two rates;
/// each run's processes' peak RSS beside.
pub async fn ordered(o: &Options) -> anyhow::Result<Report> {
    let mut r = Report::new("ordered");
    let (mut rates, mut lost, mut duplicates, mut complete) = (Vec::new(), 0.0, 0.0, true);
    for (label, ordering) in [
        ("plain", json!({})),
        (
            "ordered",
            json!({"ordering": "fifo", "ordering_key": "$.ticket.id"}),
        ),
    ] {
        Bench::start(o, Roles::ALL)
            .await?
            .around(async |b: &mut Bench| {
                b.hook_with(&b.key, &b.rx.url("ok", 0), ordering).await?;
                let start = Instant::now();
                b.post_http(o.events, o.concurrency, o.batch, o.payload_bytes)
                    .await?;
                complete &= b.wait_for(o.events, o.deadline_s).await;
                let last = b.rx.seen.lock().expect("not poisoned").last_at;
                rates.push(rate(b.rx.distinct(), start, last));
                let mut run = Report::new("ordered");
                b.account(&mut run, o.events).await;
                lost += run.get("lost").unwrap_or(0.0);
                duplicates += run.get("duplicates").unwrap_or(0.0);
                // `peak_rss_mb.hookpost-worker.ordered` and so on.
                if let Some(h) = &b.hookpost {
                    h.account(&mut r, &format!(".{label}"));
                }
                Ok(())
            })
            .await?;
    }
    r.put("complete", f64::from(u8::from(complete)));
    r.put("lost", lost);
    r.put("duplicates", duplicates);
    r.put("events", o.events as f64);
    r.put("tickets", TICKETS as f64);
    r.put("plain_per_sec", rates[0]);
    r.put("ordered_per_sec", rates[1]);
    r.put(
        "ratio",
        if rates[0] > 0.0 {
            rates[1] / rates[0]
        } else {
            0.0
        },
    );
    Ok(r)
}

/// The quiet tenant's pace in `noisy-neighbour`, events a second.
const NEIGHBOUR_RATE: u64 = 200;

/// `noisy-neighbour`: a quiet tenant sends 200 events a second over the API, first
/// alone for `duration` seconds, then while a noisy tenant sends `events` events (to
/// `hooks` hooks each) as fast as it can, until the noisy tenant's deliveries are all in.
/// The noisy tenant posts over the API under the deployment's default intake limit
/// (`--noisy-via api`, `--noisy-batch` events a request, `--concurrency` connections,
/// waiting out each 429's `Retry-After`), or publishes straight to the exchange, where
/// no intake limit sees it (`--noisy-via exchange`). The quiet tenant's
/// event-to-delivery latency alone and beside the flood.
pub async fn noisy_neighbour(o: &Options) -> anyhow::Result<Report> {
    Bench::start_with(o, Roles::ALL, true)
        .await?
        .around(async |b: &mut Bench| {
            b.hook(&b.key, &b.rx.url("ok", 0)).await?;
            let noisy = b.tenant("noisy").await?;
            let hooks = o.hooks.max(1);
            for h in 0..hooks {
                b.hook(&noisy, &b.rx.url("bulk", h)).await?;
            }
            let next = std::sync::atomic::AtomicUsize::new(0);
            // Alone.
            let alone_until = Instant::now() + Duration::from_secs(o.duration_s);
            let (quiet_alone, mut api_alone) = b
                .quiet_tenant(&next, || Instant::now() >= alone_until)
                .await?;
            b.wait_for(quiet_alone, o.deadline_s).await;
            let mut alone =
                std::mem::take(&mut b.rx.seen.lock().expect("not poisoned").latencies_ms);
            // Beside the flood: the quiet tenant goes on until the flood is delivered.
            let flood_deliveries = o.events * hooks;
            let flood_done = std::sync::atomic::AtomicBool::new(false);
            let refused = std::sync::atomic::AtomicUsize::new(0);
            let start = Instant::now();
            let flood = async {
                // The quiet tenant has sent for a second when the flood starts.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let sending = Instant::now();
                match o.noisy_via {
                    NoisyVia::Exchange => {
                        b.publish_amqp("noisy", 0..o.events, o.payload_bytes)
                            .await?
                    }
                    NoisyVia::Api => {
                        let n = b
                            .post_politely(&noisy, o.events, o.concurrency, o.noisy_batch)
                            .await?;
                        refused.store(n, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                let published = sending.elapsed();
                // Until the flood's deliveries are in (the quiet ones run beside them).
                let deadline = start + Duration::from_secs(o.deadline_s);
                while b.rx.distinct()
                    < flood_deliveries + next.load(std::sync::atomic::Ordering::Relaxed)
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                flood_done.store(true, std::sync::atomic::Ordering::Relaxed);
                anyhow::Ok((published, sending.elapsed()))
            };
            let quiet = b.quiet_tenant(&next, || {
                flood_done.load(std::sync::atomic::Ordering::Relaxed)
            });
            let ((published, delivered), (quiet_total, mut api_beside)) =
                tokio::try_join!(flood, quiet)?;
            let total = flood_deliveries + quiet_total;
            let complete = b.wait_for(total, o.deadline_s).await;
            let mut beside =
                std::mem::take(&mut b.rx.seen.lock().expect("not poisoned").latencies_ms);
            let mut r = Report::new("noisy-neighbour");
            r.put("noisy_events", o.events as f64);
            r.put("noisy_hooks", hooks as f64);
            r.put(
                "noisy_via_api",
                f64::from(u8::from(o.noisy_via == NoisyVia::Api)),
            );
            r.put("noisy_batch", o.noisy_batch as f64);
            // Accepted events a second (over the API: under the intake limit).
            r.put(
                "noisy_accepted_per_sec",
                o.events as f64 / published.as_secs_f64(),
            );
            r.put(
                "noisy_refused_429",
                refused.load(std::sync::atomic::Ordering::Relaxed) as f64,
            );
            // From the noisy tenant's first send to its last delivery.
            r.put("flood_secs", delivered.as_secs_f64());
            r.put("quiet_rate_per_sec", NEIGHBOUR_RATE as f64);
            r.put("quiet_events_alone", alone.len() as f64);
            r.put("quiet_events_beside", beside.len() as f64);
            let (a50, a99) = (percentile(&mut alone, 50.0), percentile(&mut alone, 99.0));
            let (b50, b99) = (percentile(&mut beside, 50.0), percentile(&mut beside, 99.0));
            r.put("quiet_alone_p50_ms", a50);
            r.put("quiet_alone_p99_ms", a99);
            r.put("quiet_beside_p50_ms", b50);
            r.put("quiet_beside_p99_ms", b99);
            r.put(
                "quiet_beside_max_ms",
                beside.iter().copied().fold(0.0, f64::max),
            );
            r.put("p99_ratio", if a99 > 0.0 { b99 / a99 } else { 0.0 });
            // The part of it that is the API's answer (a 202 once the publish is confirmed).
            r.put("quiet_api_alone_p99_ms", percentile(&mut api_alone, 99.0));
            r.put("quiet_api_beside_p99_ms", percentile(&mut api_beside, 99.0));
            r.put("complete", f64::from(u8::from(complete)));
            b.account(&mut r, total).await;
            Ok(r)
        })
        .await
}

impl Bench {
    /// The noisy tenant over the API: `n` events (`n{i}`), `batch` a request, at most
    /// `concurrency` requests at once, each sent again after a 429's `Retry-After`, as a
    /// well-behaved client does; how many 429s it got.
    async fn post_politely(
        &self,
        key: &str,
        n: usize,
        concurrency: usize,
        batch: usize,
    ) -> anyhow::Result<usize> {
        let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        let mut sent = 0;
        while sent < n {
            let ids = sent..(sent + batch).min(n);
            sent = ids.end;
            let permit = sem.clone().acquire_owned().await?;
            let (http, key, base) = (self.http.clone(), key.to_owned(), self.base.clone());
            let refused = refused.clone();
            tasks.spawn(async move {
                let _permit = permit;
                loop {
                    let events: Vec<serde_json::Value> = ids
                        .clone()
                        .map(|i| json!({"id": format!("n{i}"), "type": "ticket.created", "data": {"i": i, "sent_at_us": crate::now_us()}}))
                        .collect();
                    let req = match batch {
                        1 => http.post(format!("{base}/v1/events")).json(&events[0]),
                        _ => http.post(format!("{base}/v1/events/batch")).json(&events),
                    };
                    let r = req.bearer_auth(&key).send().await?;
                    match r.status().as_u16() {
                        202 => return anyhow::Ok(()),
                        429 => {
                            refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let secs = r
                                .headers()
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                                .context("a 429 without a Retry-After in seconds")?;
                            tokio::time::sleep(Duration::from_secs(secs)).await;
                        }
                        other => bail!(
                            "ingest answered {other} to the noisy tenant: {}",
                            r.text().await.unwrap_or_default()
                        ),
                    }
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        Ok(refused.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl Bench {
    /// The quiet tenant: `NEIGHBOUR_RATE` events a second over the API, one a request,
    /// numbered from `next`, until `done`; how many it has sent in all, and each of
    /// these requests' round trip (ms).
    async fn quiet_tenant(
        &self,
        next: &std::sync::atomic::AtomicUsize,
        done: impl Fn() -> bool,
    ) -> anyhow::Result<(usize, Vec<f64>)> {
        let url = format!("{}/v1/events", self.base);
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / NEIGHBOUR_RATE));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut sending = tokio::task::JoinSet::new();
        while !done() {
            tick.tick().await;
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let event = json!({"id": format!("q{i}"), "type": "ticket.created", "data": {"i": i, "sent_at_us": crate::now_us()}});
            let (http, key, url) = (self.http.clone(), self.key.clone(), url.clone());
            sending.spawn(async move {
                let sent = Instant::now();
                let r = http.post(url).bearer_auth(key).json(&event).send().await?;
                match r.status().as_u16() {
                    202 => anyhow::Ok(sent.elapsed().as_secs_f64() * 1000.0),
                    other => bail!(
                        "ingest answered {other} to the quiet tenant: {}",
                        r.text().await.unwrap_or_default()
                    ),
                }
            });
        }
        let mut api_ms = Vec::new();
        while let Some(sent) = sending.join_next().await {
            api_ms.push(sent??);
        }
        Ok((next.load(std::sync::atomic::Ordering::Relaxed), api_ms))
    }
}

/// Runs a scenario by name.
pub async fn run(name: &str, o: &Options) -> anyhow::Result<Report> {
    match name {
        "throughput" => throughput(o, "throughput", 1).await,
        "fanout" => throughput(o, "fanout", o.hooks.max(2)).await,
        "http" => http(o, "http", 1).await,
        "fanout-http" => http(o, "fanout-http", o.hooks.max(2)).await,
        "ingest" => http(o, "ingest", 0).await,
        "latency" => latency(o).await,
        "isolation" => isolation(o).await,
        "retry-drain" => retry_drain(o).await,
        "backlog-drain" => backlog_drain(o).await,
        "ordered" => ordered(o).await,
        "noisy-neighbour" => noisy_neighbour(o).await,
        "baseline" => crate::baseline::baseline(o).await,
        "broker-floor" => crate::broker_floor::broker_floor(o).await,
        "log-query" => crate::log_query::log_query(o).await,
        "done-marks" => crate::done_marks::done_marks(o).await,
        "rebuild" => crate::rebuild::rebuild(o, Waiting::Retries).await,
        "rebuild-ordered" => crate::rebuild::rebuild(o, Waiting::Ordered).await,
        "rebuild-parked" => crate::rebuild::rebuild(o, Waiting::Parked).await,
        other => bail!("no scenario `{other}` ({})", SCENARIOS.join(", ")),
    }
}

pub const SCENARIOS: &[&str] = &[
    "throughput",
    "http",
    "ingest",
    "fanout",
    "fanout-http",
    "latency",
    "isolation",
    "retry-drain",
    "backlog-drain",
    "ordered",
    "noisy-neighbour",
    "baseline",
    "broker-floor",
    "log-query",
    "done-marks",
    "rebuild",
    "rebuild-ordered",
    "rebuild-parked",
];
