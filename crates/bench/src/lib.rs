//! `hookpost-bench`: runs hookpost in-process (all roles, one process), or as one child
//! process per role, against the local RabbitMQ and Redis under a prefix of its own, with
//! its own receivers on 127.0.0.1, and measures what the scenarios of
//! `docs/benchmarks.md` ask.
//!
//! - [`launch`]: hookpost in this process or as child processes.
//! - [`receiver`]: counting, slow, hanging and failing receivers.
//! - [`procstat`]: CPU seconds and memory of hookpost, RabbitMQ and Redis.
//! - [`scenarios`]: the scenarios, each a function from options to figures.
#![forbid(unsafe_code)]

pub mod amqp;
pub mod baseline;
pub mod broker_floor;
pub mod done_marks;
pub mod launch;
pub mod log_query;
pub mod procstat;
pub mod rebuild;
pub mod receiver;
pub mod scenarios;
pub mod stores;

use std::collections::BTreeMap;

/// Sizes and pace, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub events: usize,
    pub hooks: usize,
    pub concurrency: usize,
    pub payload_bytes: usize,
    /// Events per second (latency scenario).
    pub rate: u64,
    /// Seconds (latency scenario).
    pub duration_s: u64,
    /// Events per request (http and ingest scenarios); 1 = `/v1/events`.
    pub batch: usize,
    /// Give up waiting for deliveries after this many seconds.
    pub deadline_s: u64,
    /// A `hookpost` binary to run each role from as a child process; `None`: in-process.
    pub hookpost: Option<std::path::PathBuf>,
    /// How `noisy-neighbour`'s noisy tenant sends: `api` or `exchange`.
    pub noisy_via: NoisyVia,
    /// Events per request of `noisy-neighbour`'s noisy tenant over the API.
    pub noisy_batch: usize,
}

/// How `noisy-neighbour`'s noisy tenant sends its flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoisyVia {
    /// `POST /v1/events` (or `/batch`), under the deployment's default intake limit.
    Api,
    /// Straight to the exchange, where no intake limit applies.
    Exchange,
}

/// What a scenario measured: named figures, in the order they were taken.
#[derive(Debug, Default)]
pub struct Report {
    pub scenario: String,
    pub figures: Vec<(String, f64)>,
}

impl Report {
    pub fn new(scenario: &str) -> Self {
        Report {
            scenario: scenario.to_owned(),
            figures: Vec::new(),
        }
    }

    pub fn put(&mut self, name: &str, value: f64) {
        self.figures.push((name.to_owned(), value));
    }

    /// `cpu_s.{name}`: the CPU seconds each process of `start` ([`procstat::cpu_now`])
    /// has spent since.
    pub fn put_cpu_since(&mut self, start: &[(&'static str, u32, f64)]) {
        for (name, pid, cpu) in start {
            if let Some(now) = procstat::sample(*pid) {
                self.put(&format!("cpu_s.{name}"), now.cpu_s - cpu);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    /// A human table, then one JSON line with every figure.
    pub fn print(&self) {
        println!("scenario: {}", self.scenario);
        for (name, value) in &self.figures {
            println!("  {name:<36} {value:>14.2}");
        }
        let map: BTreeMap<&str, f64> = self.figures.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        println!(
            "{}",
            serde_json::json!({ "scenario": self.scenario, "figures": map })
        );
    }
}

/// Wall-clock microseconds: the stamp events carry as `sent_at_us`, so that latencies
/// of a millisecond or two are measured, not rounded.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// `len` bytes of words, to fill an event's payload up to its size. Prose, not one byte
/// repeated: the log compresses payloads (zstd), and a run of `x` would shrink to almost
/// nothing. Words from some 170 at random, and a number in every eighth place: a 1 KiB
/// payload of them takes about 61 % in zstd's fastest level, a little more than a
/// ticket's JSON of that size (about 54 %).
pub fn filler(len: usize) -> String {
    const WORDS: &str =
        "the a an and or but if then when while because so of to in on at by for with \
        from about into over after before between under again customer agent ticket order \
        invoice payment refund account password email phone address shipping delivery \
        package status priority urgent high low medium open closed pending resolved \
        reopened escalated assigned team support billing technical question request \
        feature bug crash error page loading slow mobile app android iphone browser chrome \
        firefox safari update version release notes printer floor office meeting monday \
        tuesday wednesday thursday friday morning afternoon evening yesterday today \
        tomorrow week month year please thanks regards hello hi dear sorry help issue \
        problem cannot unable failed missing wrong broken working again still already \
        never always sometimes reports says asks wants needs tried checked confirmed \
        replied waiting received sent attached screenshot log file export import report \
        dashboard settings profile login logout session timeout network server database \
        backup restore sync calendar contact lead deal pipeline campaign discount coupon \
        plan upgrade downgrade trial subscription renewal cancel charge card bank transfer";
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        let r = next();
        match r % 8 {
            0 => out.push_str(&(r >> 40).to_string()),
            _ => out.push_str(words[(r >> 8) as usize % words.len()]),
        }
        out.push(' ');
    }
    out.truncate(len);
    out
}

/// Percentile `p` (0..=100) of `values` (sorted in place).
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let idx = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[idx.min(values.len() - 1)]
}
