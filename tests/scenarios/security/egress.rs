//! Security scenarios: egress. Where hookpost may send: proxy variables that would carry
//! sends past the address guard, IPv6 forms of private IPv4 addresses, test sends as a
//! relay and port scanner, and ports of data stores.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookpost::Roles;
use hookpost_core::delivery::delivery_id;
use hookpost_core::outcome::OutcomeKind;
use hookpost_core::Config;
use hookpost_tests::child::ChildRole;
use hookpost_tests::{free_port, wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::HOOKPOST;

/// An HTTP proxy on 127.0.0.1 that records every connection and request line it gets
/// and answers 200 `proxied` itself: it forwards nothing.
struct RecordingProxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    async fn start() -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let line = read_request(&mut conn).await;
                    log.lock().unwrap().push(line);
                    let answer =
                        "HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nproxied";
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        });
        RecordingProxy { url, seen }
    }

    /// The request lines received (`<connection>` for one that sent none).
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request (head and a `content-length` body, so that closing does not reset
/// the connection under unread bytes); its request line.
async fn read_request(conn: &mut tokio::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let mut wanted = None;
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            wanted = Some(end + 4 + length);
        }
        if wanted.is_some_and(|w| data.len() >= w) || data.len() > 1 << 20 {
            break;
        }
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&data);
    match text.lines().next() {
        Some(line) if !line.is_empty() => line.to_owned(),
        _ => "<connection>".to_owned(),
    }
}

/// A client of the test process that never uses a proxy itself.
fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// `hookpost all` as a child configured like `config` plus `env`, on a port of its own;
/// its API's base URL once it is ready.
async fn child_all(config: &Config, env: &[(&str, String)]) -> (ChildRole, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut env = env.to_vec();
    env.push(("HOOKPOST_HTTP_ADDR", addr.clone()));
    // Readiness on the API's port, where this test looks for it.
    env.push(("HOOKPOST_OPS_ON_API", "true".into()));
    let child = ChildRole::spawn_with(HOOKPOST, "all", config, &env);
    let base = format!("http://{addr}");
    let http = client();
    wait_until(
        "the child hookpost is ready",
        Duration::from_secs(30),
        || {
            let r = http.get(format!("{base}/readyz")).send();
            async move { r.await.is_ok_and(|r| r.status() == 200) }
        },
    )
    .await;
    (child, base)
}

/// `POST url` with `key` and `body`: status, `Retry-After`, JSON.
async fn post(url: &str, key: &str, body: Value) -> (u16, Option<String>, Value) {
    let r = client()
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("hookpost answers");
    let status = r.status().as_u16();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = r.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, retry_after, json)
}

fn code(body: &Value) -> Option<&str> {
    body["error"]["code"].as_str()
}

/// Posts one event through `base`; the id of its delivery to `hook_id`.
async fn one_delivery(base: &str, key: &str, hook_id: &str) -> String {
    let event = json!({"type": "ticket.created", "data": {"n": 1}});
    let (s, _, body) = post(&format!("{base}/v1/events"), key, event).await;
    assert_eq!(s, 202, "{body}");
    delivery_id("acme", body["id"].as_str().unwrap(), hook_id)
}

/// The first attempt of delivery `id`, once one was made.
async fn first_attempt(app: &TestApp, id: &str) -> hookpost_core::outcome::Attempt {
    wait_until("an attempt", Duration::from_secs(30), || async {
        let d = app.db.delivery("acme", id).await.unwrap();
        d.is_some_and(|d| !d.attempts.is_empty())
    })
    .await;
    let d = app.db.delivery("acme", id).await.unwrap().unwrap();
    d.attempts[0].clone()
}

/// The proxy variables reqwest would honour, every spelling, pointing at `proxy`.
fn proxy_variables(proxy: &str) -> Vec<(&'static str, String)> {
    [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|v| (v, proxy.to_owned()))
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_variables_do_not_carry_sends_to_a_private_target_past_the_guard() {
    let proxy = RecordingProxy::start().await;
    let rx = Receiver::start().await;
    // The test's own ingest registers the hook as if its name had resolved to a public
    // address then (DNS rebinding): the guarded child meets it at send time.
    let app = TestApp::spawn(TestOptions {
        roles: Roles::INGEST,
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let target = rx.url.replace("127.0.0.1", "localhost");
    let hook = app.hook(&key, &target, &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    let guarded = Config {
        allow_private_targets: false,
        ..app.config.clone()
    };
    let (child, base) = child_all(&guarded, &proxy_variables(&proxy.url)).await;

    let (s, _, body) = post(
        &format!("{base}/v1/hooks"),
        &key,
        json!({"url": target, "events": ["*"]}),
    )
    .await;
    assert_eq!((s, code(&body)), (400, Some("private_target")), "{body}");
    let test = json!({"action_type": "ticket.created", "url": target});
    let (s, _, body) = post(&format!("{base}/web_hooks/test.json"), &key, test).await;
    assert_eq!((s, code(&body)), (400, Some("private_target")), "{body}");

    let (s, _, result) = post(&format!("{base}/v1/hooks/{hook_id}/test"), &key, json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(
        (result["ok"].as_bool(), result["outcome"].as_str()),
        (Some(false), Some("refused_by_policy")),
        "{result}"
    );
    let id = one_delivery(&base, &key, hook_id).await;
    let attempt = first_attempt(&app, &id).await;
    assert_eq!(attempt.outcome, OutcomeKind::RefusedByPolicy, "{attempt:?}");

    assert_eq!(proxy.seen(), Vec::<String>::new(), "the proxy saw nothing");
    assert_eq!(rx.count(), 0);
    child.kill().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_egress_proxy_set_deliveries_and_test_sends_go_through_it() {
    let proxy = RecordingProxy::start().await;
    let rx = Receiver::start().await;
    let app = TestApp::spawn(TestOptions {
        roles: Roles::INGEST,
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    let (child, base) =
        child_all(&app.config, &[("HOOKPOST_EGRESS_PROXY", proxy.url.clone())]).await;

    let (s, _, result) = post(&format!("{base}/v1/hooks/{hook_id}/test"), &key, json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(
        (result["ok"].as_bool(), result["response"].as_str()),
        (Some(true), Some("proxied")),
        "{result}"
    );
    let id = one_delivery(&base, &key, hook_id).await;
    app.wait_for_status("acme", &id, "delivered").await;

    let line = format!("POST {} HTTP/1.1", rx.url);
    assert_eq!(proxy.seen(), vec![line.clone(), line]);
    assert_eq!(
        rx.count(),
        0,
        "only the proxy reached the receiver's address"
    );
    child.kill().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_addresses_embedding_a_private_ipv4_are_refused_at_registration() {
    let app = TestApp::spawn(TestOptions {
        allow_private: false,
        ..TestOptions::default()
    })
    .await;
    let hosts = [
        "[2002:7f00:1::1]",                       // 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::1]",                    // 6to4 of 169.254.169.254
        "[2001:0:4136:e378:8000:63bf:80ff:fffe]", // Teredo, client 127.0.0.1
        "[::ffff:0:a9fe:a9fe]",                   // IPv4-translated 169.254.169.254
        "[::7f00:1]",                             // IPv4-compatible 127.0.0.1
        "[64:ff9b::a9fe:a9fe]",                   // NAT64 of 169.254.169.254
        "[100::1]",                               // discard-only
    ];
    for (i, host) in hosts.iter().enumerate() {
        // A tenant each: test sends count against the tenant's rate.
        let key = app.tenant(&format!("t{i}")).await;
        let url = format!("http://{host}/latest/meta-data");
        let (s, _, body) = post(
            &app.url("/v1/hooks"),
            &key,
            json!({"url": url, "events": ["*"]}),
        )
        .await;
        assert_eq!((s, code(&body)), (400, Some("private_target")), "{url}");
        let (s, _, body) = post(
            &app.url("/web_hooks.json"),
            &key,
            json!({"web_hook": {"url": url}}),
        )
        .await;
        assert_eq!((s, code(&body)), (400, Some("private_target")), "{url}");
        let test = json!({"action_type": "ticket.created", "url": url});
        let (s, _, body) = post(&app.url("/web_hooks/test.json"), &key, test).await;
        assert_eq!((s, code(&body)), (400, Some("private_target")), "{url}");
        let listed: Value = app.get(&key, "/v1/hooks").await.json().await.unwrap();
        assert_eq!(listed["hooks"], json!([]), "nothing was made");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_test_sends_is_answered_429_with_retry_after() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let test = app.url(&format!("/v1/hooks/{}/test", hook["id"].as_str().unwrap()));
    for _ in 0..5 {
        let (s, _, body) = post(&test, &key, json!({})).await;
        assert_eq!(s, 200, "{body}");
    }
    let (s, retry_after, body) = post(&test, &key, json!({})).await;
    assert_eq!(
        (s, code(&body)),
        (429, Some("test_send_rate_limited")),
        "{body}"
    );
    let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=6).contains(&secs), "{secs}");
    // The same limit covers the SupportBee route.
    let other = json!({"action_type": "ticket.created", "url": rx.url});
    let (s, retry_after, body) = post(&app.url("/web_hooks/test.json"), &key, other).await;
    assert_eq!(
        (s, code(&body)),
        (429, Some("test_send_rate_limited")),
        "{body}"
    );
    assert!(retry_after.is_some());
    assert_eq!(rx.count(), 5, "the refused ones sent nothing");

    // Per tenant: another tenant is not held up.
    let globex = app.tenant("globex").await;
    let theirs = app.hook(&globex, &rx.url, &["*"]).await;
    let path = format!("/v1/hooks/{}/test", theirs["id"].as_str().unwrap());
    let (s, _, _) = post(&app.url(&path), &globex, json!({})).await;
    assert_eq!(s, 200);

    // The rate refills: one more after the interval.
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (s, _, body) = post(&test, &key, json!({})).await;
    assert_eq!(s, 200, "{body}");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_runs_at_most_two_test_sends_at_once() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.set_latency(Duration::from_secs(2));
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let test = app.url(&format!("/v1/hooks/{}/test", hook["id"].as_str().unwrap()));
    let (a, b, c) = tokio::join!(
        post(&test, &key, json!({})),
        post(&test, &key, json!({})),
        post(&test, &key, json!({}))
    );
    let mut answers: Vec<(u16, Option<String>)> = [a, b, c]
        .into_iter()
        .map(|(s, _, body)| (s, code(&body).map(str::to_owned)))
        .collect();
    answers.sort();
    assert_eq!(
        answers,
        vec![
            (200, None),
            (200, None),
            (429, Some("test_send_busy".to_owned()))
        ]
    );
    assert_eq!(rx.most_concurrent(), 2);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_urls_on_data_store_and_privileged_ports_are_refused() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    // Redis and RabbitMQ listen on 127.0.0.1 here: exactly what the rule keeps out.
    for port in [6379, 5672, 15672, 9200, 2375, 22, 25, 1023] {
        let url = format!("http://127.0.0.1:{port}/");
        let (s, _, body) = post(
            &app.url("/v1/hooks"),
            &key,
            json!({"url": url, "events": ["*"]}),
        )
        .await;
        assert_eq!((s, code(&body)), (400, Some("port_not_allowed")), "{url}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("HOOKPOST_ALLOWED_PORTS"), "{message}");
        let (s, _, body) = post(
            &app.url("/web_hooks.json"),
            &key,
            json!({"web_hook": {"url": url}}),
        )
        .await;
        assert_eq!((s, code(&body)), (400, Some("port_not_allowed")), "{url}");
    }
    let test = json!({"action_type": "ticket.created", "url": "http://127.0.0.1:6379/"});
    let (s, _, body) = post(&app.url("/web_hooks/test.json"), &key, test).await;
    assert_eq!((s, code(&body)), (400, Some("port_not_allowed")), "{body}");

    // A change of URL is checked the same way; unprivileged ports stay allowed.
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let r = client()
        .patch(app.url(&format!("/v1/hooks/{}", hook["id"].as_str().unwrap())))
        .bearer_auth(&key)
        .json(&json!({"url": "http://127.0.0.1:5432/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let listed: Value = app.get(&key, "/v1/hooks").await.json().await.unwrap();
    assert_eq!(listed["hooks"].as_array().unwrap().len(), 1);
    assert_eq!(listed["hooks"][0]["url"], rx.url.as_str());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_hook_on_a_refused_port_gets_no_test_send_and_no_delivery() {
    // Registered where port 9 was allowed (the tests' setting); the child runs with the
    // default rule, as after an operator narrowed HOOKPOST_ALLOWED_PORTS.
    let app = TestApp::spawn(TestOptions {
        roles: Roles::INGEST,
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let hook = app.hook(&key, "http://127.0.0.1:9/hook", &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap();
    let (child, base) = child_all(&app.config, &[("HOOKPOST_ALLOWED_PORTS", String::new())]).await;

    let (s, _, body) = post(&format!("{base}/v1/hooks/{hook_id}/test"), &key, json!({})).await;
    assert_eq!((s, code(&body)), (400, Some("port_not_allowed")), "{body}");
    let id = one_delivery(&base, &key, hook_id).await;
    let attempt = first_attempt(&app, &id).await;
    // Nothing listens on port 9: a connection would have ended as `connect`.
    assert_eq!(attempt.outcome, OutcomeKind::RefusedByPolicy, "{attempt:?}");
    assert!(attempt.error.unwrap().contains("port 9"));
    child.kill().await;
    app.finish().await;
}
