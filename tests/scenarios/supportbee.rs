//! The SupportBee web hooks API, exactly as SupportBee's own API documentation gives it.

use hookpost_tests::receiver::Answer;
use hookpost_tests::verify::python_accepts;
use hookpost_tests::{Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

async fn call(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let mut req = app.http.request(method.parse().unwrap(), app.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("JSON: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supportbee_routes_answer_as_documented() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let q = format!("?auth_token={key}");

    // POST /web_hooks.json → 201 {"web_hook": {"id", "url"}}
    let (s, body) = call(
        &app,
        "POST",
        &format!("/web_hooks.json{q}"),
        Some(json!({"web_hook": {"url": "http://127.0.0.1:9/a"}})),
    )
    .await;
    assert_eq!(s, 201);
    let created = json_of(&body);
    let id = created["web_hook"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created,
        json!({"web_hook": {"id": id, "url": "http://127.0.0.1:9/a"}})
    );

    // GET /web_hooks.json → 200 {"web_hooks": [...]}
    let (s, body) = call(&app, "GET", &format!("/web_hooks.json{q}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        json_of(&body),
        json!({"web_hooks": [{"id": id, "url": "http://127.0.0.1:9/a"}]})
    );

    // Several URLs, comma-separated: one hook each. The same hooks show on /v1/hooks.
    let (s, _) = call(
        &app,
        "POST",
        &format!("/web_hooks.json{q}"),
        Some(json!({"web_hook": {"url": "http://127.0.0.1:9/b, http://127.0.0.1:9/c"}})),
    )
    .await;
    assert_eq!(s, 201);
    let v1: Value = app.get(&key, "/v1/hooks").await.json().await.unwrap();
    // Hooks made in the same millisecond list in id order: compare as a set.
    let mut urls: Vec<&str> = v1["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["url"].as_str().unwrap())
        .collect();
    urls.sort();
    assert_eq!(
        urls,
        [
            "http://127.0.0.1:9/a",
            "http://127.0.0.1:9/b",
            "http://127.0.0.1:9/c"
        ]
    );
    assert!(v1["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["events"] == json!(["*"])));

    // Validation errors: 400, and nothing created (a bad URL among several creates none).
    for bad in [
        json!({"web_hook": {}}),
        json!({"web_hook": {"url": "not a url"}}),
        json!({"url": "http://x"}),
        json!({"web_hook": {"url": "http://127.0.0.1:9/d, nope"}}),
    ] {
        let (s, body) = call(
            &app,
            "POST",
            &format!("/web_hooks.json{q}"),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    let (_, body) = call(&app, "GET", &format!("/web_hooks.json{q}"), None).await;
    assert_eq!(json_of(&body)["web_hooks"].as_array().unwrap().len(), 3);

    // PUT on both documented paths → 200 with the wrapper; 400 on a bad URL; 404 unknown.
    for path in [
        format!("/web_hooks/{id}.json{q}"),
        format!("/web_hook/{id}.json{q}"),
    ] {
        let url = format!("http://127.0.0.1:9/{}", path.len());
        let (s, body) = call(&app, "PUT", &path, Some(json!({"web_hook": {"url": url}}))).await;
        assert_eq!(s, 200, "{path}");
        assert_eq!(json_of(&body), json!({"web_hook": {"id": id, "url": url}}));
    }
    assert_eq!(
        call(
            &app,
            "PUT",
            &format!("/web_hooks/{id}.json{q}"),
            Some(json!({"web_hook": {"url": "ftp://x"}}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        call(
            &app,
            "PUT",
            &format!("/web_hooks/hook_nope.json{q}"),
            Some(json!({"web_hook": {"url": "http://127.0.0.1:9/"}}))
        )
        .await
        .0,
        404
    );

    // DELETE → 204 with no body; then 404.
    let (s, body) = call(&app, "DELETE", &format!("/web_hooks/{id}.json{q}"), None).await;
    assert_eq!((s, body.as_str()), (204, ""));
    assert_eq!(
        call(&app, "DELETE", &format!("/web_hooks/{id}.json{q}"), None)
            .await
            .0,
        404
    );

    // Bearer works too; no key is 401.
    let r = app.get(&key, "/web_hooks.json").await;
    assert_eq!(r.status(), 200);
    assert_eq!(call(&app, "GET", "/web_hooks.json", None).await.0, 401);
    assert_eq!(
        call(&app, "GET", "/web_hooks.json?auth_token=wrong", None)
            .await
            .0,
        401
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supportbee_test_route_answers_200_or_500_like_the_receiver() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let q = format!("?auth_token={key}");
    let rx = Receiver::start().await;
    let (s, body) = call(
        &app,
        "POST",
        &format!("/web_hooks.json{q}"),
        Some(json!({"web_hook": {"url": rx.url}})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let hook_id = json_of(&body)["web_hook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret: Value = app
        .get(&key, &format!("/v1/hooks/{hook_id}/secret"))
        .await
        .json()
        .await
        .unwrap();

    let test = json!({"action_type": "ticket.created", "url": rx.url});
    let (s, body) = call(
        &app,
        "POST",
        &format!("/web_hooks/test.json{q}"),
        Some(test.clone()),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let sent = &rx.received()[0];
    assert_eq!(sent.header("x-hook-event"), Some("ticket.created"));
    assert!(
        python_accepts(secret["secret"].as_str().unwrap(), sent),
        "signed with the hook's key"
    );

    rx.answer_next(&[Answer::Status(404)]);
    let (s, body) = call(
        &app,
        "POST",
        &format!("/web_hooks/test.json{q}"),
        Some(test),
    )
    .await;
    assert_eq!(s, 500, "the receiver failed: 500 as documented");
    assert_eq!(json_of(&body)["status"], 404);
    let (s, _) = call(
        &app,
        "POST",
        &format!("/web_hooks/test.json{q}"),
        Some(json!({"action_type": "no.such", "url": rx.url})),
    )
    .await;
    assert_eq!(s, 400);
    app.finish().await;
}
