//! Security scenarios: secrets. Hook secrets and custom header values are encrypted at
//! rest under `HOOKPOST_SECRET_KEY`, the server key can be rotated, and hookpost does
//! not start without one.

use std::time::Duration;

use hookpost::Roles;
use hookpost_core::secret_key::SecretKeys;
use hookpost_tests::verify::python_accepts;
use hookpost_tests::{app::SECRET_KEY, wait_until, Receiver, TestApp, TestOptions};
use redis::AsyncCommands;
use serde_json::{json, Value};

use crate::HOOKPOST;

const WAIT: Duration = Duration::from_secs(20);

/// Every hook JSON of a tenant as Redis holds it.
async fn raw_hooks(app: &TestApp, tenant: &str) -> Vec<String> {
    let raw: std::collections::HashMap<String, String> = app
        .store
        .conn()
        .hgetall(app.store.keys().hooks(tenant))
        .await
        .unwrap();
    raw.into_values().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_hook_secret_or_header_value_in_plaintext_after_create_patch_and_rotation() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let hook = app
        .hook_with(
            &key,
            "http://127.0.0.1:9/hook",
            json!({
                "secret": "whsec_chosen_by_the_client_1",
                "headers": { "Authorization": "Bearer receiver-token-one" }
            }),
        )
        .await;
    let id = hook["id"].as_str().unwrap();
    let (s, _) = app.patch_hook(&key, id, json!({ "headers": { "Authorization": "Bearer receiver-token-two", "X-Api-Key": "apikey-three" } })).await;
    assert_eq!(s, 200);
    let (s, rotated) = app
        .send(
            "POST",
            &format!("/v1/hooks/{id}/rotate-secret"),
            &key,
            Some(json!({ "secret": "whsec_rotated_secret_4" })),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(rotated["secret"], "whsec_rotated_secret_4");

    let stored = raw_hooks(&app, "acme").await;
    assert_eq!(stored.len(), 1);
    for plain in [
        "whsec_chosen_by_the_client_1",
        "receiver-token",
        "apikey-three",
        "whsec_rotated_secret_4",
    ] {
        assert!(!stored[0].contains(plain), "`{plain}` in {}", stored[0]);
    }
    let doc: Value = serde_json::from_str(&stored[0]).unwrap();
    for field in [
        &doc["secret"],
        &doc["previous_secret"],
        &doc["headers"]["Authorization"],
        &doc["headers"]["X-Api-Key"],
    ] {
        assert!(
            field.as_str().unwrap().starts_with("enc:v1:test1:"),
            "{field}"
        );
    }
    // The owner still reads both secrets, in plaintext, through the API.
    let (s, secrets) = app
        .send("GET", &format!("/v1/hooks/{id}/secret"), &key, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (
            secrets["secret"].as_str(),
            secrets["previous_secret"].as_str()
        ),
        (
            Some("whsec_rotated_secret_4"),
            Some("whsec_chosen_by_the_client_1")
        )
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_secret_copied_onto_another_hook_is_refused_and_never_sent() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let victim = app
        .hook_with(
            &key,
            "http://127.0.0.1:9/victim",
            json!({ "headers": { "Authorization": "Bearer victims-token" } }),
        )
        .await;
    let mine = app.hook(&key, &rx.url, &["*"]).await;
    let (victim_id, mine_id) = (victim["id"].as_str().unwrap(), mine["id"].as_str().unwrap());

    // Someone with write access to Redis copies the victim's sealed values onto a hook
    // that delivers to them.
    let hooks_key = app.store.keys().hooks("acme");
    let mut conn = app.store.conn();
    let v: String = conn.hget(&hooks_key, victim_id).await.unwrap();
    let m: String = conn.hget(&hooks_key, mine_id).await.unwrap();
    let (v, mut m): (Value, Value) = (
        serde_json::from_str(&v).unwrap(),
        serde_json::from_str(&m).unwrap(),
    );
    m["secret"] = v["secret"].clone();
    m["headers"] = v["headers"].clone();
    let _: () = conn.hset(&hooks_key, mine_id, m.to_string()).await.unwrap();
    let _: () = conn
        .incr(app.store.keys().hooks_version("acme"), 1)
        .await
        .unwrap();

    let (s, body) = app
        .send("GET", &format!("/v1/hooks/{mine_id}/secret"), &key, None)
        .await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["error"]["code"], "secrets_unreadable");
    assert!(!body.to_string().contains("victims-token"));

    // Events of the tenant are refused while a hook's secrets cannot be trusted: the
    // receivers' values are never guessed at.
    let r = app
        .post_event(&key, &json!({"type": "ticket.created", "data": {"n": 1}}))
        .await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "secrets_unreadable");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(rx.count(), 0, "nothing is delivered");
    assert!(
        rx.received()
            .iter()
            .all(|r| r.header("authorization") != Some("Bearer victims-token")),
        "the victim's header value reached the attacker's receiver"
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_rotating_the_server_key_every_hook_reads_and_verifies_under_the_new_key_alone() {
    let mut app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    const TYPES: [&str; 3] = ["ticket.created", "ticket.updated", "ticket.answered"];
    let mut hooks = Vec::new();
    for (n, kind) in TYPES.iter().enumerate() {
        let h = app
            .hook_with(
                &key,
                &rx.url,
                json!({ "events": [kind], "headers": { "Authorization": format!("Bearer tok-{n}") } }),
            )
            .await;
        hooks.push((
            h["id"].as_str().unwrap().to_owned(),
            h["secret"].as_str().unwrap().to_owned(),
        ));
    }
    // The running roles hold the old key only: stop them before the old key goes.
    if let Some(r) = app.running.take() {
        r.stop().await;
    }

    let new = SecretKeys::generate("k2");
    let mut both = app.config.clone();
    both.secret_keys = Some(SecretKeys::parse(&format!("{new},{SECRET_KEY}")).unwrap());
    let done = hookpost::rotate_secret_key(&both).await.unwrap();
    assert_eq!((done.resealed, done.current, done.unreadable), (3, 0, 0));
    // Safe to run again: nothing left to do.
    let again = hookpost::rotate_secret_key(&both).await.unwrap();
    assert_eq!((again.resealed, again.current, again.unreadable), (0, 3, 0));
    for raw in raw_hooks(&app, "acme").await {
        assert!(!raw.contains("enc:v1:test1:"), "{raw}");
        assert!(raw.contains("enc:v1:k2:"), "{raw}");
    }

    let mut only_new = app.config.clone();
    only_new.secret_keys = Some(SecretKeys::parse(&new).unwrap());
    let store = hookpost::store(&only_new).unwrap();
    for (id, secret) in &hooks {
        let h = store.hook("acme", id).await.unwrap().unwrap();
        assert_eq!(&h.secret, secret);
    }
    // Under the old key alone, nothing opens any more.
    let old_only = hookpost::store(&app.config).unwrap();
    assert!(matches!(
        old_only.hooks("acme").await,
        Err(hookpost_store::StoreError::Secrets(_))
    ));

    let i = app.start_more(Roles::ALL, Some(only_new)).await;
    let base = format!("http://{}", app.others[i].http_addr.unwrap());
    for (n, kind) in TYPES.iter().enumerate() {
        let r = app
            .http
            .post(format!("{base}/v1/events"))
            .bearer_auth(&key)
            .json(&json!({"type": kind, "data": {"n": n}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    wait_until("three deliveries", WAIT, || async { rx.count() >= 3 }).await;
    for r in rx.received() {
        let kind = r.header("x-hook-event").unwrap();
        let n = TYPES.iter().position(|t| *t == kind).unwrap();
        assert!(python_accepts(&hooks[n].1, &r), "delivery {n} verifies");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer tok-{n}").as_str())
        );
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hookpost_refuses_to_start_without_a_secret_key() {
    let app = TestApp::spawn(TestOptions {
        roles: Roles::INGEST,
        ..TestOptions::default()
    })
    .await;
    let env: Vec<(&str, String)> = app
        .config
        .deployment_env()
        .into_iter()
        .filter(|(k, _)| *k != "HOOKPOST_SECRET_KEY")
        .collect();
    for role in ["all", "ingest", "worker", "scheduler"] {
        let out = tokio::process::Command::new(HOOKPOST)
            .arg(role)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("HOOKPOST_HTTP_ADDR", "127.0.0.1:0")
            .env("HOOKPOST_METRICS_ADDR", "127.0.0.1:0")
            .output();
        let out = tokio::time::timeout(WAIT, out)
            .await
            .expect("it stops by itself")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{role} started without a key");
        assert!(
            stderr.contains("HOOKPOST_SECRET_KEY") && stderr.contains("head -c 32 /dev/urandom"),
            "{role}: {stderr}"
        );
    }
    app.finish().await;
}
