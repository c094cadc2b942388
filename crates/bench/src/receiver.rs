//! The bench's receivers on 127.0.0.1: `ok` answers 200 at once and counts every delivery
//! id it sees (and, for the latency scenario, how long after publication it arrived);
//! `slow` answers after 200 ms; `hang` never answers; `fail` answers 500.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

#[derive(Default)]
pub struct Seen {
    /// Delivery id → how many times it arrived (duplicates are counts above 1).
    pub ids: HashMap<String, u32>,
    /// Publish-to-arrival latencies (ms), when events carry `sent_at_us`.
    pub latencies_ms: Vec<f64>,
    pub first_at: Option<std::time::Instant>,
    pub last_at: Option<std::time::Instant>,
}

#[derive(Clone, Default)]
pub struct Receivers {
    pub seen: Arc<Mutex<Seen>>,
    pub base: String,
}

impl Receivers {
    pub async fn start() -> anyhow::Result<Receivers> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let r = Receivers {
            seen: Arc::default(),
            base: format!("http://{}", listener.local_addr()?),
        };
        let app = Router::new()
            .route("/{kind}/{n}", post(receive))
            .with_state(r.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(r)
    }

    pub fn url(&self, kind: &str, n: usize) -> String {
        format!("{}/{kind}/{n}", self.base)
    }

    /// Makes room for `deliveries` ids at once. Growing the map under its lock copies
    /// every id seen so far: near a million that took long enough for the receiver to
    /// answer nothing for a moment, which hookpost rightly treats as a pause of the hook.
    pub fn expect(&self, deliveries: usize) {
        let ids = &mut self.seen.lock().expect("not poisoned").ids;
        ids.reserve(deliveries.saturating_sub(ids.len()));
    }

    /// Distinct ids received so far.
    pub fn distinct(&self) -> usize {
        self.seen.lock().expect("not poisoned").ids.len()
    }
}

async fn receive(
    State(r): State<Receivers>,
    Path((kind, _)): Path<(String, usize)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    match kind.as_str() {
        // `bulk`: counted like `ok`, its latencies left out (another tenant's flood).
        "ok" | "bulk" => {
            let now = std::time::Instant::now();
            let latency =
                sent_at_us(&body).map(|sent| (crate::now_us() - sent as i64) as f64 / 1000.0);
            let id = headers
                .get("x-hook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let mut seen = r.seen.lock().expect("not poisoned");
            *seen.ids.entry(id).or_default() += 1;
            if let (Some(l), "ok") = (latency, kind.as_str()) {
                seen.latencies_ms.push(l);
            }
            seen.first_at.get_or_insert(now);
            seen.last_at = Some(now);
            StatusCode::OK
        }
        "slow" => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            StatusCode::OK
        }
        "hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `"sent_at_us":<n>` in the payload, found without parsing the whole body.
fn sent_at_us(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"sent_at_us\":";
    let at = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits: Vec<u8> = body[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}
