//! The web console at `/console`, in a real headless chromium (and, for crafted requests,
//! over plain HTTP): hooks, the log, resend, tenant isolation, escaping, CSRF, and pages
//! that log no errors in the browser.

use std::time::{Duration, Instant};

use hookpost_tests::app::ADMIN_TOKEN;
use hookpost_tests::browser::Browser;
use hookpost_tests::console::ConsoleClient;
use hookpost_tests::receiver::Answer;
use hookpost_tests::verify::python_accepts;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// Where the README's screenshots go (rewritten by every run).
fn docs(file: &str) -> String {
    format!("{}/../docs/{file}", env!("CARGO_MANIFEST_DIR"))
}

async fn sign_in(b: &Browser, app: &TestApp, key: &str) {
    b.goto(&app.url("/console")).await;
    assert_eq!(
        b.client.current_url().await.unwrap().path(),
        "/console/sign-in"
    );
    b.assert_no_console_errors("sign-in page").await;
    b.fill("#key", key).await;
    b.click_and_wait("form[action='/console/sign-in'] button")
        .await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/console/hooks");
    assert!(!url.as_str().contains(key), "the key is never in a URL");
}

/// Reloads until `check` holds, or fails saying `what`.
async fn reload_until<F, Fut>(b: &Browser, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(start.elapsed() < WAIT, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.client.refresh().await.expect("reload");
    }
}

/// The status shown in the log for `delivery`, if it is listed.
async fn log_status(b: &Browser, delivery: &str) -> Option<String> {
    let css = format!("tr[data-delivery='{delivery}'] td.status");
    if b.exists(&css).await {
        Some(b.text(&css).await)
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_manages_a_hook_and_resends_a_delivery_in_the_browser() {
    let app = TestApp::spawn(TestOptions {
        retry: "1s,1s,1s",
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let b = Browser::start().await;
    sign_in(&b, &app, &key).await;
    assert!(b.body_text().await.contains("No hooks yet."));
    b.assert_no_console_errors("empty hooks page").await;

    // Create a hook.
    b.click_and_wait("#new-hook").await;
    b.assert_no_console_errors("new hook form").await;
    b.fill("#url", &rx.url).await;
    b.client
        .find(fantoccini::Locator::Css("input[value='ticket.created']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.fill("#description", "Acme's help desk").await;
    b.click_and_wait("#save").await;
    assert_eq!(b.text("#notice").await, "Hook created.");
    b.assert_no_console_errors("hook page").await;
    let path = b.client.current_url().await.unwrap().path().to_owned();
    let hook_id = path.strip_prefix("/console/hooks/").unwrap().to_owned();
    let stored = app.store.hook("acme", &hook_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.url.as_str(), stored.events.clone()),
        (rx.url.as_str(), vec!["ticket.created".to_string()])
    );
    assert!(stored.active);

    // Reveal its secret on demand.
    b.click_and_wait("#reveal-secret").await;
    let secret = b.text("#secret").await;
    assert_eq!(secret, stored.secret);
    b.assert_no_console_errors("secret page").await;

    // Send a test event and see the receiver's answer.
    b.goto(&app.url(&path)).await;
    b.click_and_wait("#send-test").await;
    assert_eq!(b.text("#test-status").await, "200");
    assert_eq!(b.text("#test-outcome").await, "delivered");
    b.assert_no_console_errors("test result page").await;
    assert_eq!(rx.count(), 1);
    let test = &rx.received()[0];
    assert_eq!(test.header("x-hook-event"), Some("ticket.created"));
    assert!(python_accepts(&secret, test), "the test event is signed");

    // An event to a receiver that fails twice: retrying, then delivered, in the log.
    rx.answer_next(&[Answer::Status(500), Answer::Status(503)]);
    let event = json!({"id": "evt_console_1", "type": "ticket.created",
                       "data": {"ticket": {"id": 42, "subject": "Printer on fire"}}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    wait_until("the first attempt", WAIT, || async { rx.count() >= 2 }).await;
    let delivery = rx.received()[1].delivery_id();
    b.goto(&app.url("/console/deliveries")).await;
    reload_until(&b, "the log shows the delivery retrying", || async {
        log_status(&b, &delivery).await.as_deref() == Some("retrying")
    })
    .await;
    reload_until(&b, "the log shows the delivery delivered", || async {
        log_status(&b, &delivery).await.as_deref() == Some("delivered")
    })
    .await;
    let row = format!("tr[data-delivery='{delivery}']");
    assert_eq!(b.text(&format!("{row} td.attempts")).await, "3");
    b.assert_no_console_errors("delivery log").await;
    b.screenshot(&docs("console-log.png")).await;

    // Its page: three attempts, the body and the signature the receiver got.
    b.click_and_wait(&format!("{row} td a")).await;
    b.assert_no_console_errors("delivery page").await;
    let results: Vec<String> = {
        let mut out = Vec::new();
        for cell in b
            .client
            .find_all(fantoccini::Locator::Css(
                "#attempts tr.attempt td.result .badge",
            ))
            .await
            .unwrap()
        {
            out.push(cell.text().await.unwrap());
        }
        out
    };
    assert_eq!(results, ["500", "503", "200"]);
    let mut shown = Vec::new();
    for cell in b
        .client
        .find_all(fantoccini::Locator::Css("#attempts td.sent code.signature"))
        .await
        .unwrap()
    {
        shown.push(cell.text().await.unwrap());
    }
    let sent: Vec<String> = rx.received()[1..]
        .iter()
        .map(|r| r.header("x-hook-signature").unwrap().to_owned())
        .collect();
    assert_eq!(shown, sent, "each attempt's signature as it was sent");
    let third = &rx.received()[3];
    assert_eq!(third.header("x-hook-attempt"), Some("3"));
    assert_eq!(
        b.text("#body-sent").await,
        String::from_utf8(third.body.clone()).unwrap()
    );
    let headers = b.text("#headers-sent").await;
    assert!(
        headers.contains(third.header("x-hook-signature").unwrap()),
        "the page shows the signature sent: {headers}"
    );
    assert!(
        !b.body_text().await.contains(&secret),
        "secrets are never shown"
    );

    // Resend: a fourth attempt arrives, validly signed.
    b.click_and_wait("#resend").await;
    assert_eq!(b.text("#notice").await, "Resent: attempt 4 is queued.");
    wait_until("the resent attempt", WAIT, || async { rx.count() == 5 }).await;
    let fourth = rx.received()[4].clone();
    assert_eq!(fourth.delivery_id(), delivery);
    assert_eq!(fourth.header("x-hook-attempt"), Some("4"));
    assert_eq!(fourth.body, third.body, "the same body");
    assert!(
        python_accepts(&secret, &fourth),
        "the resent attempt is signed"
    );
    b.goto(&app.url(&format!("/console/deliveries/{delivery}")))
        .await;
    reload_until(&b, "the page shows four attempts", || async {
        b.client
            .find_all(fantoccini::Locator::Css("#attempts tr.attempt"))
            .await
            .unwrap()
            .len()
            == 4
    })
    .await;
    b.assert_no_console_errors("delivery page after resend")
        .await;
    b.screenshot(&docs("console-delivery.png")).await;

    // A phone's width: nothing wider than the screen.
    b.set_size(390, 844).await;
    for page in [
        "/console/hooks",
        "/console/deliveries",
        &format!("/console/deliveries/{delivery}"),
        &path,
    ] {
        b.goto(&app.url(page)).await;
        assert!(b.fits_width().await, "{page} fits a phone's width");
        b.assert_no_console_errors(page).await;
    }
    b.set_size(1280, 900).await;

    // Deactivate the hook and see it marked.
    b.goto(&app.url(&path)).await;
    b.click_and_wait("#deactivate").await;
    assert!(b.text("#notice").await.starts_with("Hook deactivated"));
    assert_eq!(b.text("#hook-state .badge").await, "inactive");
    b.goto(&app.url("/console/hooks")).await;
    assert_eq!(
        b.text(&format!("tr[data-hook='{hook_id}'] .badge.state-inactive"))
            .await,
        "inactive"
    );
    b.assert_no_console_errors("hooks page").await;
    assert!(
        !app.store
            .hook("acme", &hook_id)
            .await
            .unwrap()
            .unwrap()
            .active
    );

    b.close().await;
    app.finish().await;
}

/// Posts an event and waits for its delivery; returns the delivery id.
async fn delivered(app: &TestApp, key: &str, rx: &Receiver, event_id: &str) -> String {
    let before = rx.count();
    let event = json!({"id": event_id, "type": "ticket.created", "data": {"n": 1}});
    assert_eq!(app.post_event(key, &event).await.status(), 202);
    wait_until("the delivery", WAIT, || async { rx.count() > before }).await;
    rx.received()[before].delivery_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sees_none_of_another_tenants_hooks_or_deliveries() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let (acme_key, globex_key) = (app.tenant("acme").await, app.tenant("globex").await);
    let (acme_rx, globex_rx) = (Receiver::start().await, Receiver::start().await);
    let acme_hook = app.hook(&acme_key, &acme_rx.url, &["ticket.created"]).await;
    let acme_hook = acme_hook["id"].as_str().unwrap().to_owned();
    let globex_hook = app
        .hook(&globex_key, &globex_rx.url, &["ticket.created"])
        .await;
    let globex_hook = globex_hook["id"].as_str().unwrap().to_owned();
    let acme_dlv = delivered(&app, &acme_key, &acme_rx, "evt_acme").await;
    let globex_dlv = delivered(&app, &globex_key, &globex_rx, "evt_globex").await;
    let acme = ConsoleClient::sign_in(&app, &acme_key).await;
    let globex = ConsoleClient::sign_in(&app, &globex_key).await;

    // Redis keeps a session under its id's hash, expiring when idle, and never the key.
    let id = acme.cookie.strip_prefix("hookpost_session=").unwrap();
    let session_key = app
        .store
        .keys()
        .session(&hookpost_store::tenants::key_hash(id));
    let mut redis = app.store.conn();
    let (ttl, raw): (i64, String) = redis::pipe()
        .cmd("TTL")
        .arg(&session_key)
        .cmd("GET")
        .arg(&session_key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!((1..=8 * 3600).contains(&ttl), "idle expiry: {ttl} s");
    assert!(raw.contains("\"acme\"") && !raw.contains(&acme_key) && !raw.contains(id));

    // Each sees its own, and nothing of the other's.
    let own = acme.get("/console/hooks").await.body;
    assert!(own.contains(&acme_hook) && own.contains(&acme_rx.url));
    let hooks = globex.get("/console/hooks").await.body;
    assert!(hooks.contains(&globex_hook));
    assert!(!hooks.contains(&acme_hook) && !hooks.contains(&acme_rx.url));
    let log = globex.get("/console/deliveries").await.body;
    assert!(log.contains(&globex_dlv) && !log.contains(&acme_dlv));
    let filtered = globex
        .get(&format!("/console/deliveries?hook={acme_hook}"))
        .await;
    assert_eq!(filtered.status, 200);
    assert!(filtered.body.contains("No deliveries.") && !filtered.body.contains(&acme_dlv));

    // Crafted requests with acme's ids answer 404 and change nothing.
    for path in [
        format!("/console/hooks/{acme_hook}"),
        format!("/console/hooks/{acme_hook}/delete"),
        format!("/console/deliveries/{acme_dlv}"),
        "/console/events/evt_acme".to_owned(),
    ] {
        let r = globex.get(&path).await;
        assert_eq!(r.status, 404, "GET {path}");
        assert!(
            !r.body.contains(&acme_rx.url),
            "GET {path} shows nothing of acme's"
        );
    }
    for (path, fields) in [
        (format!("/console/hooks/{acme_hook}/deactivate"), vec![]),
        (format!("/console/hooks/{acme_hook}/delete"), vec![]),
        (format!("/console/hooks/{acme_hook}/rotate-secret"), vec![]),
        (format!("/console/hooks/{acme_hook}/secret"), vec![]),
        (format!("/console/hooks/{acme_hook}/test"), vec![]),
        (format!("/console/hooks/{acme_hook}/resend-failed"), vec![]),
        (
            format!("/console/hooks/{acme_hook}"),
            vec![("url", globex_rx.url.as_str()), ("events", "*")],
        ),
        (format!("/console/deliveries/{acme_dlv}/resend"), vec![]),
    ] {
        let r = globex.post(&path, &fields).await;
        assert_eq!(r.status, 404, "POST {path}: {}", r.body);
    }
    let untouched = app.store.hook("acme", &acme_hook).await.unwrap().unwrap();
    assert!(
        untouched.active && untouched.url == acme_rx.url && untouched.previous_secret.is_none()
    );
    assert_eq!(
        acme_rx.count(),
        1,
        "no test send, no resend reached acme's receiver"
    );

    // The operator page and picking a tenant are the operators'.
    assert_eq!(globex.get("/console/operator").await.status, 403);
    assert_eq!(
        globex
            .post("/console/tenant", &[("tenant", "acme")])
            .await
            .status,
        403
    );

    // An operator looks at acme, may resend, but changes nothing.
    let admin = ConsoleClient::sign_in(&app, ADMIN_TOKEN).await;
    assert!(admin
        .get("/console/hooks")
        .await
        .body
        .contains("Pick a tenant"));
    assert_eq!(
        admin
            .post("/console/tenant", &[("tenant", "acme")])
            .await
            .status,
        303
    );
    let seen = admin.get("/console/hooks").await.body;
    assert!(seen.contains(&acme_hook) && !seen.contains(&globex_hook));
    assert_eq!(
        admin
            .post(&format!("/console/hooks/{acme_hook}/deactivate"), &[])
            .await
            .status,
        403
    );
    assert_eq!(admin.get("/console/hooks/new").await.status, 403);
    let resent = admin
        .post(&format!("/console/deliveries/{acme_dlv}/resend"), &[])
        .await;
    assert_eq!(resent.status, 303, "{}", resent.body);
    wait_until("the operator's resend", WAIT, || async {
        acme_rx.count() == 2
    })
    .await;
    assert!(
        app.store
            .hook("acme", &acme_hook)
            .await
            .unwrap()
            .unwrap()
            .active
    );

    // Signing out ends the session; so does revoking the key it was opened with.
    assert_eq!(globex.post("/console/sign-out", &[]).await.status, 303);
    let after = globex.get("/console/hooks").await;
    assert_eq!(
        (after.status, after.location.as_deref()),
        (303, Some("/console/sign-in"))
    );
    app.revoke_first_key("acme").await;
    assert_eq!(acme.get("/console/hooks").await.status, 303);

    // Unknown pages and bad input get a 4xx page, never a 500.
    for (path, status) in [
        ("/console/nope", 404),
        ("/console/deliveries?status=bogus", 400),
        ("/console/deliveries?from=yesterday", 400),
        ("/console/deliveries?cursor=x", 400),
        ("/console/hooks/%7Bx%7D", 404),
    ] {
        let admin_view = admin.get(path).await;
        assert_eq!(admin_view.status, status, "{path}");
        assert!(admin_view.body.contains("error-message"), "{path}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_in_payloads_and_responses_shows_as_text_and_posts_need_the_csrf_token() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    const RESPONSE: &str =
        r#"<h1 id="from-receiver">boom</h1><script>window.receiverRan=1</script>"#;
    rx.answer_always(Answer::WithBody(500, RESPONSE));
    let r = app
        .http
        .post(app.url("/v1/hooks"))
        .bearer_auth(&key)
        .json(&json!({"url": rx.url, "events": ["*"],
                      "description": "<b id=\"from-description\">desk</b>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let hook: Value = r.json().await.unwrap();
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    const PAYLOAD: &str =
        r#"<script id="from-payload">window.payloadRan=1</script><img id="img-payload" src="x">"#;
    let event = json!({"id": "evt_html", "type": "ticket.created", "data": {"note": PAYLOAD}});
    assert_eq!(app.post_event(&key, &event).await.status(), 202);
    wait_until("an attempt", WAIT, || async { rx.count() >= 1 }).await;
    let delivery = rx.received()[0].delivery_id();
    wait_until("the attempt in the log", WAIT, || async {
        app.db
            .delivery("acme", &delivery)
            .await
            .unwrap()
            .is_some_and(|d| !d.attempts.is_empty())
    })
    .await;

    let b = Browser::start().await;
    sign_in(&b, &app, &key).await;
    assert!(!b.exists("#from-description").await);
    assert!(b
        .body_text()
        .await
        .contains(r#"<b id="from-description">desk</b>"#));
    for page in [
        format!("/console/deliveries/{delivery}"),
        "/console/events/evt_html".to_owned(),
    ] {
        b.goto(&app.url(&page)).await;
        for injected in ["#from-payload", "#img-payload", "#from-receiver"] {
            assert!(
                !b.exists(injected).await,
                "{page}: {injected} became an element"
            );
        }
        let text = b.body_text().await;
        assert!(
            text.contains(r#"<script id=\"from-payload\">"#),
            "{page}: the payload as text"
        );
        let ran = b
            .client
            .execute(
                "return typeof window.payloadRan + typeof window.receiverRan;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(ran, json!("undefinedundefined"), "{page}: no script ran");
        b.assert_no_console_errors(&page).await;
    }
    b.goto(&app.url(&format!("/console/deliveries/{delivery}")))
        .await;
    assert!(
        b.text("#attempts").await.contains(RESPONSE),
        "the response as text"
    );
    b.close().await;

    // Every console response carries the CSP, without inline scripts.
    let page = app
        .http
        .get(app.url("/console/sign-in"))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"));

    // A POST without the session's token, with a wrong one, or from another site changes
    // nothing; with it, it does.
    let c = ConsoleClient::sign_in(&app, &key).await;
    let path = format!("/console/hooks/{hook_id}/deactivate");
    let wrong = "A".repeat(43);
    let origin = Some(app.base.as_str());
    for (fields, origin) in [
        (vec![], origin),
        (vec![("csrf", wrong.as_str())], origin),
        (vec![("csrf", c.csrf.as_str())], Some("http://evil.example")),
    ] {
        let r = c.post_raw(&path, &fields, origin).await;
        assert_eq!(r.status, 403, "{fields:?} from {origin:?}");
        assert!(r.body.contains("security token"), "{}", r.body);
    }
    let made = c
        .post_raw(
            "/console/hooks",
            &[("url", "http://127.0.0.1:9/x"), ("events", "*")],
            origin,
        )
        .await;
    assert_eq!(made.status, 403);
    assert_eq!(app.store.hooks("acme").await.unwrap().len(), 1);
    assert!(
        app.store
            .hook("acme", &hook_id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    assert_eq!(c.post(&path, &[]).await.status, 303);
    assert!(
        !app.store
            .hook("acme", &hook_id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    // The sign-in form has its own token.
    let anon = c
        .post_raw("/console/sign-in", &[("key", &key)], origin)
        .await;
    assert_eq!(anon.status, 403);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_renders_without_browser_errors() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let rx = Receiver::start().await;
    let hook = app.hook(&key, &rx.url, &["ticket.created"]).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let gone = app
        .hook(&key, "http://127.0.0.1:9/gone", &["lead.create"])
        .await;
    assert!(app
        .store
        .disable_hook("acme", gone["id"].as_str().unwrap(), "gone")
        .await
        .unwrap());
    let delivery = delivered(&app, &key, &rx, "evt_pages").await;
    app.publish_raw("ticket.created", b"not json at all").await;
    wait_until("the dead letter", WAIT, || async {
        app.dead_letter_count().await >= 1
    })
    .await;

    let b = Browser::start().await;
    // The collector itself sees errors: a missing page is one.
    b.goto(&app.url("/console/no-such-page")).await;
    let errors = b.console_errors().await;
    assert!(
        errors.iter().any(|e| e.contains("404")),
        "the browser log reports a 404: {errors:?}"
    );
    sign_in(&b, &app, &key).await;
    let hook_page = format!("/console/hooks/{hook_id}");
    let pages = [
        "/console/hooks".to_owned(),
        "/console/hooks/new".to_owned(),
        hook_page.clone(),
        format!("{hook_page}/delete"),
        "/console/deliveries".to_owned(),
        "/console/deliveries?status=delivered&event=ticket.created&from=2020-01-01T00:00"
            .to_owned(),
        format!("/console/deliveries/{delivery}"),
        "/console/events".to_owned(),
        "/console/events/evt_pages".to_owned(),
        "/console/event-types".to_owned(),
    ];
    for page in &pages {
        b.goto(&app.url(page)).await;
        assert!(
            !b.exists("#error-message").await,
            "{page} is not an error page"
        );
        assert!(!b.text("h1").await.is_empty(), "{page} has a heading");
        b.assert_no_console_errors(page).await;
    }
    // The pages behind buttons.
    for (button, heading) in [
        ("#send-test", "Test event sent"),
        ("#reveal-secret", "Signing secret"),
        ("#rotate-secret", "New signing secret"),
    ] {
        b.goto(&app.url(&hook_page)).await;
        b.click_and_wait(button).await;
        assert_eq!(b.text("h1").await, heading);
        b.assert_no_console_errors(button).await;
    }
    b.goto(&app.url("/console/events")).await;
    b.fill("#event-id", "evt_pages").await;
    b.click_and_wait("#lookup").await;
    assert!(b.exists(&format!("tr[data-delivery='{delivery}']")).await);
    b.click_and_wait("#sign-out").await;
    assert_eq!(
        b.client.current_url().await.unwrap().path(),
        "/console/sign-in"
    );
    b.goto(&app.url("/console/hooks")).await;
    assert_eq!(
        b.client.current_url().await.unwrap().path(),
        "/console/sign-in"
    );

    // An operator: pick a tenant, then the operator page.
    sign_in(&b, &app, ADMIN_TOKEN).await;
    assert_eq!(b.text("h1").await, "Pick a tenant");
    b.assert_no_console_errors("pick a tenant").await;
    b.click_and_wait("#pick-tenant").await;
    assert!(b.exists(&format!("tr[data-hook='{hook_id}']")).await);
    assert!(
        !b.exists("#new-hook").await,
        "operators do not create hooks"
    );
    b.assert_no_console_errors("hooks as operator").await;
    b.goto(&app.url("/console/event-types")).await;
    assert!(b.exists("#type-ticket\\.created").await);
    b.assert_no_console_errors("event types as operator").await;
    b.goto(&app.url("/console/operator")).await;
    assert!(b.text("#backlog").await.contains("Due within a day"));
    assert!(b.text("#dead-letters").await.contains("invalid_json"));
    let disabled = b.text("#disabled-hooks").await;
    assert!(disabled.contains("http://127.0.0.1:9/gone") && disabled.contains("410 Gone"));
    b.assert_no_console_errors("operator page").await;
    b.goto(&app.url(&format!("/console/deliveries/{delivery}")))
        .await;
    assert!(b.exists("#resend").await);
    b.assert_no_console_errors("delivery as operator").await;
    b.close().await;
    // Console pages are counted beside the API's routes.
    let pages = app
        .metric(r#"hookpost_http_request_duration_seconds_count{code="200",method="GET",route="/console/deliveries/{id}"}"#)
        .await;
    assert!(pages >= 2.0, "delivery page views counted: {pages}");
    app.finish().await;
}
