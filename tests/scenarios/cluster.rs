//! hookpost on a Redis Cluster of three primaries, started by the test: tenants on every
//! node, retries spread over shards on several nodes, and not one command across slots.
//!
//! (`scripts/test` also runs the pipeline, API, log, retry and controls scenarios
//! against such a cluster, with `HOOKPOST_TEST_REDIS=cluster`.)

use std::collections::BTreeSet;
use std::time::Duration;

use hookpost_tests::receiver::Answer;
use hookpost_tests::redis_cluster::RedisCluster;
use hookpost_tests::verify::python_accepts;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};
use serde_json::{json, Value};

const EVENTS_PER_TENANT: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_carries_tenants_on_every_node_and_no_command_crosses_slots() {
    let cluster = RedisCluster::start(3);
    let mut app = TestApp::spawn(TestOptions {
        redis_url: Some(cluster.url()),
        retry: "1s,1s",
        retry_shards: 8,
        ..TestOptions::default()
    })
    .await;
    // A second worker and scheduler on the same cluster.
    app.start_more(
        hookpost::Roles {
            ingest: false,
            ..hookpost::Roles::ALL
        },
        None,
    )
    .await;

    // One tenant on each node, so that every node serves part of the traffic.
    let tenants = tenants_on_every_node(&cluster, &app.config.prefix);
    let rx = Receiver::start().await;
    rx.answer_always(Answer::FirstAttemptFails);
    let mut secrets = Vec::new();
    let mut keys = Vec::new();
    for tenant in &tenants {
        let key = app.tenant(tenant).await;
        let hook = app.hook(&key, &rx.url, &["*"]).await;
        secrets.push(hook["secret"].as_str().unwrap().to_owned());
        keys.push(key);
    }
    for key in &keys {
        let events: Vec<Value> = (0..EVENTS_PER_TENANT)
            .map(|n| json!({"type": "ticket.created", "data": {"n": n}}))
            .collect();
        assert_eq!(app.post_batch(key, &events).await.status(), 202);
    }

    // Each delivery: a failed first attempt, a retry through the sharded retry set, then 200.
    let expected = tenants.len() * EVENTS_PER_TENANT;
    wait_until(
        "every delivery retried and delivered",
        Duration::from_secs(60),
        || async { rx.delivered().len() >= expected },
    )
    .await;
    let delivered = rx.delivered();
    let ids: BTreeSet<String> = delivered.iter().map(|r| r.delivery_id()).collect();
    assert_eq!(ids.len(), expected, "each delivery once");
    assert_eq!(delivered.len(), expected, "no delivery twice");
    assert!(delivered
        .iter()
        .all(|r| r.header("x-hook-attempt") == Some("2")));
    for r in delivered.iter().take(6) {
        assert!(
            secrets.iter().any(|s| python_accepts(s, r)),
            "a valid signature"
        );
    }

    // The log reads back through the API on every tenant.
    for key in &keys {
        let (status, body) = get(&app, key, "/v1/deliveries?status=delivered&limit=100").await;
        assert_eq!(status, 200);
        let list = body["deliveries"].as_array().unwrap();
        assert_eq!(list.len(), EVENTS_PER_TENANT);
        assert!(list.iter().all(|d| d["attempt_count"] == 2), "{list:?}");
    }
    // Retry shards on more than one node.
    let retry_nodes: BTreeSet<u16> = (0..8)
        .map(|shard| cluster.owner(&app.store.keys().retries_due(shard)))
        .collect();
    assert!(retry_nodes.len() > 1, "all retry shards on one node");
    let per_node = cluster.keys_per_node(&format!("{}:*", app.config.prefix));
    assert!(
        per_node.iter().all(|n| *n > 0),
        "keys per node: {per_node:?}"
    );

    let prefix = app.config.prefix.clone();
    app.finish().await;
    assert_eq!(hookpost_store::conn::cross_slot_errors(), 0);
    assert_eq!(cluster.cross_slot_errors(), 0, "a node answered CROSSSLOT");
    assert_eq!(
        cluster.keys_per_node(&format!("{prefix}:*")),
        vec![0; 3],
        "litter"
    );
}

/// Tenant ids whose keys land one on each node.
fn tenants_on_every_node(cluster: &RedisCluster, prefix: &str) -> Vec<String> {
    let mut by_node = std::collections::BTreeMap::new();
    for n in 0..1000 {
        let tenant = format!("tenant{n}");
        let node = cluster.owner(&format!("{prefix}:{{t.{tenant}}}:tenant"));
        by_node.entry(node).or_insert(tenant);
        if by_node.len() == cluster.ports.len() {
            break;
        }
    }
    assert_eq!(by_node.len(), cluster.ports.len());
    by_node.into_values().collect()
}

async fn get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let r = app.get(key, path).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}
