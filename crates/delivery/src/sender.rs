//! One HTTP attempt: POST, read a bounded part of the answer, and say what it was.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hookpost_core::outcome::{Attempt, OutcomeKind, RESPONSE_SNIPPET_BYTES};
use hookpost_core::ports::AllowedPorts;
use hookpost_core::signing::Signatures;
use hookpost_core::Config;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};

use crate::egress;
use crate::verdict::retry_after_secs;

/// Most of a response body read before the connection is dropped: enough to reuse the
/// connection after an ordinary answer, bounded against a receiver that sends 100 MiB.
const MAX_RESPONSE_READ: usize = 64 << 10;

/// The one shared client (connection pool, TLS roots, resolver built once).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
    allowed_ports: AllowedPorts,
}

/// The headers of one attempt besides the signatures.
pub struct Envelope<'a> {
    pub delivery_id: &'a str,
    pub event_type: &'a str,
    pub attempt: u32,
    /// `webhook-timestamp`: this attempt's unix seconds.
    pub timestamp: i64,
    /// `None` only for a test send to a URL that belongs to no hook (no key to sign with).
    pub signatures: Option<Signatures>,
    /// The body's `uuid`, in a format that has one: the log keeps it with the attempt.
    pub uuid: Option<String>,
    /// `x-hook-secret`, in the Tiledesk format: sent, never logged.
    pub secret: Option<&'a str>,
    /// `traceparent`, for a hook that asked for it.
    pub traceparent: Option<String>,
    /// The hook's custom headers (checked on save: they never override the ones above).
    pub headers: &'a HeaderMap,
}

impl Sender {
    /// The client of `config`'s timeouts and egress policy (private targets, ports, proxy).
    pub fn new(config: &Config) -> Sender {
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .user_agent(concat!("hookpost/", env!("CARGO_PKG_VERSION")));
        // Never the proxy of the environment: it would resolve hook names past the check.
        let builder = match &config.egress_proxy {
            Some(proxy) => builder.proxy(
                reqwest::Proxy::all(proxy.as_str()).expect("HOOKPOST_EGRESS_PROXY was checked"),
            ),
            None => builder.no_proxy(),
        };
        let builder = builder.dns_resolver(Arc::new(egress::Resolver {
            public_only: !config.allow_private_targets,
            trusted: config
                .egress_proxy
                .as_ref()
                .and_then(|p| p.host_str())
                .map(str::to_owned),
        }));
        Sender {
            client: builder.build().expect("the HTTP client builds"),
            allow_private: config.allow_private_targets,
            allowed_ports: config.allowed_ports.clone(),
        }
    }

    /// Refuses a URL on a port the policy does not allow (`HOOKPOST_ALLOWED_PORTS`).
    pub fn check_port(&self, url: &url::Url) -> Result<(), egress::PortRefused> {
        self.allowed_ports.check(url).map_err(egress::PortRefused)
    }

    /// Makes one attempt. Never fails: every way it can end is an [`Attempt`], which
    /// keeps the signature headers and `uuid` of a request that left.
    pub async fn send(&self, url: &url::Url, body: Vec<u8>, env: Envelope<'_>) -> Attempt {
        let at = hookpost_core::now_ms();
        let started = Instant::now();
        let mut attempt = Attempt {
            attempt: env.attempt,
            at,
            duration_ms: 0,
            outcome: OutcomeKind::Delivered,
            status: None,
            error: None,
            response: None,
            retry_after_s: None,
            signatures: None,
            uuid: None,
        };
        if let Err(refused) = self.check_port(url) {
            attempt.outcome = OutcomeKind::RefusedByPolicy;
            attempt.error = Some(refused.to_string());
            return attempt;
        }
        if !self.allow_private {
            if let Err(refused) = egress::check_literal(url) {
                attempt.outcome = OutcomeKind::RefusedByPolicy;
                attempt.error = Some(refused.to_string());
                return attempt;
            }
        }
        let request = self
            .client
            .post(url.clone())
            .headers(headers(&env))
            .body(body);
        attempt.signatures = env.signatures;
        attempt.uuid = env.uuid;
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                attempt.status = Some(status.as_u16());
                attempt.outcome = if status.is_success() {
                    OutcomeKind::Delivered
                } else {
                    OutcomeKind::HttpStatus
                };
                attempt.retry_after_s = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after_secs(v, std::time::SystemTime::now()));
                match read_snippet(response).await {
                    Ok(snippet) => attempt.response = Some(snippet),
                    Err(e) => {
                        // The status arrived but the body did not: the attempt is not a
                        // success (the receiver may not have finished handling it).
                        let (kind, error) = classify(&e);
                        attempt.outcome = kind;
                        attempt.error = Some(error);
                    }
                }
            }
            Err(e) => {
                let (kind, error) = classify(&e);
                attempt.outcome = kind;
                attempt.error = Some(error);
            }
        }
        attempt.duration_ms = started.elapsed().as_millis() as u64;
        attempt
    }
}

fn headers(env: &Envelope<'_>) -> HeaderMap {
    let mut h = env.headers.clone();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    put("x-hook-id", env.delivery_id);
    put("x-hook-event", env.event_type);
    put("x-hook-attempt", &env.attempt.to_string());
    put("webhook-id", env.delivery_id);
    put("webhook-timestamp", &env.timestamp.to_string());
    if let Some(sig) = &env.signatures {
        put("x-hook-signature", &sig.sha1);
        if let Some(prev) = &sig.sha1_previous {
            put("x-hook-signature-previous", prev);
        }
        put("webhook-signature", &sig.standard);
    }
    if let Some(t) = &env.traceparent {
        put("traceparent", t);
    }
    if let Some(secret) = env.secret {
        if let Ok(mut v) = HeaderValue::from_str(secret) {
            v.set_sensitive(true);
            h.insert(HeaderName::from_static("x-hook-secret"), v);
        }
    }
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h
}

/// Reads up to [`MAX_RESPONSE_READ`] bytes, keeps the first [`RESPONSE_SNIPPET_BYTES`].
async fn read_snippet(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut kept = Vec::new();
    let mut read = 0usize;
    while let Some(chunk) = response.chunk().await? {
        if kept.len() < RESPONSE_SNIPPET_BYTES {
            let take = (RESPONSE_SNIPPET_BYTES - kept.len()).min(chunk.len());
            kept.extend_from_slice(&chunk[..take]);
        }
        read += chunk.len();
        if read >= MAX_RESPONSE_READ {
            break; // dropping the response closes the connection
        }
    }
    Ok(String::from_utf8_lossy(&kept).into_owned())
}

/// Maps a client error to an outcome kind, from its source chain.
fn classify(e: &reqwest::Error) -> (OutcomeKind, String) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut chain = String::new();
    let mut kind = None;
    while let Some(err) = source {
        if err.downcast_ref::<egress::Refused>().is_some() {
            kind = kind.or(Some(OutcomeKind::RefusedByPolicy));
        } else if err.downcast_ref::<egress::DnsFailure>().is_some() {
            kind = kind.or(Some(OutcomeKind::Dns));
        }
        let text = err.to_string();
        if !chain.contains(&text) {
            if !chain.is_empty() {
                chain.push_str(": ");
            }
            chain.push_str(&text);
        }
        source = err.source();
    }
    let kind = kind.unwrap_or_else(|| {
        let lower = chain.to_ascii_lowercase();
        if e.is_timeout() {
            OutcomeKind::Timeout
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            // rustls' errors are not exposed as types through reqwest; their text is stable.
            OutcomeKind::Tls
        } else {
            OutcomeKind::Connect
        }
    });
    (kind, chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn attempt(sender: &Sender, url: &str) -> Attempt {
        let headers = HeaderMap::new();
        let env = Envelope {
            delivery_id: "dlv_x",
            event_type: "ticket.created",
            attempt: 1,
            timestamp: 0,
            signatures: None,
            uuid: None,
            secret: None,
            traceparent: None,
            headers: &headers,
        };
        sender
            .send(&url.parse().unwrap(), b"{}".to_vec(), env)
            .await
    }

    #[tokio::test]
    async fn a_url_on_a_refused_port_is_refused_by_policy_before_any_connection() {
        let config = Config {
            allow_private_targets: true,
            ..Config::default()
        };
        let sender = Sender::new(&config);
        // Nothing listens on 127.0.0.1:9: a connection would end as `connect`.
        let a = attempt(&sender, "http://127.0.0.1:9/x").await;
        assert_eq!(a.outcome, OutcomeKind::RefusedByPolicy);
        assert!(a.error.unwrap().contains("port 9"));
        let allowed = Sender::new(&Config {
            allowed_ports: AllowedPorts::parse("9").unwrap(),
            ..config
        });
        assert_eq!(
            attempt(&allowed, "http://127.0.0.1:9/x").await.outcome,
            OutcomeKind::Connect
        );
    }

    #[tokio::test]
    async fn retry_after_as_an_http_date_is_read_as_the_seconds_until_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let answer = format!(
                "HTTP/1.1 503 Service Unavailable\r\nretry-after: {date}\r\n\
                 content-length: 0\r\nconnection: close\r\n\r\n"
            );
            conn.write_all(answer.as_bytes()).await.unwrap();
        });
        let sender = Sender::new(&Config {
            allow_private_targets: true,
            ..Config::default()
        });
        let a = attempt(&sender, &format!("http://127.0.0.1:{port}/")).await;
        assert_eq!(a.status, Some(503));
        let secs = a.retry_after_s.expect("the date was read");
        assert!((118..=121).contains(&secs), "{secs}");
    }

    #[tokio::test]
    async fn an_ipv6_literal_embedding_a_private_ipv4_is_refused_by_policy() {
        let sender = Sender::new(&Config::default());
        for url in [
            "http://[2002:7f00:1::1]:8080/",
            "http://[::ffff:0:7f00:1]:8080/",
        ] {
            let a = attempt(&sender, url).await;
            assert_eq!(a.outcome, OutcomeKind::RefusedByPolicy, "{url}");
        }
    }
}
