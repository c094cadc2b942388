//! The complete hooks API: pagination and filters, full and partial updates,
//! activation, secrets and their rotation, test sends, event types, custom headers,
//! the SSRF guard, tenant isolation on every route, and random bodies.

use std::time::Duration;

use hookpost_tests::receiver::Answer;
use hookpost_tests::verify::{python_accepts, stock_library_accepts};
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_and_filters_and_updates_are_full_or_partial() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let events = if i % 2 == 0 {
            vec!["ticket.created"]
        } else {
            vec!["lead.create"]
        };
        ids.push(
            app.hook(&key, &format!("http://127.0.0.1:9/{i}"), &events)
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (_, off) = app
        .send(
            "POST",
            &format!("/v1/hooks/{}/deactivate", ids[4]),
            &key,
            None,
        )
        .await;
    assert_eq!(off["active"], false);

    // Pages of 2, in creation order, with a cursor.
    let (s, page1) = app.send("GET", "/v1/hooks?limit=2", &key, None).await;
    assert_eq!(s, 200);
    let got: Vec<&str> = page1["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [&ids[0], &ids[1]]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = app
        .send(
            "GET",
            &format!("/v1/hooks?limit=2&cursor={cursor}"),
            &key,
            None,
        )
        .await;
    let (_, page3) = app
        .send(
            "GET",
            &format!(
                "/v1/hooks?limit=2&cursor={}",
                page2["next_cursor"].as_str().unwrap()
            ),
            &key,
            None,
        )
        .await;
    assert_eq!(page3["hooks"].as_array().unwrap().len(), 1);
    assert_eq!(page3["next_cursor"], Value::Null);
    let (_, by_event) = app
        .send(
            "GET",
            "/v1/hooks?event=ticket.created&active=true",
            &key,
            None,
        )
        .await;
    assert_eq!(
        by_event["hooks"].as_array().unwrap().len(),
        2,
        "hooks 0 and 2 (4 is inactive)"
    );
    for bad in [
        "/v1/hooks?limit=0",
        "/v1/hooks?limit=abc",
        "/v1/hooks?cursor=nope",
        "/v1/hooks?colour=red",
    ] {
        assert_eq!(app.send("GET", bad, &key, None).await.0, 400, "{bad}");
    }

    // PATCH changes what it names; PUT resets the rest; both validate.
    let path = format!("/v1/hooks/{}", ids[0]);
    let (s, h) = app
        .send(
            "PATCH",
            &path,
            &key,
            Some(json!({"description": "d", "headers": {"Authorization": "Bearer s3cr3t-value"}})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        h["headers"]["Authorization"], "********",
        "header values are masked"
    );
    assert_eq!(h["url"], "http://127.0.0.1:9/0");
    let (s, err) = app
        .send(
            "PUT",
            &path,
            &key,
            Some(json!({"url": "http://127.0.0.1:9/x"})),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (400, Some("missing_field"))
    );
    let (s, h) = app
        .send(
            "PUT",
            &path,
            &key,
            Some(json!({"url": "http://127.0.0.1:9/x", "events": ["*"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["description"], Value::Null, "PUT replaces");
    assert!(h.get("headers").is_none());
    let (s, err) = app
        .send(
            "PATCH",
            &path,
            &key,
            Some(json!({"events": ["ticket.nope"]})),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (400, Some("unknown_event_type"))
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ticket.created"),
        "lists the known types"
    );
    let (s, err) = app
        .send(
            "PATCH",
            &path,
            &key,
            Some(json!({"headers": {"X-Hook-Id": "forged"}})),
        )
        .await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (400, Some("invalid_field"))
    );

    // The catalogue.
    let (s, types) = app.send("GET", "/v1/event-types", &key, None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = types["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for t in [
        "ticket.created",
        "customer_reply.created",
        "request.close",
        "message.create",
        "lead.create",
        "faq.delete",
    ] {
        assert!(names.contains(&t), "{t}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hook_route_hides_one_tenants_hooks_from_another() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&acme, &rx.url, &["ticket.created"]).await;
    let id = hook["id"].as_str().unwrap();
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/v1/hooks/{id}"), None),
        (
            "PATCH",
            format!("/v1/hooks/{id}"),
            Some(json!({"active": false})),
        ),
        (
            "PUT",
            format!("/v1/hooks/{id}"),
            Some(json!({"url": "http://127.0.0.1:9/", "events": ["*"]})),
        ),
        ("GET", format!("/v1/hooks/{id}/secret"), None),
        ("POST", format!("/v1/hooks/{id}/rotate-secret"), None),
        ("POST", format!("/v1/hooks/{id}/activate"), None),
        ("POST", format!("/v1/hooks/{id}/deactivate"), None),
        ("POST", format!("/v1/hooks/{id}/test"), None),
        (
            "PUT",
            format!("/web_hooks/{id}.json"),
            Some(json!({"web_hook": {"url": "http://127.0.0.1:9/"}})),
        ),
        (
            "PUT",
            format!("/web_hook/{id}.json"),
            Some(json!({"web_hook": {"url": "http://127.0.0.1:9/"}})),
        ),
        ("DELETE", format!("/web_hooks/{id}.json"), None),
        ("DELETE", format!("/v1/hooks/{id}"), None),
    ];
    for (method, path, body) in &routes {
        let (s, b) = app.send(method, path, &other, body.clone()).await;
        assert_eq!(s, 404, "{method} {path}: {b}");
        assert!(!b.to_string().contains(&rx.url), "no data leaks");
    }
    let (_, list) = app.send("GET", "/web_hooks.json", &other, None).await;
    assert_eq!(list, json!({"web_hooks": []}));
    // Nothing changed, nothing was sent, and the other tenant's events do not trigger it.
    let (_, same) = app
        .send("GET", &format!("/v1/hooks/{id}"), &acme, None)
        .await;
    assert_eq!(
        (same["active"].as_bool(), same["url"].as_str()),
        (Some(true), Some(rx.url.as_str()))
    );
    assert_eq!(
        app.post_event(&other, &json!({"type": "ticket.created", "data": {}}))
            .await
            .status(),
        202
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), 0);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_sends_report_the_receivers_answer_and_are_signed() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["lead.create"]).await;
    let id = hook["id"].as_str().unwrap();
    let (s, ok) = app
        .send("POST", &format!("/v1/hooks/{id}/test"), &key, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (ok["ok"].as_bool(), ok["status"].as_u64()),
        (Some(true), Some(200))
    );
    let got = rx.received();
    assert_eq!(got[0].header("x-hook-event"), Some("lead.create"));
    assert!(python_accepts(hook["secret"].as_str().unwrap(), &got[0]));

    rx.answer_next(&[Answer::Status(503)]);
    let (s, failed) = app
        .send(
            "POST",
            &format!("/v1/hooks/{id}/test"),
            &key,
            Some(json!({"event_type": "ticket.created"})),
        )
        .await;
    assert_eq!(s, 200, "/v1 answers 200 and describes the failure");
    assert_eq!(
        (
            failed["ok"].as_bool(),
            failed["status"].as_u64(),
            failed["outcome"].as_str()
        ),
        (Some(false), Some(503), Some("http_status"))
    );
    assert_eq!(
        rx.received()[1].header("x-hook-event"),
        Some("ticket.created")
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_rotation_both_secrets_verify_and_after_it_only_the_new_one() {
    let app = TestApp::spawn(TestOptions {
        rotation_grace: Duration::from_secs(3),
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["*"]).await;
    let (id, old) = (
        hook["id"].as_str().unwrap(),
        hook["secret"].as_str().unwrap().to_owned(),
    );
    let (s, rotated) = app
        .send("POST", &format!("/v1/hooks/{id}/rotate-secret"), &key, None)
        .await;
    assert_eq!(s, 200);
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let (_, secrets) = app
        .send("GET", &format!("/v1/hooks/{id}/secret"), &key, None)
        .await;
    assert_eq!(
        (
            secrets["secret"].as_str(),
            secrets["previous_secret"].as_str()
        ),
        (Some(new.as_str()), Some(old.as_str()))
    );

    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {"n": 1}}))
            .await
            .status(),
        202
    );
    wait_until("the delivery in the grace period", WAIT, || async {
        rx.count() >= 1
    })
    .await;
    let during = &rx.received()[0];
    assert_eq!(
        during
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2,
        "both keys sign"
    );
    assert!(during.header("x-hook-signature-previous").is_some());
    assert!(python_accepts(&new, during) && python_accepts(&old, during));

    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.post_event(&key, &json!({"type": "ticket.created", "data": {"n": 2}}))
            .await
            .status(),
        202
    );
    wait_until("the delivery after the grace period", WAIT, || async {
        rx.count() >= 2
    })
    .await;
    let after = &rx.received()[1];
    assert!(python_accepts(&new, after), "the new secret verifies");
    assert!(!python_accepts(&old, after), "the old one no longer does");
    assert!(after.header("x-hook-signature-previous").is_none());
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_at_registration_and_at_delivery_when_the_guard_is_on() {
    let guarded = TestApp::spawn(TestOptions {
        allow_private: false,
        ..TestOptions::default()
    })
    .await;
    let key = guarded.tenant("acme").await;
    let private = [
        "http://127.0.0.1/x",
        "http://[::1]/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/x",
        "http://localhost:8080/x",
        "http://0.0.0.0/x",
        "http://192.168.1.1/x",
        "http://[fe80::1]/x",
    ];
    for url in private {
        let (s, err) = guarded
            .send(
                "POST",
                "/v1/hooks",
                &key,
                Some(json!({"url": url, "events": ["*"]})),
            )
            .await;
        assert_eq!(
            (s, err["error"]["code"].as_str()),
            (400, Some("private_target")),
            "{url}"
        );
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("HOOKPOST_ALLOW_PRIVATE_TARGETS=true"),
            "the error names the setting: {message}"
        );
    }
    let (s, _) = guarded
        .send(
            "POST",
            "/web_hooks.json",
            &key,
            Some(json!({"web_hook": {"url": "http://127.0.0.1/x"}})),
        )
        .await;
    assert_eq!(s, 400);
    let (_, list) = guarded.send("GET", "/v1/hooks", &key, None).await;
    assert_eq!(list["hooks"], json!([]), "nothing stored");

    // A hook stored while private targets were allowed (written straight to the store
    // here) is refused again at delivery: the attempt never connects.
    let rx = Receiver::start().await;
    let mut hook: hookpost_core::Hook = serde_json::from_value(json!({
        "id": hookpost_core::ids::ordered_id("hook"), "tenant": "acme", "url": rx.url, "events": ["*"], "active": true,
        "secret": "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTIzNA==", "created_at": "", "updated_at": ""
    }))
    .unwrap();
    hook.created_at = hookpost_core::rfc3339(hookpost_core::now_ms());
    guarded.store.create_hook(&hook, 100).await.unwrap();
    assert_eq!(
        guarded
            .post_event(&key, &json!({"type": "ticket.created", "data": {}}))
            .await
            .status(),
        202
    );
    wait_until("the refused attempt is logged", WAIT, || async {
        let filter = hookpost_db::log::Filter::default();
        let (page, _) = guarded
            .db
            .deliveries_page("acme", &filter, None, 10)
            .await
            .unwrap();
        match page.first() {
            Some(d) => guarded
                .db
                .delivery("acme", &d.id)
                .await
                .unwrap()
                .is_some_and(|d| {
                    d.attempts.first().is_some_and(|a| {
                        a.outcome == hookpost_core::outcome::OutcomeKind::RefusedByPolicy
                    })
                }),
            None => false,
        }
    })
    .await;
    assert_eq!(rx.count(), 0, "no connection was made");
    guarded.finish().await;

    // With the guard off (development), the same URLs are accepted. No event is sent.
    let open = TestApp::spawn(TestOptions::default()).await;
    let key = open.tenant("acme").await;
    for url in private {
        let (s, b) = open
            .send(
                "POST",
                "/v1/hooks",
                &key,
                Some(json!({"url": url, "events": ["*"]})),
            )
            .await;
        assert_eq!(s, 201, "{url}: {b}");
    }
    open.finish().await;
}

/// A small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.next() % if depth > 2 { 6 } else { 8 } {
        0 => Value::Null,
        1 => json!(rng.next().is_multiple_of(2)),
        2 => json!((rng.next() as i64).wrapping_sub(i64::MAX / 2)),
        3 => json!(rng
            .pick(&[
                "",
                "*",
                "ticket.created",
                "http://127.0.0.1:9/",
                "ftp://x",
                "a b",
                "é😀",
                "\u{0}"
            ])
            .to_string()),
        4 => json!("x".repeat((rng.next() % 3000) as usize)),
        5 => json!(1.5e300),
        6 => Value::Array(
            (0..rng.next() % 4)
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "url",
                "events",
                "active",
                "description",
                "filter",
                "headers",
                "secret",
                "path",
                "op",
                "value",
                "all",
                "zzz",
            ];
            Value::Object(
                (0..rng.next() % 5)
                    .map(|_| (rng.pick(&keys).to_string(), random_value(rng, depth + 1)))
                    .collect(),
            )
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bodies_never_get_a_5xx_nor_leave_a_partial_hook() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let base = app
        .hook(&key, "http://127.0.0.1:9/base", &["ticket.created"])
        .await;
    let base_id = base["id"].as_str().unwrap().to_owned();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut created = 0;
    for i in 0..400 {
        // Mostly near-valid bodies with one field broken, sometimes anything at all,
        // sometimes not JSON.
        let body: Vec<u8> = match i % 4 {
            0 => random_value(&mut rng, 0).to_string().into_bytes(),
            1 => {
                let mut b = json!({"url": "http://127.0.0.1:9/ok", "events": ["ticket.created"]});
                let field = rng
                    .pick(&[
                        "url",
                        "events",
                        "active",
                        "description",
                        "filter",
                        "headers",
                        "secret",
                        "extra",
                    ])
                    .to_string();
                b[field] = random_value(&mut rng, 0);
                b.to_string().into_bytes()
            }
            2 => {
                let mut s = json!({"url": "http://127.0.0.1:9/ok", "events": ["*"], "filter": {"path": "$.a", "op": "eq", "value": 1}}).to_string().into_bytes();
                let cut = (rng.next() as usize) % s.len();
                s.truncate(cut);
                s
            }
            _ => (0..rng.next() % 64).map(|_| rng.next() as u8).collect(),
        };
        let (method, path) = if i % 2 == 0 {
            ("POST", "/v1/hooks".to_owned())
        } else {
            (*rng.pick(&["PATCH", "PUT"]), format!("/v1/hooks/{base_id}"))
        };
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert!(
            status < 500,
            "{method} {path} {} -> {status}",
            String::from_utf8_lossy(&body)
        );
        if method == "POST" && status == 201 {
            created += 1;
        }
    }
    // Every stored hook is whole and valid; exactly the accepted creates were stored.
    let mut hooks = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/hooks?limit=100&cursor={c}"),
            None => "/v1/hooks?limit=100".into(),
        };
        let (_, page) = app.send("GET", &path, &key, None).await;
        hooks.extend(page["hooks"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(hooks.len(), created + 1);
    for h in &hooks {
        assert!(
            hookpost_core::hook::check_url(h["url"].as_str().unwrap()).is_ok(),
            "{h}"
        );
        assert!(!h["events"].as_array().unwrap().is_empty(), "{h}");
        assert!(h["active"].is_boolean());
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_standard_webhooks_library_verifies_generated_and_custom_secrets() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    // A secret a receiver already held, without the `whsec_` prefix.
    const CUSTOM: &str = "an-older-happyfox-key-0042";
    let (generated_rx, custom_rx) = (Receiver::start().await, Receiver::start().await);
    let generated = app.hook(&key, &generated_rx.url, &["*"]).await;
    let generated = generated["secret"].as_str().unwrap().to_owned();
    app.hook_with(&key, &custom_rx.url, json!({ "secret": CUSTOM }))
        .await;

    let event = json!({"type": "ticket.created", "data": {"n": 1}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    wait_until("both deliveries", WAIT, || async {
        generated_rx.count() == 1 && custom_rx.count() == 1
    })
    .await;
    let (g, c) = (&generated_rx.received()[0], &custom_rx.received()[0]);
    assert!(
        stock_library_accepts(&generated, g),
        "a whsec_ secret as it is"
    );
    assert!(
        stock_library_accepts(CUSTOM, c),
        "a custom secret as whsec_ + base64 of its bytes"
    );
    assert!(!stock_library_accepts(CUSTOM, g), "another hook's secret");
    assert!(!stock_library_accepts(&generated, c));
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_holds_to_openapi_json_on_nulls_secrets_and_empty_cursors() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let hook = app.hook(&key, "http://127.0.0.1:9/a", &["*"]).await;
    let id = hook["id"].as_str().unwrap();

    // A field the document says is a string (a boolean, a list) is refused as null,
    // instead of being read as "not given".
    for field in [
        "url",
        "events",
        "active",
        "secret",
        "description",
        "headers",
        "send_traceparent",
    ] {
        let (s, e) = app.patch_hook(&key, id, json!({ field: null })).await;
        assert_eq!(s, 400, "{field}: {e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(field),
            "{e}"
        );
    }
    for (path, body) in [
        (
            format!("/v1/hooks/{id}/rotate-secret"),
            json!({"secret": null}),
        ),
        (
            format!("/v1/hooks/{id}/resend-failed"),
            json!({"since": null}),
        ),
    ] {
        assert_eq!(
            app.send("POST", &path, &key, Some(body)).await.0,
            400,
            "{path}"
        );
    }
    // `format` is the one that null sets back to its default, as documented.
    let (s, h) = app.patch_hook(&key, id, json!({"format": null})).await;
    assert_eq!((s, &h["format"]), (200, &json!("hookpost")));

    // Secrets: 16 to 256 printable ASCII characters, as the pattern says.
    for bad in ["short", "ééééééééééééééééé", "tab\there-and-more-text"] {
        let (s, _) = app.patch_hook(&key, id, json!({ "secret": bad })).await;
        assert_eq!(s, 400, "{bad:?}");
    }
    let fine = "a printable ASCII secret ~!";
    let (s, _) = app.patch_hook(&key, id, json!({ "secret": fine })).await;
    assert_eq!(s, 200);

    // An empty cursor, as forms and generated clients send it, is the first page.
    for list in ["/v1/hooks?cursor=", "/v1/deliveries?cursor="] {
        assert_eq!(app.send("GET", list, &key, None).await.0, 200, "{list}");
    }
    app.finish().await;
}
