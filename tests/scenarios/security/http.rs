//! Security scenarios: http. Ids from URL paths that would name other store keys
//! (item 8), slow and piled-up clients (item 9, slowloris), and the ops endpoints on the
//! public port (item 16).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hookpost::Roles;
use hookpost_core::Config;
use hookpost_tests::app::ADMIN_TOKEN;
use hookpost_tests::{logs, wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Asserts a 404 `not_found` JSON error.
async fn assert_not_found(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), 404, "{what}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found", "{what}: {body}");
}

/// A tenant with a hook to a receiver, and one event delivered to it: (key, delivery id).
async fn one_delivery(app: &TestApp, receiver: &Receiver, event_id: &str) -> (String, String) {
    let key = app.tenant("acme").await;
    app.hook(&key, &receiver.url, &["ticket.created"]).await;
    let r = app
        .post_event(
            &key,
            &json!({"id": event_id, "type": "ticket.created", "data": {"n": 1}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    wait_until("the delivery", Duration::from_secs(20), || async {
        !receiver.delivered().is_empty()
    })
    .await;
    (key, receiver.delivered()[0].delivery_id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_ids_that_would_name_another_key_are_not_found_and_reach_no_key() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let receiver = Receiver::start().await;
    let (key, dlv) = one_delivery(&app, &receiver, "evt-path-1").await;
    app.wait_for_status("acme", &dlv, "delivered").await;
    let hook_id = app
        .get(&key, "/v1/hooks")
        .await
        .json::<Value>()
        .await
        .unwrap()["hooks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // `…:attempts` is the delivery's attempt list, `…:dlvs` the event's delivery set:
    // both exist, and were read as the wrong type (503 and a WARN) before.
    for path in [
        format!("/v1/deliveries/{dlv}:attempts"),
        "/v1/events/evt-path-1:dlvs".to_owned(),
        format!("/v1/hooks/{hook_id}:x"),
        format!("/v1/hooks/{hook_id}%7D"),
        "/v1/deliveries/..%2Fx".to_owned(),
    ] {
        assert_not_found(app.get(&key, &path).await, &path).await;
    }
    for path in [
        format!("/v1/deliveries/{dlv}:attempts/resend"),
        format!("/v1/hooks/{hook_id}:rate/resend-failed"),
    ] {
        let r = app.http.post(app.url(&path)).bearer_auth(&key).send().await;
        assert_not_found(r.unwrap(), &path).await;
    }
    let r = app
        .http
        .delete(app.url(&format!("/v1/hooks/{hook_id}:x")))
        .bearer_auth(&key)
        .send()
        .await;
    assert_not_found(r.unwrap(), "delete").await;
    // The SupportBee routes' `{id}.json`.
    let r = app
        .http
        .delete(app.url(&format!("/web_hooks/{hook_id}:rate.json")))
        .bearer_auth(&key)
        .send()
        .await;
    assert_not_found(r.unwrap(), "SupportBee delete").await;
    // Operators' routes: tenant and key ids too.
    for path in ["/v1/tenants/acme:x/keys", "/v1/tenants/acme%7D/keys"] {
        let r = app.http.get(app.url(path)).bearer_auth(ADMIN_TOKEN).send();
        assert_not_found(r.await.unwrap(), path).await;
    }
    let r = app
        .http
        .delete(app.url("/v1/tenants/acme/keys/key_x:y"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await;
    assert_not_found(r.unwrap(), "revoke").await;

    assert!(
        !wrong_type_logged(),
        "a store key was read as the wrong type"
    );
    // The real ones still answer, and the hook is untouched.
    assert_eq!(
        app.get(&key, &format!("/v1/deliveries/{dlv}"))
            .await
            .status(),
        200
    );
    assert_eq!(app.get(&key, "/v1/events/evt-path-1").await.status(), 200);
    let hook: Value = app
        .get(&key, &format!("/v1/hooks/{hook_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hook["active"], true);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_id_ending_in_dlvs_is_an_event_of_its_own() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let receiver = Receiver::start().await;
    // Producers' ids keep their colons: `e7:dlvs` once named the key of `e7`'s deliveries.
    let (key, _) = one_delivery(&app, &receiver, "order:e7").await;
    let r = app
        .post_event(
            &key,
            &json!({"id": "order:e7:dlvs", "type": "ticket.created", "data": {"n": 2}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    wait_until("both deliveries", Duration::from_secs(20), || async {
        receiver.delivered().len() == 2
    })
    .await;
    // The receiver has its request before the worker's log write commits.
    for id in ["order:e7", "order:e7:dlvs"] {
        wait_until(
            "the log shows the event",
            Duration::from_secs(20),
            || async { app.get(&key, &format!("/v1/events/{id}")).await.status() == 200 },
        )
        .await;
    }
    for (id, n) in [("order:e7", 1), ("order:e7:dlvs", 2)] {
        let r = app.get(&key, &format!("/v1/events/{id}")).await;
        assert_eq!(r.status(), 200, "{id}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["event"]["id"], id);
        assert_eq!(body["event"]["data"]["n"], n);
        assert_eq!(body["deliveries"].as_array().unwrap().len(), 1, "{body}");
    }
    // Sent again, the first is still a duplicate: its key did not move.
    let r = app
        .post_event(
            &key,
            &json!({"id": "order:e7", "type": "ticket.created", "data": {"n": 1}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.delivered().len(), 2);
    assert!(!wrong_type_logged());
    app.finish().await;
}

/// Starts one more ingest on `app`'s prefix with `limits` applied to its configuration;
/// its API address.
async fn ingest_with(app: &mut TestApp, limits: impl FnOnce(&mut Config)) -> SocketAddr {
    let mut config = app.config.clone();
    limits(&mut config);
    let i = app.start_more(Roles::INGEST, Some(config)).await;
    app.others[i].http_addr.expect("ingest runs")
}

/// Reads until the server closes the connection (or `within` passes); when it closed.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Instant> {
    let mut buf = [0u8; 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_all).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_disconnected_while_others_are_served() {
    let mut app = TestApp::spawn(TestOptions::default()).await;
    let addr = ingest_with(&mut app, |c| {
        c.http_header_timeout = Duration::from_secs(1);
    })
    .await;
    let started = Instant::now();
    let slow = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = slow.into_split();
    // A byte of header every 100 ms, for up to 10 s: never a whole request.
    let trickle = tokio::spawn(async move {
        let _ = write
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b"X").await.is_err() {
                return;
            }
        }
    });
    // Meanwhile a normal client is served.
    let r = app
        .http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(8), read.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the trickling client is still connected");
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(6),
        "closed after {after:?}"
    );
    // Nothing was answered to the half request.
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    trickle.abort();
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_not_served_until_others_close() {
    let mut app = TestApp::spawn(TestOptions::default()).await;
    let addr = ingest_with(&mut app, |c| c.http_max_connections = 2).await;
    // Two clients hold both slots with half a request each.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        holders.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = app.http.clone();
    let mut third = tokio::spawn(async move {
        client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    let early = tokio::time::timeout(Duration::from_millis(1500), &mut third).await;
    assert!(early.is_err(), "a third connection was served: {early:?}");
    // One holder leaves: the waiting client is served.
    let mut first = holders.remove(0);
    first.shutdown().await.unwrap();
    drop(first);
    let served = tokio::time::timeout(Duration::from_secs(5), third).await;
    assert_eq!(
        served.expect("served once a slot freed").unwrap().unwrap(),
        200
    );
    // The other holder is still connected (the header timeout is the default 10 s).
    let mut second = holders.remove(0);
    assert!(closed_within(&mut second, Duration::from_millis(200))
        .await
        .is_none());
    // Closed here, or shutting down would wait for its half request.
    drop(second);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_slower_than_the_request_timeout_is_cut_with_a_503() {
    let mut app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let addr = ingest_with(&mut app, |c| {
        c.request_timeout = Duration::from_millis(500);
        c.http_request_timeout = Duration::from_secs(1);
    })
    .await;
    // An event whose body comes a byte every 100 ms: the handler is still reading it
    // when the request's time is up.
    let body = json!({"id": "slow-1", "type": "ticket.created", "data": {"pad": "x".repeat(200)}})
        .to_string();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut read, mut write) = s.into_split();
    let bytes = body.into_bytes();
    let trickle = tokio::spawn(async move {
        for b in bytes {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(&[b]).await.is_err() {
                return;
            }
        }
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(8), read.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    trickle.abort();
    // Nothing was accepted.
    let r = app.get(&key, "/v1/events/slow-1").await;
    assert_eq!(r.status(), 404);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_readiness_are_only_on_the_metrics_address_by_default() {
    let mut app = TestApp::spawn(TestOptions::default()).await;
    for path in ["/metrics", "/readyz"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path} on the API port");
        let r = app.http.get(app.ops_url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path} on the metrics address");
    }
    assert!(app.metrics().await.contains("hookpost_"));
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // With HOOKPOST_OPS_ON_API, both.
    let addr = ingest_with(&mut app, |c| c.ops_on_api = true).await;
    for path in ["/metrics", "/readyz", "/healthz"] {
        let r = app
            .http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path} on the API port with ops_on_api");
    }
    let metrics = app.others[0].metrics_addr.expect("a metrics listener");
    let r = app
        .http
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.finish().await;
}

/// Whether a store key was read as the wrong type. The log is the whole test binary's:
/// the audit scenario puts a key of the wrong type in the audit log's place on purpose,
/// and its lines say so.
fn wrong_type_logged() -> bool {
    logs::captured()
        .lines()
        .any(|l| l.contains("WRONGTYPE") && !l.contains("could not be audited"))
}
