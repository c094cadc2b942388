//! What operators rely on: exact metrics after a known run, a text format Prometheus
//! parses, and logs that never carry a secret.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use hookpost_tests::receiver::Answer;
use hookpost_tests::{logs, wait_until, Receiver, TestApp, TestOptions};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Parses the text format into `name{label="value",…}` (labels sorted) → value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let key = match series.split_once('{') {
            Some((name, labels)) => {
                let mut pairs: Vec<&str> = labels
                    .trim_end_matches('}')
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .collect();
                pairs.sort();
                format!("{name}{{{}}}", pairs.join(","))
            }
            None => series.to_owned(),
        };
        out.insert(key, value.parse().expect("a number"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_known_run_exactly_and_parse_with_promtool() {
    let app = TestApp::spawn(TestOptions {
        retry: "1s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500)]);
    app.hook(&key, &rx.url, &["ticket.created"]).await;
    // The tenant's own types: known to it, but no metric label (`other`).
    for name in ["custom.thing", "custom.direct"] {
        let made = app
            .send("POST", "/v1/event-types", &key, Some(json!({"name": name})))
            .await;
        assert_eq!(made.0, 201, "{made:?}");
    }

    for kind in ["ticket.created", "lead.create", "custom.thing"] {
        assert_eq!(
            app.post_event(&key, &json!({"type": kind, "data": {}}))
                .await
                .status(),
            202
        );
    }
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created"}))
            .await
            .status(),
        400
    );
    app.publish_raw("x", b"nope").await;
    // Straight to the exchange, twice with one id: intake counts it once. The copy goes
    // after the first is done; sent together, it could find the first still leased and
    // count as `busy` instead and be looked at again when the lease ends.
    let direct = br#"{"id":"evt_direct","tenant":"acme","type":"custom.direct","data":{}}"#;
    app.publish_raw("custom.direct", direct).await;
    wait_until("the four new events processed", WAIT, || async {
        parse(&app.metrics().await).get(r#"hookpost_events_processed_total{result="new"}"#)
            == Some(&4.0)
    })
    .await;
    // Done once its state is removed (a moment after its record): the copy then finds
    // only its mark, which the log confirms.
    let state = app.store.keys().event_state("acme", "evt_direct");
    wait_until("the first copy done", WAIT, || async {
        let there: bool = redis::AsyncCommands::exists(&mut app.store.conn(), &state)
            .await
            .unwrap();
        !there
    })
    .await;
    app.publish_raw("custom.direct", direct).await;
    wait_until("the retry delivered", WAIT, || async {
        rx.delivered().len() == 1
    })
    .await;
    wait_until("the dead letter counted", WAIT, || async {
        app.metrics()
            .await
            .contains(r#"hookpost_dead_letters_total{reason="invalid_json"} 1"#)
    })
    .await;
    wait_until("all four events and the retry recorded", WAIT, || async {
        let m = parse(&app.metrics().await);
        m.get(r#"hookpost_events_processed_total{result="new"}"#) == Some(&4.0)
            && m.get(r#"hookpost_events_processed_total{result="duplicate"}"#) == Some(&1.0)
            && m.get("hookpost_attempt_duration_seconds_count") == Some(&2.0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let text = app.metrics().await;
    let m = parse(&text);
    let expect = [
        (
            r#"hookpost_events_published_total{path="api",type="ticket.created"}"#,
            1.0,
        ),
        (
            r#"hookpost_events_published_total{path="api",type="lead.create"}"#,
            1.0,
        ),
        (
            r#"hookpost_events_published_total{path="api",type="other"}"#,
            1.0,
        ),
        (
            r#"hookpost_events_published_total{path="exchange",type="other"}"#,
            1.0,
        ),
        (
            r#"hookpost_events_published_total{path="exchange",type="ticket.created"}"#,
            0.0,
        ),
        // Each of the three requests waited for its confirm, in the light queue: a
        // tenant sending three events is light.
        (
            r#"hookpost_publish_confirm_seconds_count{lane="fair"}"#,
            0.0,
        ),
        (
            r#"hookpost_publish_confirm_seconds_count{lane="light"}"#,
            3.0,
        ),
        (
            r#"hookpost_publish_confirm_seconds_count{lane="overflow"}"#,
            0.0,
        ),
        (r#"hookpost_events_rejected_total{reason="invalid"}"#, 1.0),
        (
            r#"hookpost_events_rejected_total{reason="broker_unavailable"}"#,
            0.0,
        ),
        (r#"hookpost_events_processed_total{result="new"}"#, 4.0),
        (
            r#"hookpost_events_processed_total{result="duplicate"}"#,
            1.0,
        ),
        (
            r#"hookpost_delivery_attempts_total{outcome="delivered"}"#,
            1.0,
        ),
        (
            r#"hookpost_delivery_attempts_total{outcome="http_status"}"#,
            1.0,
        ),
        (
            r#"hookpost_delivery_attempts_total{outcome="timeout"}"#,
            0.0,
        ),
        // One delivery: its first attempt failed, its retry (1 s later) delivered.
        (
            r#"hookpost_event_delivery_seconds_count{stage="first_attempt"}"#,
            1.0,
        ),
        (
            r#"hookpost_event_delivery_seconds_count{stage="delivered"}"#,
            1.0,
        ),
        (
            r#"hookpost_event_delivery_seconds_bucket{le="0.5",stage="delivered"}"#,
            0.0,
        ),
        (
            r#"hookpost_event_delivery_seconds_bucket{le="+Inf",stage="delivered"}"#,
            1.0,
        ),
        ("hookpost_deliveries_failed_total", 0.0),
        ("hookpost_deliveries_in_flight", 0.0),
        ("hookpost_attempt_duration_seconds_count", 2.0),
        ("hookpost_retries_scheduled_total", 1.0),
        ("hookpost_retries_claimed_total", 1.0),
        (r#"hookpost_dead_letters_total{reason="invalid_json"}"#, 1.0),
        (
            r#"hookpost_dead_letters_total{reason="unknown_tenant"}"#,
            0.0,
        ),
        (
            r#"hookpost_http_request_duration_seconds_count{code="202",method="POST",route="/v1/events"}"#,
            3.0,
        ),
        (
            r#"hookpost_http_request_duration_seconds_count{code="400",method="POST",route="/v1/events"}"#,
            1.0,
        ),
        // The event, light, overflow and deliveries queues.
        ("hookpost_consumers_active", 4.0),
    ];
    for (series, value) in expect {
        assert_eq!(m.get(series), Some(&value), "{series}\n{text}");
    }
    let info = m
        .iter()
        .find(|(k, _)| k.starts_with("hookpost_build_info{"))
        .expect("build_info");
    assert!(
        info.0.contains(r#"version=""#) && *info.1 == 1.0,
        "{info:?}"
    );
    assert!(m
        .get("process_resident_memory_bytes")
        .is_some_and(|v| *v > 0.0));
    assert!(m.contains_key("process_cpu_seconds_total"));

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test installs Debian's prometheus package)");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_keys_and_signatures_never_reach_a_log_line() {
    let app = TestApp::spawn(TestOptions {
        retry: "1s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500)]);
    let secret = "logcheck-secret-7f3a9c2e11";
    let r = app
        .http
        .post(app.url("/v1/hooks"))
        .bearer_auth(&key)
        .json(&json!({"url": rx.url, "events": ["*"], "secret": secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {}}))
            .await
            .status(),
        202
    );
    let wrong_key = "hpk_logcheckwrongkey4242";
    assert_eq!(
        app.post_event(wrong_key, &json!({"type": "ticket.created", "data": {}}))
            .await
            .status(),
        401
    );
    wait_until("failed, then delivered", WAIT, || async {
        rx.delivered().len() == 1
    })
    .await;
    let id = rx.received()[0].delivery_id();
    app.wait_for_status("acme", &id, "delivered").await;

    let logs = logs::captured();
    assert!(
        logs.contains(&id),
        "the delivery was logged at debug level (else this test proves nothing)"
    );
    assert!(logs.contains("api request"), "API requests were logged");
    let mut secrets = vec![
        secret.to_owned(),
        key.clone(),
        wrong_key.to_owned(),
        hookpost_tests::app::ADMIN_TOKEN.to_owned(),
    ];
    for req in rx.received() {
        for h in ["x-hook-signature", "webhook-signature"] {
            let value = req.header(h).unwrap();
            secrets.push(value.split_once(['=', ',']).unwrap().1.to_owned());
        }
    }
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret reached the logs: {s}");
    }
    app.finish().await;
}
