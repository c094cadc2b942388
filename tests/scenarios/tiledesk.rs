//! Tiledesk receivers and REST-hook subscriptions, as Tiledesk's webhooks documentation
//! documents them: `{"hook", "timestamp", "payload"}` bodies, `x-hook-secret` on every
//! notification, and subscriptions made with `{event, target}`.

use std::time::Duration;

use hookpost_tests::receiver::{Answer, Received};
use hookpost_tests::verify::python_accepts;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// What a receiver written from the seed document checks of a notification: a JSON POST
/// whose `hook` is the subscription that triggered it and whose `payload` is the data,
/// signed by the subscription's secret in `x-hook-secret`.
fn tiledesk_receiver_accepts(subscription: &Value, r: &Received) -> Result<Value, String> {
    if r.header("content-type") != Some("application/json") {
        return Err(format!("content-type {:?}", r.header("content-type")));
    }
    if r.header("x-hook-secret") != subscription["secret"].as_str() {
        return Err("x-hook-secret is not the subscription's secret".into());
    }
    let v = r.json();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    if keys != ["hook", "payload", "timestamp"] {
        return Err(format!("top-level fields {keys:?}"));
    }
    let hook = &v["hook"];
    for field in ["_id", "target", "event"] {
        if hook[field] != subscription[field] {
            return Err(format!(
                "hook.{field}: {} ≠ {}",
                hook[field], subscription[field]
            ));
        }
    }
    for field in ["createdAt", "updatedAt"] {
        hook[field]
            .as_str()
            .filter(|t| t.ends_with('Z') && t.contains('T'))
            .ok_or(format!("hook.{field}: {}", hook[field]))?;
    }
    if !v["timestamp"].is_i64() {
        return Err(format!("timestamp {}", v["timestamp"]));
    }
    Ok(v["payload"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_made_as_tiledesk_documents_gets_tiledesk_notifications() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("proj42").await;
    let rx = Receiver::start().await;
    rx.answer_next(&[Answer::Status(500)]);

    let (s, sub) = app
        .send(
            "POST",
            "/proj42/subscriptions",
            &key,
            Some(json!({"event": "request.create", "target": rx.url})),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    assert_eq!(
        (&sub["event"], &sub["target"], &sub["id_project"]),
        (&json!("request.create"), &json!(rx.url), &json!("proj42"))
    );
    let secret = sub["secret"].as_str().unwrap().to_owned();
    let id = sub["_id"].as_str().unwrap().to_owned();

    // The same hook on /v1/hooks, in the tiledesk format.
    let (_, hook) = app
        .send("GET", &format!("/v1/hooks/{id}"), &key, None)
        .await;
    assert_eq!(hook["format"], "tiledesk");
    assert_eq!(hook["events"], json!(["request.create"]));

    // Listed and read back, without the secret.
    let (s, list) = app.send("GET", "/proj42/subscriptions", &key, None).await;
    assert_eq!(s, 200);
    let mut listed = sub.clone();
    listed.as_object_mut().unwrap().remove("secret");
    assert_eq!(list, json!([listed]));
    let path = format!("/proj42/subscriptions/{id}");
    assert_eq!(
        app.send("GET", &path, &key, None).await,
        (200, listed.clone())
    );

    // A request.create is notified; the first answer fails and the retry is the same.
    let data = json!({"_id": "5c542239", "request_id": "support-group-1", "first_text": "hello"});
    let event = json!({"type": "request.create", "data": data});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    let other = json!({"type": "message.create", "data": {"text": "not subscribed"}});
    assert_eq!(app.post_event(&key, &other).await.status(), 202);
    wait_until("a failure and its retry", WAIT, || async {
        rx.count() == 2
    })
    .await;
    let got = rx.received();
    for r in &got {
        assert_eq!(tiledesk_receiver_accepts(&sub, r), Ok(data.clone()));
        assert!(python_accepts(&secret, r), "the signature headers stay");
    }
    assert_eq!(got[0].body, got[1].body);
    let delivery = got[0].delivery_id();
    app.wait_for_status("proj42", &delivery, "delivered").await;
    let (_, logged) = app
        .send("GET", &format!("/v1/deliveries/{delivery}"), &key, None)
        .await;
    assert!(
        !logged.to_string().contains(&secret),
        "x-hook-secret is never logged: {logged}"
    );

    // Deleted: answered with what was removed, then gone everywhere.
    assert_eq!(app.send("DELETE", &path, &key, None).await, (200, listed));
    assert_eq!(app.send("GET", &path, &key, None).await.0, 404);
    assert_eq!(app.send("DELETE", &path, &key, None).await.0, 404);
    let (_, list) = app.send("GET", "/proj42/subscriptions", &key, None).await;
    assert_eq!(list, json!([]));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_are_refused_with_a_clear_error_and_make_nothing() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("proj42").await;
    let other = app.tenant("proj43").await;
    let target = "http://127.0.0.1:9/hook";

    for (body, words) in [
        (
            json!({"event": "request.open", "target": target}),
            "`event`",
        ),
        (json!({"event": "*", "target": target}), "`event`"),
        (
            json!({"event": "request.create", "target": "ftp://x"}),
            "`target`",
        ),
        (json!({"event": "request.create"}), "target"),
        (json!({"target": target}), "event"),
        (
            json!({"event": "request.create", "target": target, "extra": 1}),
            "extra",
        ),
    ] {
        let (s, err) = app
            .send("POST", "/proj42/subscriptions", &key, Some(body.clone()))
            .await;
        assert_eq!(s, 400, "{body}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }

    // Another tenant's project, and no key at all.
    let good = json!({"event": "request.create", "target": target});
    let (s, _) = app
        .send("POST", "/proj42/subscriptions", &other, Some(good.clone()))
        .await;
    assert_eq!(s, 404);
    let (s, _) = app
        .send("POST", "/proj42/subscriptions", "hpk_nope", Some(good))
        .await;
    assert_eq!(s, 401);
    let (_, list) = app.send("GET", "/proj42/subscriptions", &key, None).await;
    assert_eq!(list, json!([]), "nothing was made");
    let (s, _) = app.send("GET", "/proj43/subscriptions", &key, None).await;
    assert_eq!(s, 404, "another tenant's list");
    app.finish().await;
}
