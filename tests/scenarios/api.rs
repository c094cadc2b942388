//! The hooks and tenants API: its answers, validation and tenant isolation.

use hookpost_tests::app::ADMIN_TOKEN;
use hookpost_tests::{TestApp, TestOptions};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_crud_is_scoped_to_the_keys_tenant() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let hook = app
        .hook(&acme, "http://127.0.0.1:9/x", &["ticket.created"])
        .await;
    let id = hook["id"].as_str().unwrap();
    let path = format!("/v1/hooks/{id}");

    let get = |key: &str| {
        app.http
            .get(app.url(&path))
            .bearer_auth(key.to_owned())
            .send()
    };
    let r = get(&acme).await.unwrap();
    assert_eq!(r.status(), 200);
    let shown: Value = r.json().await.unwrap();
    assert_eq!(shown["url"], "http://127.0.0.1:9/x");
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown only on create"
    );

    // Another tenant: 404 on every route, its list is empty, and nothing changes.
    assert_eq!(get(&other).await.unwrap().status(), 404);
    let r = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&other)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .http
        .delete(app.url(&path))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let list: Value = app.get(&other, "/v1/hooks").await.json().await.unwrap();
    assert_eq!(list["hooks"], json!([]));
    let list: Value = app.get(&acme, "/v1/hooks").await.json().await.unwrap();
    assert_eq!(list["hooks"].as_array().unwrap().len(), 1);
    assert_eq!(list["hooks"][0]["active"], true);

    // Partial update by the owner, then delete.
    let r = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&acme)
        .json(&json!({"events": ["*"], "description": "all of them"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["events"], json!(["*"]));
    assert_eq!(updated["url"], "http://127.0.0.1:9/x");
    assert_eq!(
        app.http
            .delete(app.url(&path))
            .bearer_auth(&acme)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(get(&acme).await.unwrap().status(), 404);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_hooks_and_tenants_are_refused_with_the_field_named() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let cases = [
        (json!({"events": ["*"]}), "missing_field", "url"),
        (
            json!({"url": "ftp://x.example", "events": ["*"]}),
            "invalid_field",
            "url",
        ),
        (
            json!({"url": "not a url", "events": ["*"]}),
            "invalid_field",
            "url",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": []}),
            "invalid_field",
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["a b"]}),
            "invalid_field",
            "events",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["*"], "colour": "red"}),
            "invalid_field",
            "colour",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": "*"}),
            "invalid_field",
            "events",
        ),
    ];
    for (body, code, field) in cases {
        let r = app
            .http
            .post(app.url("/v1/hooks"))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let err: Value = r.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{body}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{err} names {field}"
        );
    }
    let list: Value = app.get(&key, "/v1/hooks").await.json().await.unwrap();
    assert_eq!(list["hooks"], json!([]), "nothing was stored");

    // Tenants: admin only; a taken id conflicts; bad ids are refused.
    let r = app
        .http
        .post(app.url("/v1/tenants"))
        .json(&json!({"id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .http
        .post(app.url("/v1/tenants"))
        .bearer_auth(&key)
        .json(&json!({"id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a tenant key is not the admin token");
    let r = app
        .http
        .post(app.url("/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let r = app
        .http
        .post(app.url("/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "Bad Id"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = app.http.get(app.url("/v1/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Keys: listed without the key itself; a revoked key stops working.
    let keys: Value = app
        .get(ADMIN_TOKEN, "/v1/tenants/acme/keys")
        .await
        .json()
        .await
        .unwrap();
    let listed = keys["keys"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    // One time format across the API: RFC 3339, UTC, milliseconds.
    let tenant: Value = app
        .http
        .post(app.url("/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"id": "zeta", "name": "Zeta"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for at in [&listed[0]["created_at"], &tenant["created_at"]] {
        let at = at.as_str().unwrap_or_default();
        assert!(
            at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.',
            "{at}"
        );
    }
    assert!(
        !keys.to_string().contains(&key),
        "the key is never shown again"
    );
    app.revoke_first_key("acme").await;
    assert_eq!(app.get(&key, "/v1/hooks").await.status(), 401);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_pass_its_hook_limit() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    for i in 0..app.config.max_hooks {
        app.hook(&key, &format!("http://127.0.0.1:9/{i}"), &["*"])
            .await;
    }
    let r = app
        .http
        .post(app.url("/v1/hooks"))
        .bearer_auth(&key)
        .json(&json!({"url": "http://127.0.0.1:9/one-too-many", "events": ["*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "too_many_hooks");
    let list: Value = app
        .get(&key, "/v1/hooks?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["hooks"].as_array().unwrap().len(),
        app.config.max_hooks
    );
    assert_eq!(list["next_cursor"], Value::Null);
    app.finish().await;
}
