//! How long the log's writer waits for more writes before it commits a group.
//!
//! A commit costs PostgreSQL about the same whatever it carries, so its CPU per delivery
//! falls as groups grow. Under a flood they grow by themselves (writes pile up while a
//! commit runs); at a steady rate they do not: at 3,000 events a second each commit
//! carried a few events, and PostgreSQL spent 108 µs a delivery against 46 under a
//! flood (docs/benchmarks.md). So when writes come often enough that more are due
//! within [`LINGER`], the writer waits that long for them. A lone write, or a trickle,
//! commits at once.
//!
//! The wait delays acks, never a request: every attempt is made before its outcome is
//! written. A write that an ordering key waits for (`Batch::urgent`: the key's next
//! delivery goes once it is durable) commits its group at once.

use std::time::{Duration, Instant};

/// The longest a group waits for more writes.
pub const LINGER: Duration = Duration::from_millis(2);
/// Weight of the newest measure in the arrival rate's average.
const NEWEST: f64 = 0.2;

/// The writes' arrival rate, as the writer sees its groups.
#[derive(Debug, Default)]
pub struct GroupPace {
    /// Writes a second, averaged.
    rate: f64,
    /// When the last group was taken.
    last: Option<Instant>,
}

impl GroupPace {
    /// A group of `writes` was taken at `now`: counts them over the time since the last.
    pub fn took(&mut self, writes: usize, now: Instant) {
        if let Some(last) = self.last {
            let secs = now.duration_since(last).as_secs_f64().max(1e-6);
            self.rate = NEWEST * (writes as f64 / secs) + (1.0 - NEWEST) * self.rate;
        }
        self.last = Some(now);
    }

    /// Whether another write is due within [`LINGER`] at the rate seen.
    pub fn worth_waiting(&self) -> bool {
        self.rate * LINGER.as_secs_f64() >= 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pace fed groups of `size` every `every`, `n` times.
    fn fed(size: usize, every: Duration, n: usize) -> (GroupPace, Instant) {
        let (mut pace, mut now) = (GroupPace::default(), Instant::now());
        for _ in 0..n {
            pace.took(size, now);
            now += every;
        }
        (pace, now)
    }

    #[test]
    fn a_trickle_commits_at_once_and_a_steady_stream_waits() {
        // 100 writes a second: one due every 10 ms, none within the linger.
        assert!(!fed(1, Duration::from_millis(10), 50).0.worth_waiting());
        // 3,000 a second, in groups of 3 a millisecond.
        assert!(fed(3, Duration::from_millis(1), 50).0.worth_waiting());
        assert!(!GroupPace::default().worth_waiting(), "nothing seen yet");
    }

    #[test]
    fn a_stream_that_stops_stops_the_wait_within_a_few_lone_writes() {
        let (mut pace, mut now) = fed(3, Duration::from_millis(1), 50);
        let mut lone = 0;
        while pace.worth_waiting() {
            now += Duration::from_secs(1);
            pace.took(1, now);
            lone += 1;
        }
        assert!((1..=12).contains(&lone), "{lone}");
    }
}
