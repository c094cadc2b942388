//! Security scenarios: audit. What the admin token does for a tenant leaves entries in
//! the audit log, which operators list (API, CLI) and tenants cannot read.

use hookpost_tests::app::ADMIN_TOKEN;
use hookpost_tests::{TestApp, TestOptions};
use serde_json::{json, Value};

use crate::HOOKPOST;

/// A request with the admin token, acting for `tenant` when given.
async fn admin(
    app: &TestApp,
    method: &str,
    path: &str,
    tenant: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-request-id", "req-audit-1");
    if let Some(t) = tenant {
        req = req.header("x-hookpost-tenant", t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn actions(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_acting_for_a_tenant_leaves_entries_that_operators_list_by_api_and_cli() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    app.tenant("globex").await;
    // The tenant's own actions are its own: not in the operators' audit log.
    app.hook(&key, "http://127.0.0.1:9/own", &["*"]).await;

    let (s, hook) = admin(
        &app,
        "POST",
        "/v1/hooks",
        Some("acme"),
        Some(json!({"url": "http://127.0.0.1:9/by-admin", "events": ["*"]})),
    )
    .await;
    assert_eq!(s, 201);
    let id = hook["id"].as_str().unwrap();
    for (method, path) in [
        ("GET", format!("/v1/hooks/{id}/secret")),
        ("POST", format!("/v1/hooks/{id}/rotate-secret")),
        ("POST", format!("/v1/hooks/{id}/deactivate")),
        ("DELETE", format!("/v1/hooks/{id}")),
    ] {
        let (s, _) = admin(&app, method, &path, Some("acme"), None).await;
        assert!((200..300).contains(&s), "{method} {path}: {s}");
    }
    let (s, _) = admin(
        &app,
        "DELETE",
        "/v1/tenants/globex/keys/key_nope",
        None,
        None,
    )
    .await;
    assert_eq!(s, 404, "a refused attempt is recorded too");

    // Newest first, with who, which tenant, what, from where.
    let (s, page) = admin(&app, "GET", "/v1/audit?tenant=acme", None, None).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(
        actions(&page),
        [
            "hook.delete",
            "hook.deactivate",
            "hook.secret.rotate",
            "hook.secret.read",
            "hook.create",
            "key.create",
            "tenant.create"
        ]
    );
    let newest = &page["entries"][0];
    assert_eq!(newest["actor"], "admin");
    assert_eq!(newest["tenant"], "acme");
    assert_eq!(newest["target"], id);
    assert_eq!(newest["client"], "127.0.0.1");
    assert_eq!(newest["request_id"], "req-audit-1");
    let at = newest["at"].as_str().unwrap();
    assert!(hookpost_core::timestamp::parse(at).unwrap() > 0, "{at}");

    // Filtered by action (a prefix takes its sub-actions), and paged by cursor.
    let (_, secrets) = admin(
        &app,
        "GET",
        "/v1/audit?tenant=acme&action=hook.secret",
        None,
        None,
    )
    .await;
    assert_eq!(
        actions(&secrets),
        ["hook.secret.rotate", "hook.secret.read"]
    );
    let (_, first) = admin(&app, "GET", "/v1/audit?limit=2", None, None).await;
    assert_eq!(actions(&first), ["key.revoke", "hook.delete"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = admin(
        &app,
        "GET",
        &format!("/v1/audit?limit=2&cursor={cursor}"),
        None,
        None,
    )
    .await;
    assert_eq!(actions(&second), ["hook.deactivate", "hook.secret.rotate"]);
    let (_, revokes) = admin(&app, "GET", "/v1/audit?tenant=globex", None, None).await;
    assert_eq!(
        actions(&revokes),
        ["key.revoke", "key.create", "tenant.create"]
    );
    assert_eq!(revokes["entries"][0]["target"], "key_nope");
    let (s, bad) = admin(&app, "GET", "/v1/audit?limit=0", None, None).await;
    assert_eq!(
        (s, bad["error"]["code"].as_str()),
        (400, Some("invalid_field"))
    );

    // The CLI lists the same log through the API.
    let out = tokio::process::Command::new(HOOKPOST)
        .args([
            "audit",
            "list",
            "--tenant",
            "acme",
            "--action",
            "hook.secret.read",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOOKPOST_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("HOOKPOST_API_URL", &app.base)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(actions(&listed), ["hook.secret.read"]);
    assert_eq!(listed["entries"][0]["target"], id);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_keys_cannot_read_the_audit_log() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    for path in ["/v1/audit", "/v1/audit?tenant=acme"] {
        let r = app.get(&key, path).await;
        assert_eq!(r.status(), 401, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body["entries"].is_null());
    }
    // Nor by naming a tenant the way the admin token does.
    let r = app
        .http
        .get(app.url("/v1/audit"))
        .bearer_auth(&key)
        .header("x-hookpost-tenant", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_action_that_cannot_be_audited_is_refused_and_changes_nothing() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let hook = app.hook(&key, "http://127.0.0.1:9/h", &["*"]).await;
    let id = hook["id"].as_str().unwrap();
    // The audit log cannot take an entry for the tenant (a trigger in the test's own
    // database stands in for a failing write).
    hookpost_tests::postgres(&app.config.database_url)
        .await
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'the audit log is full'; END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON audit_log
               FOR EACH ROW WHEN (NEW.tenant_id = 'acme') EXECUTE FUNCTION refuse();",
        )
        .await
        .unwrap();
    let (s, body) = admin(
        &app,
        "DELETE",
        &format!("/v1/hooks/{id}"),
        Some("acme"),
        None,
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (503, Some("audit_unavailable"))
    );
    let (s, body) = admin(
        &app,
        "GET",
        &format!("/v1/hooks/{id}/secret"),
        Some("acme"),
        None,
    )
    .await;
    assert_eq!(s, 503);
    assert!(body["secret"].is_null(), "no secret without a trace");
    assert_eq!(
        app.get(&key, &format!("/v1/hooks/{id}")).await.status(),
        200
    );
    app.finish().await;
}
