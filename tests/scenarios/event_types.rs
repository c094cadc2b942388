//! Event types as data (`/v1/event-types`): the operator's global types, each tenant's
//! own, their schemas checked at intake, and unknown types refused at the API and
//! dead-lettered from the exchange.

use std::time::Duration;

use hookpost_tests::app::ADMIN_TOKEN;
use hookpost_tests::console::ConsoleClient;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// The names `key` sees, with their scopes.
async fn catalogue(app: &TestApp, key: &str) -> Vec<(String, String)> {
    let (s, body) = app.send("GET", "/v1/event-types", key, None).await;
    assert_eq!(s, 200, "{body}");
    body["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let field = |f: &str| t[f].as_str().unwrap().to_owned();
            (field("name"), field("scope"))
        })
        .collect()
}

fn scope_of<'a>(types: &'a [(String, String)], name: &str) -> Option<&'a str> {
    types
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_own_type_checks_data_against_its_schema_and_names_the_failing_path() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let acme = app.tenant("acme").await;
    let beta = app.tenant("beta").await;
    let rx = Receiver::start().await;
    let schema = json!({
        "type": "object",
        "required": ["amount"],
        "properties": {
            "amount": {"type": "integer", "minimum": 0},
            "lines": {"type": "array", "items": {"type": "string"}}
        }
    });
    let (s, made) = app
        .send(
            "POST",
            "/v1/event-types",
            &acme,
            Some(json!({"name": "invoice.paid", "description": "An invoice was paid", "schema": schema})),
        )
        .await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["scope"], "tenant");
    assert_eq!(made["example"], json!({"amount": 0, "lines": ["string"]}));
    assert!(made["created_at"].as_str().unwrap().ends_with('Z'));
    app.hook(&acme, &rx.url, &["invoice.paid"]).await;

    // Bad input changes nothing.
    let before = catalogue(&app, &acme).await;
    let bad: [(Value, u16, &str); 6] = [
        (json!({"name": "invoice.paid"}), 409, "already_exists"),
        (json!({"name": "bad name"}), 400, "invalid_field"),
        (
            json!({"name": "x.y", "schema": {"type": "nope"}}),
            400,
            "invalid_schema",
        ),
        (
            json!({"name": "x.y", "schema": {"$ref": "http://127.0.0.1:9/s.json"}}),
            400,
            "invalid_schema",
        ),
        (
            json!({"name": "x.y", "colour": "red"}),
            400,
            "invalid_field",
        ),
        (json!({"description": "no name"}), 400, "missing_field"),
    ];
    for (body, status, want) in bad {
        let (s, got) = app
            .send("POST", "/v1/event-types", &acme, Some(body.clone()))
            .await;
        assert_eq!((s, code(&got)), (status, want), "{body}: {got}");
    }
    assert_eq!(catalogue(&app, &acme).await, before);

    // Data the schema refuses is refused, naming where.
    let refused = [
        (json!({"amount": "5"}), "`data/amount`"),
        (json!({"amount": 1, "lines": ["a", 2]}), "`data/lines/1`"),
        (json!({"lines": []}), "`data`"),
    ];
    for (data, path) in refused {
        let r = app
            .post_event(&acme, &json!({"type": "invoice.paid", "data": data}))
            .await;
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), "invalid_data", "{body}");
        assert!(message(&body).contains(path), "{path}: {body}");
    }
    let batch = json!([
        {"type": "invoice.paid", "data": {"amount": 1}},
        {"type": "invoice.paid", "data": {"amount": -1}}
    ]);
    let (s, body) = app
        .send("POST", "/v1/events/batch", &acme, Some(batch))
        .await;
    assert_eq!((s, code(&body)), (400, "invalid_data"), "{body}");
    assert!(message(&body).starts_with("event 1:"), "{body}");

    // Another tenant knows nothing of it.
    assert_eq!(
        scope_of(&catalogue(&app, &beta).await, "invoice.paid"),
        None
    );
    let r = app
        .post_event(
            &beta,
            &json!({"type": "invoice.paid", "data": {"amount": 1}}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(&r.json().await.unwrap()), "unknown_event_type");
    let (s, body) = app
        .send(
            "POST",
            "/v1/hooks",
            &beta,
            Some(json!({"url": rx.url, "events": ["invoice.paid"]})),
        )
        .await;
    assert_eq!((s, code(&body)), (400, "unknown_event_type"), "{body}");

    // Good data goes through, and only it was delivered.
    let r = app
        .post_event(
            &acme,
            &json!({"type": "invoice.paid", "data": {"amount": 7}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    wait_until("the good event delivered", WAIT, || async {
        rx.count() == 1
    })
    .await;

    // Changed: no schema takes any data; deprecated shows.
    let (s, changed) = app
        .send(
            "PATCH",
            "/v1/event-types/invoice.paid",
            &acme,
            Some(json!({"schema": null, "deprecated": true})),
        )
        .await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(
        (changed["schema"].clone(), changed["deprecated"].clone()),
        (Value::Null, json!(true))
    );
    assert_eq!(changed["description"], "An invoice was paid");
    let r = app
        .post_event(
            &acme,
            &json!({"type": "invoice.paid", "data": {"amount": "any"}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    wait_until("the event after the change delivered", WAIT, || async {
        rx.count() == 2
    })
    .await;

    // The console lists it, with the global ones.
    let console = ConsoleClient::sign_in(&app, &acme).await;
    let page = console.get("/console/event-types").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"id="type-invoice.paid""#),
        "{}",
        page.body
    );
    assert!(page.body.contains("deprecated") && page.body.contains("ticket.created"));

    // Deleted: refused again.
    let (s, _) = app
        .send("DELETE", "/v1/event-types/invoice.paid", &acme, None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .send("GET", "/v1/event-types/invoice.paid", &acme, None)
        .await;
    assert_eq!(s, 404);
    let r = app
        .post_event(
            &acme,
            &json!({"type": "invoice.paid", "data": {"amount": 1}}),
        )
        .await;
    assert_eq!(r.status(), 400);
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_owns_the_global_types_and_a_tenant_may_stand_in_for_one() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let acme = app.tenant("acme").await;
    let beta = app.tenant("beta").await;
    let rx = Receiver::start().await;
    app.hook(&acme, &rx.url, &["*"]).await;

    let global = json!({"name": "order.shipped", "schema": {"required": ["id"]}});
    let (s, made) = app
        .send("POST", "/v1/event-types", ADMIN_TOKEN, Some(global))
        .await;
    assert_eq!((s, made["scope"].as_str()), (201, Some("global")), "{made}");
    assert_eq!(
        scope_of(&catalogue(&app, &acme).await, "order.shipped"),
        Some("global")
    );
    let shipped = json!({"type": "order.shipped", "data": {"carrier": "post"}});
    let r = app.post_event(&acme, &shipped).await;
    assert_eq!(code(&r.json().await.unwrap()), "invalid_data");

    // A tenant cannot change the operator's type; its own of that name stands in, for it.
    for method in ["PATCH", "DELETE"] {
        let body = (method == "PATCH").then(|| json!({"deprecated": true}));
        let (s, got) = app
            .send(method, "/v1/event-types/order.shipped", &acme, body)
            .await;
        assert_eq!(
            (s, code(&got)),
            (403, "global_event_type"),
            "{method}: {got}"
        );
    }
    let (s, own) = app
        .send(
            "POST",
            "/v1/event-types",
            &acme,
            Some(json!({"name": "order.shipped"})),
        )
        .await;
    assert_eq!((s, own["scope"].as_str()), (201, Some("tenant")), "{own}");
    assert_eq!(app.post_event(&acme, &shipped).await.status(), 202);
    wait_until("acme's event delivered", WAIT, || async { rx.count() == 1 }).await;
    let r = app.post_event(&beta, &shipped).await;
    assert_eq!(code(&r.json().await.unwrap()), "invalid_data");

    // The admin acting for acme removes acme's own; the global one holds again.
    let r = app
        .http
        .delete(app.url("/v1/event-types/order.shipped"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-hookpost-tenant", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app.post_event(&acme, &shipped).await;
    assert_eq!(code(&r.json().await.unwrap()), "invalid_data");

    // A built-in type can be retired by the operator.
    let (s, _) = app
        .send("DELETE", "/v1/event-types/faq.delete", ADMIN_TOKEN, None)
        .await;
    assert_eq!(s, 204);
    let r = app
        .post_event(&acme, &json!({"type": "faq.delete", "data": {}}))
        .await;
    assert_eq!(code(&r.json().await.unwrap()), "unknown_event_type");

    // Every change of the operator's is in the audit log.
    let (s, audit) = app.send("GET", "/v1/audit", ADMIN_TOKEN, None).await;
    assert_eq!(s, 200, "{audit}");
    let entries: Vec<(String, Option<String>, Option<String>)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |f: &str| e[f].as_str().map(str::to_owned);
            (field("action").unwrap(), field("tenant"), field("target"))
        })
        .collect();
    for want in [
        ("event_type.create".to_owned(), None, None),
        (
            "event_type.delete".into(),
            Some("acme".into()),
            Some("order.shipped".into()),
        ),
        ("event_type.delete".into(), None, Some("faq.delete".into())),
    ] {
        assert!(entries.contains(&want), "{want:?} in {entries:?}");
    }
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_type_is_refused_at_the_api_and_dead_lettered_from_the_exchange() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let acme = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&acme, &rx.url, &["*"]).await;

    let r = app
        .post_event(&acme, &json!({"type": "made.up", "data": {}}))
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(code(&body), "unknown_event_type");
    assert!(message(&body).contains("`made.up`"), "{body}");

    let (s, _) = app
        .send(
            "POST",
            "/v1/event-types",
            &acme,
            Some(json!({"name": "lead.scored", "schema": {"properties": {"score": {"type": "number"}}}})),
        )
        .await;
    assert_eq!(s, 201);
    let unknown = br#"{"tenant":"acme","type":"made.up","data":{}}"#;
    let invalid = br#"{"tenant":"acme","type":"lead.scored","data":{"score":"high"}}"#;
    app.publish_raw("made.up", unknown).await;
    app.publish_raw("lead.scored", invalid).await;
    // Made a moment ago: taken from the exchange at once, whatever the worker cached.
    let (s, _) = app
        .send(
            "POST",
            "/v1/event-types",
            &acme,
            Some(json!({"name": "lead.fresh"})),
        )
        .await;
    assert_eq!(s, 201);
    app.publish_raw(
        "lead.fresh",
        br#"{"tenant":"acme","type":"lead.fresh","data":{"behind":"the refused"}}"#,
    )
    .await;
    wait_until("the good event delivered", WAIT, || async {
        rx.count() == 1
    })
    .await;
    wait_until("both refused dead-lettered", WAIT, || async {
        app.dead_letter_count().await >= 2
    })
    .await;
    let dead = app.dead_letters().await;
    assert_eq!(dead.len(), 2);
    for (body, reason) in [
        (&unknown[..], "unknown_event_type"),
        (invalid, "invalid_data"),
    ] {
        assert!(
            dead.iter().any(|(r, b)| r == reason && b == body),
            "{reason}: {dead:?}"
        );
    }

    // HOOKPOST_EVENT_TYPES's types are stored as global types at start.
    hookpost_db::event_types::add_configured(&app.db, &["order.extra".into()])
        .await
        .unwrap();
    let (s, extra) = app
        .send("GET", "/v1/event-types/order.extra", &acme, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(extra["scope"], "global");
    assert_eq!(extra["description"], "Defined by HOOKPOST_EVENT_TYPES");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_accepts_unknown_types_still_checks_the_schemas_it_has() {
    let app = TestApp::spawn(TestOptions {
        accept_unknown_event_types: true,
        ..TestOptions::default()
    })
    .await;
    let acme = app.tenant("acme").await;
    let rx = Receiver::start().await;
    app.hook(&acme, &rx.url, &["made.up"]).await;
    let r = app
        .post_event(&acme, &json!({"type": "made.up", "data": {}}))
        .await;
    assert_eq!(r.status(), 202);
    app.publish_raw(
        "made.up",
        br#"{"tenant":"acme","type":"made.up","data":{"via":"exchange"}}"#,
    )
    .await;
    wait_until("both delivered", WAIT, || async { rx.count() == 2 }).await;

    let (s, _) = app
        .send(
            "POST",
            "/v1/event-types",
            &acme,
            Some(json!({"name": "made.up", "schema": {"required": ["id"]}})),
        )
        .await;
    assert_eq!(s, 201);
    let r = app
        .post_event(&acme, &json!({"type": "made.up", "data": {}}))
        .await;
    assert_eq!(r.status(), 400);
    app.finish().await;
}
