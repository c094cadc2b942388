//! Per-hook delivery controls: a rate limit and a cap on requests in flight, both across
//! every worker, a retry schedule of the hook's own, and ordered delivery. Absent means
//! the deployment's defaults (no rate limit, `HOOKPOST_HOOK_CONCURRENCY` per worker, the
//! default schedule, no ordering).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ordering::{OnFailure, Ordering};
use crate::retry::RetrySchedule;

/// A hook's controls as stored and shown; each checked on save.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Controls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// This hook's retry delays as given (`["5m", "30m"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_schedule: Option<Vec<String>>,
    /// `fifo` for ordered delivery (see `ordering`), by the key at `ordering_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering_on_failure: Option<OnFailure>,
}

impl Controls {
    /// The hook's own retry schedule, when it has one.
    pub fn retry(&self) -> Result<Option<RetrySchedule>, String> {
        self.retry_schedule
            .as_deref()
            .map(parse_retry_schedule)
            .transpose()
    }

    /// The hook's ordering, when it is ordered.
    pub fn ordering(&self) -> Result<Option<Ordering>, String> {
        Ordering::of(
            self.ordering.as_deref(),
            self.ordering_key.as_deref(),
            self.ordering_on_failure,
        )
    }
}

/// At most `per_second` requests a second on average, `burst` of them at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: u32,
    #[serde(default = "one")]
    pub burst: u32,
}

fn one() -> u32 {
    1
}

pub const MAX_RATE: u32 = 10_000;
pub const MAX_BURST: u32 = 1_000;
pub const MAX_IN_FLIGHT: u32 = 1_000;
pub const MAX_RETRY_STEPS: usize = 20;
const SHORTEST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(7 * 86_400);

impl RateLimit {
    /// Milliseconds between two requests at the steady rate.
    pub fn interval_ms(&self) -> f64 {
        1000.0 / f64::from(self.per_second)
    }

    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_RATE).contains(&self.per_second) {
            return Err(format!("per_second must be between 1 and {MAX_RATE}"));
        }
        if !(1..=MAX_BURST).contains(&self.burst) {
            return Err(format!("burst must be between 1 and {MAX_BURST}"));
        }
        Ok(())
    }
}

pub fn check_max_in_flight(n: u32) -> Result<(), String> {
    if (1..=MAX_IN_FLIGHT).contains(&n) {
        Ok(())
    } else {
        Err(format!("must be between 1 and {MAX_IN_FLIGHT}"))
    }
}

/// Parses a hook's retry schedule (`["5m", "30m", "2h"]`): at most 20 steps, each
/// between 1 s and 7 days. An empty list means no retries.
pub fn parse_retry_schedule(steps: &[String]) -> Result<RetrySchedule, String> {
    if steps.len() > MAX_RETRY_STEPS {
        return Err(format!("must have at most {MAX_RETRY_STEPS} steps"));
    }
    let delays = steps
        .iter()
        .map(|s| {
            let d = crate::duration::parse(s).map_err(|e| format!("`{s}`: {e}"))?;
            if (SHORTEST_RETRY..=LONGEST_RETRY).contains(&d) {
                Ok(d)
            } else {
                Err(format!("`{s}` must be between 1s and 7d"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RetrySchedule::new(delays))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_checked_and_burst_defaults_to_one() {
        let r: RateLimit = serde_json::from_str(r#"{"per_second": 20}"#).unwrap();
        assert_eq!(r.burst, 1);
        assert!(r.check().is_ok());
        assert_eq!(r.interval_ms(), 50.0);
        for bad in [
            r#"{"per_second": 0}"#,
            r#"{"per_second": 10001}"#,
            r#"{"per_second": 5, "burst": 0}"#,
        ] {
            let r: RateLimit = serde_json::from_str(bad).unwrap();
            assert!(r.check().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<RateLimit>(r#"{"per_second": 5, "x": 1}"#).is_err());
    }

    #[test]
    fn retry_schedules_are_bounded() {
        let steps = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let s = parse_retry_schedule(&steps(&["5m", "30m", "2h"])).unwrap();
        assert_eq!(s.attempts(), 4);
        assert_eq!(s.delay_after(1), Some(Duration::from_secs(300)));
        assert_eq!(parse_retry_schedule(&[]).unwrap().attempts(), 1);
        for bad in [&["500ms"][..], &["8d"], &["soon"]] {
            assert!(parse_retry_schedule(&steps(bad)).is_err(), "{bad:?}");
        }
        assert!(parse_retry_schedule(&steps(&["1m"; 21])).is_err());
    }

    #[test]
    fn in_flight_caps_are_bounded() {
        assert!(check_max_in_flight(1).is_ok());
        assert!(check_max_in_flight(0).is_err());
        assert!(check_max_in_flight(MAX_IN_FLIGHT + 1).is_err());
    }
}
