//! What follows an attempt, as a pure function: [`verdict`] of the attempt, its number,
//! the retry policy and a jitter draw. The caller acts on the [`Verdict`] (records it,
//! schedules the retry, counts it in metrics); nothing here has side effects.
//!
//! Jitter: a retry due after the delay `d` (the schedule's, or a receiver's `Retry-After`)
//! comes at `d + j × d/10`, with `j` uniform in `[0, 1)`: uniformly within the tenth of
//! `d` after it. Full jitter over `[0, d]` would spread retries best, but would bring an
//! hourly retry down to minutes or seconds, and decorrelated jitter drifts from the
//! configured schedule and needs the previous delay; so the jitter is full over a band
//! that only ever adds: a retry never comes earlier than the schedule says, and the
//! default `1h,1h,1h` spreads the deliveries that failed together over 6 minutes.
//! A `Retry-After` delay is jittered the same way, then capped at
//! `HOOKPOST_RETRY_AFTER_CAP`: never earlier than the receiver asked (up to the cap),
//! never later than the cap.

use std::time::{Duration, SystemTime};

use hookpost_core::outcome::Attempt;
use hookpost_core::retry::RetrySchedule;

/// How a delivery's failed attempts are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy<'a> {
    /// The hook's own schedule, or the deployment's (`HOOKPOST_RETRY_SCHEDULE`).
    pub schedule: &'a RetrySchedule,
    /// The longest a receiver's `Retry-After` may put the next attempt off
    /// (`HOOKPOST_RETRY_AFTER_CAP`).
    pub retry_after_cap: Duration,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The receiver answered 2xx.
    Delivered,
    /// Attempt again after this delay.
    RetryIn(Duration),
    /// The receiver answered 410 Gone: no more attempts, and the hook is deactivated.
    Gone,
    /// The attempt failed and was the schedule's last.
    Failed,
}

/// The verdict on attempt `n` (1-based). A `Retry-After` (`attempt.retry_after_s`) counts
/// on a 429 or 503 only, and replaces the schedule's delay without adding an attempt.
/// `jitter` is a draw uniform in `[0, 1)` ([`jitter`]); values outside it are clamped.
pub fn verdict(attempt: &Attempt, n: u32, policy: &RetryPolicy<'_>, jitter: f64) -> Verdict {
    if attempt.delivered() {
        return Verdict::Delivered;
    }
    if attempt.status == Some(410) {
        return Verdict::Gone;
    }
    let Some(scheduled) = policy.schedule.delay_after(n) else {
        return Verdict::Failed;
    };
    let delay = match (attempt.status, attempt.retry_after_s) {
        (Some(429 | 503), Some(secs)) => {
            let cap = policy.retry_after_cap;
            jittered(Duration::from_secs(secs).min(cap), jitter).min(cap)
        }
        _ => jittered(scheduled, jitter),
    };
    Verdict::RetryIn(delay)
}

/// `delay` plus `jitter` (clamped to `[0, 1]`) times a tenth of it.
pub fn jittered(delay: Duration, jitter: f64) -> Duration {
    let share = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    delay.saturating_add((delay / 10).mul_f64(share))
}

/// A jitter draw for [`verdict`]: uniform in `[0, 1)`.
pub fn jitter() -> f64 {
    rand::random::<f64>()
}

/// A `Retry-After` header value in seconds from `now`: delta-seconds as they are, an
/// HTTP-date (RFC 9110 §10.2.3) as the seconds until it, rounded up so that the retry
/// does not come before it (0 when it is past). `None` when it is neither.
pub fn retry_after_secs(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(match at.duration_since(now) {
        Ok(ahead) => ahead.as_secs() + u64::from(ahead.subsec_nanos() > 0),
        Err(_) => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookpost_core::outcome::OutcomeKind;
    use proptest::prelude::*;

    fn failed(status: Option<u16>, retry_after_s: Option<u64>) -> Attempt {
        Attempt {
            attempt: 1,
            at: 0,
            duration_ms: 0,
            outcome: match status {
                Some(200..=299) => OutcomeKind::Delivered,
                Some(_) => OutcomeKind::HttpStatus,
                None => OutcomeKind::Connect,
            },
            status,
            error: None,
            response: None,
            retry_after_s,
            signatures: None,
            uuid: None,
        }
    }

    fn hour() -> Duration {
        Duration::from_secs(3600)
    }

    #[test]
    fn the_default_schedule_retries_three_times_within_six_minutes_after_each_hour() {
        let schedule = RetrySchedule::default();
        let policy = RetryPolicy {
            schedule: &schedule,
            retry_after_cap: hour(),
        };
        let attempt = failed(Some(500), None);
        for n in 1..=3 {
            assert_eq!(verdict(&attempt, n, &policy, 0.0), Verdict::RetryIn(hour()));
            assert_eq!(
                verdict(&attempt, n, &policy, 1.0),
                Verdict::RetryIn(hour() + Duration::from_secs(360))
            );
        }
        assert_eq!(verdict(&attempt, 4, &policy, 0.5), Verdict::Failed);
        assert_eq!(
            verdict(&failed(Some(204), None), 4, &policy, 0.5),
            Verdict::Delivered
        );
        assert_eq!(
            verdict(&failed(Some(410), None), 1, &policy, 0.5),
            Verdict::Gone
        );
        // A Retry-After counts on 429 and 503 only.
        let later = |status| verdict(&failed(Some(status), Some(60)), 1, &policy, 0.0);
        assert_eq!(later(503), Verdict::RetryIn(Duration::from_secs(60)));
        assert_eq!(later(429), Verdict::RetryIn(Duration::from_secs(60)));
        assert_eq!(later(500), Verdict::RetryIn(hour()));
        // Out-of-range draws are clamped, never a panic.
        for j in [f64::NAN, f64::INFINITY, -1.0, 2.0] {
            let Verdict::RetryIn(d) = verdict(&attempt, 1, &policy, j) else {
                panic!("a retry");
            };
            assert!(d >= hour() && d <= hour() + Duration::from_secs(360), "{j}");
        }
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_784_000_000);
        assert_eq!(retry_after_secs(" 120 ", now), Some(120));
        let in_90s = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(retry_after_secs(&in_90s, now), Some(90));
        let ago = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(retry_after_secs(&ago, now), Some(0));
        // Half a second before the date: rounded up, not early.
        let just_before = now - Duration::from_millis(500);
        let at = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(retry_after_secs(&at, just_before), Some(11));
        for bad in ["", "soon", "-5", "1.5", "Mon, 32 Foo 2026 00:00:00 GMT"] {
            assert_eq!(retry_after_secs(bad, now), None, "{bad:?}");
        }
    }

    fn schedules() -> impl Strategy<Value = RetrySchedule> {
        // Up to 20 delays of up to 7 days each, as a hook's schedule may have.
        prop::collection::vec(0u64..=7 * 86_400_000, 0..=20)
            .prop_map(|ms| RetrySchedule::new(ms.into_iter().map(Duration::from_millis).collect()))
    }

    fn failures() -> impl Strategy<Value = Attempt> {
        (
            prop::option::of(prop_oneof![Just(429u16), Just(503), 300u16..=599]),
            prop::option::of(0u64..=u64::MAX / 4),
        )
            .prop_filter("not 410", |(s, _)| *s != Some(410))
            .prop_map(|(s, ra)| failed(s, ra))
    }

    proptest! {
        #[test]
        fn a_scheduled_delay_is_jittered_within_its_tenth_after_it(
            schedule in schedules(),
            n in 1u32..=21,
            jitter in 0.0f64..1.0,
            status in prop::option::of(500u16..=599),
        ) {
            let attempt = failed(status.filter(|s| *s != 503), None);
            let policy = RetryPolicy { schedule: &schedule, retry_after_cap: hour() };
            match (schedule.delay_after(n), verdict(&attempt, n, &policy, jitter)) {
                (Some(d), Verdict::RetryIn(delay)) => {
                    prop_assert!(delay >= d && delay <= d + d / 10, "{delay:?} for {d:?}");
                }
                (None, v) => prop_assert_eq!(v, Verdict::Failed),
                (Some(_), v) => prop_assert!(false, "{v:?}"),
            }
        }

        #[test]
        fn retry_after_is_honoured_up_to_the_cap_and_never_past_it(
            schedule in schedules(),
            n in 1u32..=20,
            status in prop_oneof![Just(429u16), Just(503)],
            asked in 0u64..=u64::MAX / 4,
            cap_s in 0u64..=7 * 86_400,
            jitter in 0.0f64..1.0,
        ) {
            prop_assume!(schedule.delay_after(n).is_some());
            let cap = Duration::from_secs(cap_s);
            let policy = RetryPolicy { schedule: &schedule, retry_after_cap: cap };
            let v = verdict(&failed(Some(status), Some(asked)), n, &policy, jitter);
            let Verdict::RetryIn(delay) = v else {
                return Err(TestCaseError::fail(format!("{v:?}")));
            };
            let honoured = Duration::from_secs(asked).min(cap);
            prop_assert!(delay >= honoured, "{delay:?} before {honoured:?}");
            prop_assert!(delay <= cap, "{delay:?} past the cap {cap:?}");
            prop_assert!(delay <= honoured + honoured / 10);
        }

        #[test]
        fn failing_attempts_retry_exactly_the_schedule_then_fail_for_good(
            schedule in schedules(),
            attempt in failures(),
            cap_s in 0u64..=86_400,
            jitter in 0.0f64..1.0,
        ) {
            let policy = RetryPolicy {
                schedule: &schedule,
                retry_after_cap: Duration::from_secs(cap_s),
            };
            let verdicts: Vec<Verdict> =
                (1..=schedule.attempts() + 3).map(|n| verdict(&attempt, n, &policy, jitter)).collect();
            let retries = verdicts.iter().take_while(|v| matches!(v, Verdict::RetryIn(_))).count();
            prop_assert_eq!(retries as u32 + 1, schedule.attempts());
            prop_assert!(verdicts[retries..].iter().all(|v| *v == Verdict::Failed));
        }

        #[test]
        fn delivered_and_gone_do_not_depend_on_the_attempt_number(
            schedule in schedules(),
            n in 0u32..=30,
            ok in 200u16..=299,
            jitter in 0.0f64..1.0,
        ) {
            let policy = RetryPolicy { schedule: &schedule, retry_after_cap: hour() };
            prop_assert_eq!(verdict(&failed(Some(ok), None), n, &policy, jitter), Verdict::Delivered);
            prop_assert_eq!(verdict(&failed(Some(410), Some(5)), n, &policy, jitter), Verdict::Gone);
        }
    }
}
