//! Portal links: an operator gives a tenant's end customer the console without an API
//! key. A link signs in once, for a short time, perhaps only to look; a page on an
//! origin of `HOOKPOST_CONSOLE_FRAME_ANCESTORS` can embed the console, and no other.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookpost_tests::app::ADMIN_TOKEN;
use hookpost_tests::browser::Browser;
use hookpost_tests::console::ConsoleClient;
use hookpost_tests::{wait_until, TestApp, TestOptions};
use serde_json::{json, Value};

/// `POST /v1/tenants/{tenant}/portal-links` with the admin token and `body`.
async fn link(app: &TestApp, tenant: &str, body: Value) -> (u16, Value) {
    app.send(
        "POST",
        &format!("/v1/tenants/{tenant}/portal-links"),
        ADMIN_TOKEN,
        Some(body),
    )
    .await
}

async fn path_of(app: &TestApp, body: Value) -> String {
    let (s, l) = link(app, "acme", body).await;
    assert_eq!(s, 201, "{l}");
    l["path"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_link_signs_in_once_until_it_ends_and_a_read_only_one_changes_nothing() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let hook = app.hook(&key, "http://127.0.0.1:9/h", &["*"]).await;
    let hook_id = hook["id"].as_str().unwrap();

    // Made by operators only, for a tenant that exists, with a sane lifetime.
    let (s, made) = link(&app, "acme", json!({})).await;
    assert_eq!(s, 201, "{made}");
    let path = made["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/console/portal/"), "{made}");
    assert_eq!(made["url"], json!(app.url(&path)));
    assert_eq!(made["read_only"], false);
    // RFC 3339 in UTC with milliseconds: its text sorts as its time does.
    let ends = made["expires_at"].as_str().unwrap();
    let now = hookpost_core::now_ms();
    let (soonest, latest) = (
        hookpost_core::rfc3339(now + 14 * 60_000),
        hookpost_core::rfc3339(now + 15 * 60_000),
    );
    assert!(
        (soonest.as_str()..=latest.as_str()).contains(&ends),
        "15 minutes: {ends}"
    );
    let (s, _) = app
        .send(
            "POST",
            "/v1/tenants/acme/portal-links",
            &key,
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 401, "a tenant key makes no link");
    assert_eq!(link(&app, "nobody", json!({})).await.0, 404);
    for bad in [
        json!({"ttl": "25h"}),
        json!({"ttl": "soon"}),
        json!({"x": 1}),
    ] {
        let (s, e) = link(&app, "acme", bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {e}");
    }

    // Once: the first use signs in to acme's console, the second finds nothing.
    let console = ConsoleClient::from_portal(&app, &path)
        .await
        .unwrap_or_else(|a| panic!("{a:?}"));
    let page = console.get("/console/hooks").await;
    assert!(page.body.contains(hook_id), "acme's hooks");
    let again = ConsoleClient::from_portal(&app, &path).await.err().unwrap();
    assert_eq!(again.status, 410, "{again:?}");
    assert!(again.set_cookies.iter().all(|c| !c.contains("session=")));
    // It can change things (it was not read-only): deactivate the hook.
    let done = console
        .post(&format!("/console/hooks/{hook_id}/deactivate"), &[])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);

    // Read-only: it looks, and every change is refused; signing out still works.
    let read_only = path_of(&app, json!({"read_only": true})).await;
    let looker = ConsoleClient::from_portal(&app, &read_only).await.unwrap();
    assert_eq!(
        looker
            .get(&format!("/console/hooks/{hook_id}"))
            .await
            .status,
        200
    );
    for post in [
        format!("/console/hooks/{hook_id}/activate"),
        format!("/console/hooks/{hook_id}/rotate-secret"),
        format!("/console/hooks/{hook_id}/delete"),
    ] {
        let refused = looker.post(&post, &[]).await;
        assert_eq!(refused.status, 403, "{post}: {}", refused.body);
        assert!(refused.body.contains("read-only"), "{}", refused.body);
    }
    let stored = app.store.hook("acme", hook_id).await.unwrap().unwrap();
    assert!(!stored.active, "still as the first session left it");
    assert_eq!(looker.post("/console/sign-out", &[]).await.status, 303);

    // A link unused past its end opens nothing; a session ends with its link.
    let short = path_of(&app, json!({"ttl": "1s"})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        ConsoleClient::from_portal(&app, &short)
            .await
            .err()
            .unwrap()
            .status,
        410
    );
    let brief = path_of(&app, json!({"ttl": "2s"})).await;
    let session = ConsoleClient::from_portal(&app, &brief).await.unwrap();
    assert_eq!(session.get("/console/hooks").await.status, 200);
    wait_until(
        "the session ends with its link",
        Duration::from_secs(5),
        || async {
            let page = session.get("/console/hooks").await;
            page.status == 303
                && page
                    .location
                    .as_deref()
                    .is_some_and(|l| l.contains("sign-in"))
        },
    )
    .await;
    app.finish().await;
}

/// A page at `http://127.0.0.1:<port>/` that frames whatever `src` holds.
async fn embedding_page(src: Arc<Mutex<String>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let src = src.lock().unwrap().clone();
            async move {
                axum::response::Html(format!(
                    "<!doctype html><title>A SaaS product</title><link rel=\"icon\" href=\"data:,\">\
                     <iframe id=\"console\" src=\"{src}\" width=\"1000\" height=\"700\"></iframe>"
                ))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_embeds_the_console_through_a_portal_link_and_no_other_can() {
    let src = Arc::new(Mutex::new(String::new()));
    let allowed = embedding_page(src.clone()).await;
    let other = embedding_page(src.clone()).await;
    let app = TestApp::spawn(TestOptions {
        frame_ancestors: vec![allowed.clone()],
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let hook = app.hook(&key, "http://127.0.0.1:9/framed", &["*"]).await;

    // The headers say so: this one origin, and no X-Frame-Options to contradict it.
    let r = app
        .http
        .get(app.url("/console/sign-in"))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("frame-ancestors {allowed};")),
        "{csp}"
    );
    assert!(r.headers().get("x-frame-options").is_none());

    let b = Browser::start().await;
    *src.lock().unwrap() = app.url(&path_of(&app, json!({})).await);
    b.goto(&format!("{allowed}/")).await;
    b.client.enter_frame(0).await.expect("the frame");
    wait_until(
        "the console in the frame",
        Duration::from_secs(10),
        || async {
            b.exists(&format!("tr[data-hook='{}']", hook["id"].as_str().unwrap()))
                .await
        },
    )
    .await;
    b.client.enter_parent_frame().await.unwrap();
    b.assert_no_console_errors("the allowed origin").await;

    *src.lock().unwrap() = app.url(&path_of(&app, json!({})).await);
    b.goto(&format!("{other}/")).await;
    let mut errors = Vec::new();
    for _ in 0..100 {
        errors.extend(b.console_errors().await);
        if errors.iter().any(|e| e.contains("frame-ancestors")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        errors.iter().any(|e| e.contains("frame-ancestors")),
        "the browser refused the frame: {errors:#?}"
    );
    b.client.enter_frame(0).await.expect("the frame");
    assert!(
        !b.exists("tr[data-hook]").await,
        "another origin shows no console"
    );
    b.close().await;
    app.finish().await;
}
