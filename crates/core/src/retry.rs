//! The retry schedule: how long after a failed attempt the next one is due.

use std::time::Duration;

/// Delays between attempts. `[1h, 1h, 1h]` (the default) means attempts at t, t+1h, t+2h,
/// t+3h: 3 retries after the first attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

impl Default for RetrySchedule {
    fn default() -> Self {
        RetrySchedule(vec![Duration::from_secs(3600); 3])
    }
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>) -> Self {
        RetrySchedule(delays)
    }

    /// Parses `1h,1h,1h`; an empty string means no retries.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(RetrySchedule(Vec::new()));
        }
        text.split(',')
            .map(crate::duration::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(RetrySchedule)
    }

    /// The delay before the attempt after `attempt` (1-based), or `None` when `attempt`
    /// was the last one.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        self.0.get(attempt.checked_sub(1)? as usize).copied()
    }

    /// How many attempts a delivery gets in all.
    pub fn attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    pub fn delays(&self) -> &[Duration] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_three_hourly_retries() {
        let s = RetrySchedule::default();
        assert_eq!(s.attempts(), 4);
        for n in 1..=3 {
            assert_eq!(s.delay_after(n), Some(Duration::from_secs(3600)));
        }
        assert_eq!(s.delay_after(4), None);
        assert_eq!(s.delay_after(0), None);
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(
            RetrySchedule::parse("1s,2s").unwrap().delays(),
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert_eq!(RetrySchedule::parse("").unwrap().attempts(), 1);
        assert!(RetrySchedule::parse("1s,,2s").is_err());
        assert!(RetrySchedule::parse("1x").is_err());
    }
}
