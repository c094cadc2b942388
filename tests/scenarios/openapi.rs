//! `openapi.json` cannot drift from the code: every documented operation is routed, and
//! every route in the code is documented.

use std::collections::BTreeSet;

use hookpost_tests::{TestApp, TestOptions};
use serde_json::Value;

fn documented() -> Value {
    serde_json::from_str(hookpost_ingest::OPENAPI).expect("openapi.json is JSON")
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed_and_served() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let served: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doc = documented();
    assert_eq!(served, doc);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
            let concrete = path
                .replace("{id}", "x")
                .replace("{key_id}", "y")
                .replace("{project}", "p");
            // Operations with servers of their own are on the metrics address.
            let url = match item.get("servers") {
                Some(_) => app.ops_url(&concrete),
                None => app.url(&concrete),
            };
            let r = app
                .http
                .request(method.to_uppercase().parse().unwrap(), url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !body.contains("route not found"),
                "{method} {path} is documented but not routed"
            );
            let op = &item[*method];
            assert!(
                op["operationId"].is_string() && op["summary"].is_string(),
                "{method} {path}"
            );
        }
    }
    app.finish().await;
}

#[test]
fn every_route_in_the_code_is_documented() {
    let doc = documented();
    let paths: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let sources = [
        include_str!("../../crates/ingest/src/lib.rs"),
        include_str!("../../crates/ops/src/health.rs"),
    ];
    let mut routes = BTreeSet::new();
    for src in sources {
        for part in src.split(".route(").skip(1) {
            let literal = part.trim_start().trim_start_matches('"');
            routes.insert(literal[..literal.find('"').unwrap()].to_owned());
        }
    }
    assert!(routes.len() >= 15, "{routes:?}");
    for route in &routes {
        // `/web_hooks/{file}` serves the documented `{id}.json` and `test.json` paths.
        let covered = match route.strip_suffix("{file}") {
            Some(prefix) => paths
                .iter()
                .any(|p| p.starts_with(prefix) && p.ends_with(".json")),
            None => paths.contains(route),
        };
        assert!(covered, "route {route} is not in openapi.json");
    }
}
