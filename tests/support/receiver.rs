//! A receiver on 127.0.0.1 that records every request and answers as the test scripts.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tokio_util::sync::CancellationToken;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// The status this receiver answered.
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }

    pub fn delivery_id(&self) -> String {
        self.header("x-hook-id").unwrap_or_default().to_owned()
    }
}

/// How to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// This status with a `Retry-After` of so many seconds.
    RetryAfter(u16, u64),
    /// This status with a `Retry-After` HTTP date so many seconds from now.
    RetryAfterDate(u16, u64),
    /// Never answer (until the test ends).
    Hang,
    /// 500 to a first attempt, 200 to every later one: each delivery takes one retry.
    FirstAttemptFails,
    /// This status with this body (as `text/html`).
    WithBody(u16, &'static str),
}

#[derive(Default)]
struct Script {
    /// Answers for the next requests, in order; then `default`.
    next: VecDeque<Answer>,
    default: Option<Answer>,
    /// Waited before every answer (a receiver that takes its time).
    latency: Duration,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
    /// Requests being answered now, and the most ever at once.
    concurrent: Arc<Mutex<(usize, usize)>>,
    stop: CancellationToken,
}

impl Receiver {
    /// Starts a receiver that answers 200 unless scripted otherwise.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let r = Receiver {
            url: format!("http://{addr}/hook"),
            log: Arc::default(),
            script: Arc::default(),
            concurrent: Arc::default(),
            stop: CancellationToken::new(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(r.clone());
        let stop = r.stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        r
    }

    /// The next requests get these answers, in order.
    pub fn answer_next(&self, answers: &[Answer]) {
        self.script
            .lock()
            .unwrap()
            .next
            .extend(answers.iter().copied());
    }

    /// Every request after the scripted ones gets this answer.
    pub fn answer_always(&self, answer: Answer) {
        self.script.lock().unwrap().default = Some(answer);
    }

    /// Every answer comes `latency` late.
    pub fn set_latency(&self, latency: Duration) {
        self.script.lock().unwrap().latency = latency;
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// The most requests this receiver was answering at once.
    pub fn most_concurrent(&self) -> usize {
        self.concurrent.lock().unwrap().1
    }

    pub fn count(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// The `n` of every delivery answered 2xx, grouped by `ticket.id`, in receive order.
    pub fn delivered_by_ticket(&self) -> std::collections::BTreeMap<i64, Vec<i64>> {
        let mut by_ticket = std::collections::BTreeMap::<i64, Vec<i64>>::new();
        for r in self.delivered() {
            let payload = &r.json()["payload"];
            by_ticket
                .entry(payload["ticket"]["id"].as_i64().unwrap())
                .or_default()
                .push(payload["n"].as_i64().unwrap());
        }
        by_ticket
    }

    /// The `payload.n` of every delivery answered 2xx, in receive order.
    pub fn delivered_ns(&self) -> Vec<i64> {
        self.delivered()
            .iter()
            .map(|r| r.json()["payload"]["n"].as_i64().unwrap())
            .collect()
    }

    /// Requests that were answered 2xx.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if Arc::strong_count(&self.log) <= 2 {
            self.stop.cancel();
        }
    }
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let _answering = Answering::new(&r.concurrent);
    let (answer, latency) = {
        let mut s = r.script.lock().unwrap();
        let answer = s
            .next
            .pop_front()
            .or(s.default)
            .unwrap_or(Answer::Status(200));
        (answer, s.latency)
    };
    let first_attempt = headers
        .get("x-hook-attempt")
        .is_some_and(|v| v.as_bytes() == b"1");
    let (status, retry_after) = match answer {
        Answer::Status(s) | Answer::WithBody(s, _) => (s, None),
        Answer::RetryAfter(s, secs) => (s, Some(secs.to_string())),
        Answer::RetryAfterDate(s, secs) => {
            let at = std::time::SystemTime::now() + Duration::from_secs(secs);
            (s, Some(httpdate::fmt_http_date(at)))
        }
        Answer::Hang => (0, None),
        Answer::FirstAttemptFails if first_attempt => (500, None),
        Answer::FirstAttemptFails => (200, None),
    };

    r.log.lock().unwrap().push(Received {
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        at: Instant::now(),
        answered: status,
    });
    // Recorded first: a receiver that has done its work but answers late (or never).
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if answer == Answer::Hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let status = StatusCode::from_u16(status).expect("a valid status");
    match (retry_after, answer) {
        (Some(value), _) => (status, [("retry-after", value)]).into_response(),
        (None, Answer::WithBody(_, body)) => {
            (status, [("content-type", "text/html")], body).into_response()
        }
        (None, _) => status.into_response(),
    }
}

/// Counts a request as being answered until dropped (also when the client gives up).
struct Answering<'a>(&'a Mutex<(usize, usize)>);

impl<'a> Answering<'a> {
    fn new(counts: &'a Mutex<(usize, usize)>) -> Self {
        let mut c = counts.lock().unwrap();
        c.0 += 1;
        c.1 = c.1.max(c.0);
        Answering(counts)
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap().0 -= 1;
    }
}
