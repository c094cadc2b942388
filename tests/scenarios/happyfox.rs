//! HappyFox receivers (as HappyFox's webhooks documentation describes them): a `uuid` in every request, the
//! payload that holds it signed with HMAC-SHA1 under the webhooks key, and a log that
//! shows each request's signature as it was sent.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use hookpost_tests::receiver::{Answer, Received};
use hookpost_tests::verify::python_accepts;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// The webhooks key a HappyFox user pastes in: a plain string, used as it is.
const KEY: &str = "happyfox-webhooks-key-7f3a9c";

/// A receiver written from the seed document alone: HMAC-SHA1 of the request payload
/// under the webhooks key, against `X-Hook-Signature: sha1=<hex>`.
fn happyfox_receiver_accepts(key: &str, r: &Received) -> bool {
    const SCRIPT: &str = r#"
import hashlib, hmac, sys
key, sent = sys.argv[1], sys.argv[2]
payload = sys.stdin.buffer.read()
expected = "sha1=" + hmac.new(key.encode(), payload, hashlib.sha1).hexdigest()
sys.exit(0 if hmac.compare_digest(expected, sent) else 1)
"#;
    let mut child = Command::new(hookpost_tests::python())
        .args([
            "-c",
            SCRIPT,
            key,
            r.header("x-hook-signature").unwrap_or(""),
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(&r.body).unwrap();
    child.wait().expect("python3 finishes").success()
}

/// The body without its `uuid`: what every attempt of a delivery shares.
fn without_uuid(r: &Received) -> Value {
    let mut v = r.json();
    v.as_object_mut().unwrap().remove("uuid");
    v
}

fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.bytes()
            .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        && parts[2].starts_with('4')
}

/// What the log says each attempt sent, in attempt order.
async fn logged(app: &TestApp, key: &str, id: &str) -> Vec<Value> {
    let (s, d) = app
        .send("GET", &format!("/v1/deliveries/{id}"), key, None)
        .await;
    assert_eq!(s, 200, "{d}");
    d["attempts"].as_array().unwrap().clone()
}

/// The log's record of an attempt matches the request the receiver got.
fn assert_logged_as_sent(a: &Value, r: &Received) {
    let sig = &a["signatures"];
    assert_eq!(
        sig["X-Hook-Signature"].as_str(),
        r.header("x-hook-signature")
    );
    assert_eq!(
        sig["webhook-signature"].as_str(),
        r.header("webhook-signature")
    );
    assert_eq!(
        sig["webhook-timestamp"]
            .as_i64()
            .map(|t| t.to_string())
            .as_deref(),
        r.header("webhook-timestamp")
    );
    assert_eq!(
        sig["X-Hook-Signature-Previous"].as_str(),
        r.header("x-hook-signature-previous")
    );
    assert_eq!(a["uuid"], r.json()["uuid"], "attempt {}", a["attempt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_its_own_uuid_under_the_signature_and_the_log_keeps_what_was_sent() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500), Answer::Status(503)]);
    let hook = app
        .hook_with(&key, &rx.url, json!({"format": "happyfox", "secret": KEY}))
        .await;
    assert_eq!(hook["format"], "happyfox");
    let hook_id = hook["id"].as_str().unwrap().to_owned();

    let event = json!({"type": "ticket.created", "data": {"ticket": {"id": 42}}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    wait_until("two failures and a success", WAIT, || async {
        rx.count() == 3
    })
    .await;
    let got = rx.received();
    let delivery = got[0].delivery_id();
    app.wait_for_status("acme", &delivery, "delivered").await;

    // Each request: its own uuid, signed over with the key as HappyFox documents.
    let uuids: BTreeSet<String> = got
        .iter()
        .map(|r| r.json()["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(uuids.len(), 3, "a new uuid in every request: {uuids:?}");
    assert!(uuids.iter().all(|u| is_uuid_v4(u)), "{uuids:?}");
    for r in &got {
        assert!(happyfox_receiver_accepts(KEY, r), "{r:?}");
        assert!(python_accepts(KEY, r), "the Standard Webhooks headers stay");
        assert_eq!(r.header("webhook-id"), Some(delivery.as_str()));
        assert_eq!(without_uuid(r), without_uuid(&got[0]));
    }
    assert_eq!(got[0].json()["payload"]["ticket"]["id"], 42);

    // The log shows each request's signature and uuid as the receiver got them.
    let attempts = logged(&app, &key, &delivery).await;
    assert_eq!(attempts.len(), 3);
    for (a, r) in attempts.iter().zip(&got) {
        assert_logged_as_sent(a, r);
    }

    // After a rotation the old attempts still show what they were sent with, and a
    // resend goes out with a new uuid under both keys.
    let (s, rotated) = app
        .send(
            "POST",
            &format!("/v1/hooks/{hook_id}/rotate-secret"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{rotated}");
    let new_key = rotated["secret"].as_str().unwrap().to_owned();
    assert_eq!(logged(&app, &key, &delivery).await, attempts);
    let (s, _) = app
        .send(
            "POST",
            &format!("/v1/deliveries/{delivery}/resend"),
            &key,
            None,
        )
        .await;
    assert_eq!(s, 202);
    wait_until("the resent request", WAIT, || async { rx.count() == 4 }).await;
    let resent = rx.received()[3].clone();
    assert!(!uuids.contains(resent.json()["uuid"].as_str().unwrap()));
    assert!(python_accepts(&new_key, &resent));
    assert!(python_accepts(KEY, &resent), "the previous key signs too");
    wait_until("the resend in the log", WAIT, || async {
        logged(&app, &key, &delivery).await.len() == 4
    })
    .await;
    let after = logged(&app, &key, &delivery).await;
    assert_eq!(
        after[..3],
        attempts[..],
        "old attempts are never signed again"
    );
    assert_logged_as_sent(&after[3], &resent);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_format_is_chosen_per_hook_and_checked() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    assert_eq!(hook["format"], "hookpost", "the default");
    let id = hook["id"].as_str().unwrap().to_owned();

    for bad in [json!("HappyFox"), json!("xml"), json!(1)] {
        let (s, err) = app.patch_hook(&key, &id, json!({ "format": bad })).await;
        assert_eq!(s, 400, "{bad}: {err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains("format"),
            "{err}"
        );
    }

    // The default format: no uuid, the same bytes on every attempt, signatures logged.
    rx.answer_next(&[Answer::Status(500)]);
    let event = json!({"type": "ticket.created", "data": {"n": 1}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    wait_until("a failure and a success", WAIT, || async {
        rx.count() == 2
    })
    .await;
    let got = rx.received();
    assert!(got[0].json().get("uuid").is_none());
    assert_eq!(got[0].body, got[1].body);
    let delivery = got[0].delivery_id();
    app.wait_for_status("acme", &delivery, "delivered").await;
    let attempts = logged(&app, &key, &delivery).await;
    for (a, r) in attempts.iter().zip(&got) {
        assert_logged_as_sent(a, r);
    }

    // Switched to happyfox, and back with null.
    let (s, h) = app
        .patch_hook(&key, &id, json!({"format": "happyfox"}))
        .await;
    assert_eq!((s, &h["format"]), (200, &json!("happyfox")));
    let (s, h) = app.patch_hook(&key, &id, json!({"format": null})).await;
    assert_eq!((s, &h["format"]), (200, &json!("hookpost")));
    app.finish().await;
}
