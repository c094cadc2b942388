//! Traces: a hookpost process exporting OTLP/HTTP (JSON) to a collector of the test's
//! own. A producer's `traceparent` is continued by ingest, the worker and every attempt,
//! a retry's attempt included, and a hook that asks for it gets the attempt's
//! `traceparent`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookpost::Roles;
use hookpost_tests::child::ChildRole;
use hookpost_tests::receiver::Answer;
use hookpost_tests::{free_port, wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

use crate::HOOKPOST;

const WAIT: Duration = Duration::from_secs(30);

/// One span as the collector got it.
#[derive(Debug, Clone)]
struct Span {
    name: String,
    trace: String,
    id: String,
    parent: String,
    attributes: Value,
}

impl Span {
    fn attribute(&self, key: &str) -> Option<String> {
        let a = self
            .attributes
            .as_array()?
            .iter()
            .find(|a| a["key"] == key)?;
        let v = &a["value"];
        v["stringValue"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| v["intValue"].as_str().map(str::to_owned))
            .or_else(|| v["intValue"].as_i64().map(|i| i.to_string()))
    }
}

/// An OTLP/HTTP collector (JSON) on 127.0.0.1: every span it is sent.
async fn collector() -> (String, Arc<Mutex<Vec<Span>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let kept = spans.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let all = v["resourceSpans"].as_array().cloned().unwrap_or_default();
                for scope in all
                    .iter()
                    .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
                {
                    for s in scope["spans"].as_array().cloned().unwrap_or_default() {
                        let text = |k: &str| s[k].as_str().unwrap_or_default().to_lowercase();
                        kept.lock().unwrap().push(Span {
                            name: text("name"),
                            trace: text("traceId"),
                            id: text("spanId"),
                            parent: text("parentSpanId"),
                            attributes: s["attributes"].clone(),
                        });
                    }
                }
                axum::Json(json!({}))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producers_trace_runs_through_ingest_the_worker_and_every_attempt() {
    let (otlp, spans) = collector().await;
    // Tenants and hooks through an ingest of the test's; events through the child,
    // which runs every role and exports its spans.
    let app = TestApp::spawn(TestOptions {
        roles: Roles::INGEST,
        ..TestOptions::default()
    })
    .await;
    let api = format!("127.0.0.1:{}", free_port());
    let _child = ChildRole::spawn_with(
        HOOKPOST,
        "all",
        &app.config,
        &[
            ("HOOKPOST_HTTP_ADDR", api.clone()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".into()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        ],
    );
    let http = reqwest::Client::new();
    wait_until("the child's API", WAIT, || async {
        http.get(format!("http://{api}/healthz"))
            .send()
            .await
            .is_ok()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500)]);
    let hook = app
        .hook_with(&key, &rx.url, json!({"send_traceparent": true}))
        .await;
    assert_eq!(hook["send_traceparent"], true);
    let hook_id = hook["id"].as_str().unwrap().to_owned();

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let producer_span = "00f067aa0ba902b7";
    let r = http
        .post(format!("http://{api}/v1/events"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{trace}-{producer_span}-01"))
        .json(&json!({"type": "ticket.created", "data": {"n": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    wait_until("a failure and its retry", WAIT, || async {
        rx.count() == 2
    })
    .await;

    // The receiver got each attempt's own span, in the producer's trace.
    let sent: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r.header("traceparent").unwrap_or_default().to_owned())
        .collect();
    for t in &sent {
        assert!(t.starts_with(&format!("00-{trace}-")), "{sent:?}");
    }
    assert_ne!(sent[0], sent[1]);

    let in_trace = || -> Vec<Span> {
        let all = spans.lock().unwrap();
        all.iter().filter(|s| s.trace == trace).cloned().collect()
    };
    wait_until("the spans of both attempts", WAIT, || async {
        in_trace().iter().filter(|s| s.name == "attempt").count() == 2
    })
    .await;
    let got = in_trace();
    let named = |n: &str| {
        got.iter()
            .filter(|s| s.name == n)
            .cloned()
            .collect::<Vec<_>>()
    };
    let ingest = named("ingest.publish");
    assert_eq!(ingest.len(), 1, "{got:#?}");
    assert_eq!(
        ingest[0].parent, producer_span,
        "ingest continues the producer's span"
    );
    let worker = named("worker.event");
    assert_eq!(worker.len(), 1, "{got:#?}");
    assert_eq!(worker[0].parent, ingest[0].id, "through the queue");
    let mut attempts = named("attempt");
    attempts.sort_by_key(|a| a.attribute("attempt"));
    assert_eq!(
        attempts[0].parent, worker[0].id,
        "the first attempt, in the worker's span"
    );
    assert_eq!(
        attempts[1].parent, ingest[0].id,
        "the retry joins the event's trace"
    );
    for (a, (status, outcome)) in attempts
        .iter()
        .zip([("500", "http_status"), ("200", "delivered")])
    {
        assert_eq!(a.attribute("hook_id").as_deref(), Some(hook_id.as_str()));
        assert_eq!(a.attribute("status").as_deref(), Some(status), "{a:?}");
        assert_eq!(a.attribute("outcome").as_deref(), Some(outcome), "{a:?}");
        assert!(
            sent.iter().any(|t| t.contains(&a.id)),
            "the receiver got attempt {a:?}'s own span: {sent:?}"
        );
    }
    app.finish().await;
}
