//! Slows the guessing of credentials: failed authentications (API keys, the admin token,
//! console sign-ins) are counted per client address in fixed windows
//! (`HOOKPOST_AUTH_FAILURE_LIMIT` per `HOOKPOST_AUTH_FAILURE_WINDOW`). Past the limit,
//! every request of that address is answered 429 with `Retry-After` until the window
//! ends, a correct credential too: otherwise the answer to a guess made while throttled
//! would still tell right from wrong.
//!
//! Redis holds the count (`{auth}:fail:<client>`), so every ingest replica shares it and
//! a restart does not reset it. Each process keeps a bounded copy, so that a throttled
//! address is refused without a round trip and the count goes on in this process while
//! Redis cannot be reached.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hookpost_core::Config;
use hookpost_ops::Metrics;
use hookpost_store::Store;
use http::{header, HeaderValue, Response, StatusCode};

/// Most addresses one process tracks. Past it, expired windows are dropped; if none
/// has, a new address is counted in Redis only. About 100 bytes each: 10 MB at most.
pub const MAX_TRACKED: usize = 100_000;

pub struct Throttle {
    limit: u64,
    window: Duration,
    local: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    failures: u64,
    ends: Instant,
}

impl Throttle {
    pub fn new(config: &Config) -> Throttle {
        Throttle {
            limit: u64::from(config.auth_failure_limit),
            window: config.auth_failure_window,
            local: Mutex::new(HashMap::new()),
        }
    }

    /// How long `client` must wait before it may try again; `None` while it may try.
    pub fn blocked(&self, client: &str) -> Option<Duration> {
        let now = Instant::now();
        let local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let w = local.get(client)?;
        (w.ends > now && w.failures >= self.limit).then(|| w.ends - now)
    }

    /// Counts one failure of `client`; how long it must wait when this one was already
    /// past the limit (concurrent guesses, or another replica's count).
    pub async fn failed(&self, store: &Store, client: &str) -> Option<Duration> {
        let shared = store.auth_failure(client, self.window).await;
        let now = Instant::now();
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let window = match shared {
            Ok((failures, left)) => Window {
                failures,
                ends: now + left,
            },
            Err(e) => {
                tracing::warn!(error = %e, "auth failures: Redis unreachable, counting in this process");
                match local.get(client).filter(|w| w.ends > now) {
                    Some(w) => Window {
                        failures: w.failures + 1,
                        ends: w.ends,
                    },
                    None => Window {
                        failures: 1,
                        ends: now + self.window,
                    },
                }
            }
        };
        if local.len() >= MAX_TRACKED && !local.contains_key(client) {
            local.retain(|_, w| w.ends > now);
        }
        if local.len() < MAX_TRACKED || local.contains_key(client) {
            local.insert(client.to_owned(), window);
        }
        (window.failures > self.limit).then(|| window.ends.saturating_duration_since(now))
    }
}

/// Runs an authenticated request of `client` under the throttle: refused with `refuse`
/// while the address is throttled, its 401 counted (and turned into `refuse` past the
/// limit). `surface` labels the metric: `api` or `console`.
pub async fn attempt<B>(
    throttle: &Throttle,
    store: &Store,
    metrics: &Metrics,
    surface: &str,
    client: &str,
    run: impl Future<Output = Response<B>>,
    refuse: impl Fn(Duration) -> Response<B>,
) -> Response<B> {
    let counted = |answer: &str| {
        metrics
            .auth_failures
            .with_label_values(&[surface, answer])
            .inc()
    };
    if let Some(wait) = throttle.blocked(client) {
        counted("throttled");
        return with_retry_after(refuse(wait), wait);
    }
    let response = run.await;
    if response.status() != StatusCode::UNAUTHORIZED {
        return response;
    }
    match throttle.failed(store, client).await {
        Some(wait) => {
            counted("throttled");
            with_retry_after(refuse(wait), wait)
        }
        None => {
            counted("refused");
            response
        }
    }
}

use crate::error::retry_after_secs;

fn with_retry_after<B>(mut response: Response<B>, wait: Duration) -> Response<B> {
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(wait)),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_429_with_retry_after_in_whole_seconds() {
        let r = with_retry_after(Response::new(()), Duration::ZERO);
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = with_retry_after(Response::new(()), Duration::from_millis(1500));
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
    }

    #[test]
    fn an_address_is_blocked_only_once_it_reached_the_limit_within_the_window() {
        let t = Throttle {
            limit: 2,
            window: Duration::from_secs(60),
            local: Mutex::new(HashMap::new()),
        };
        let now = Instant::now();
        let put = |failures, ends| {
            t.local
                .lock()
                .unwrap()
                .insert("a".into(), Window { failures, ends });
        };
        put(1, now + Duration::from_secs(30));
        assert!(t.blocked("a").is_none());
        put(2, now + Duration::from_secs(30));
        assert!(t.blocked("a").is_some_and(|w| w <= Duration::from_secs(30)));
        put(5, now);
        assert!(t.blocked("a").is_none(), "an ended window blocks nothing");
        assert!(t.blocked("b").is_none());
    }
}
