//! A three-node RabbitMQ cluster of the test's own, with quorum queues: the node the
//! workers are connected to is stopped under load; they move to another node, and the
//! invariant checker finds nothing lost.
//!
//! About a minute, most of it starting the nodes, so it is left out of the parallel run:
//! `scripts/test` runs it on its own afterwards
//! (`cargo test -p hookpost-tests --test scenarios -- --ignored rabbit_cluster`).

use std::time::Duration;

use hookpost_tests::child::ChildRole;
use hookpost_tests::invariants::three_hooks;
use hookpost_tests::rabbit_cluster::RabbitCluster;
use hookpost_tests::{wait_until, Receiver, TestApp, TestOptions};

use crate::HOOKPOST;

const EVENTS: usize = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts a 3-node RabbitMQ cluster; scripts/test runs it on its own"]
async fn the_workers_node_stopped_under_load_with_quorum_queues_loses_nothing() {
    let cluster = RabbitCluster::start(3);
    let app = TestApp::spawn(TestOptions {
        roles: hookpost_tests::WORKERS_APART,
        amqp_url: Some(cluster.urls()),
        quorum: true,
        ..TestOptions::default()
    })
    .await;
    let key = app.tenant("acme").await;
    let (receivers, mut ledger) = three_hooks(&app, &key).await;
    // A new process starts with the first node of the list: both workers are on node 0.
    let before = cluster.connections(0);
    let _workers = [
        ChildRole::spawn(HOOKPOST, "worker", &app.config),
        ChildRole::spawn(HOOKPOST, "worker", &app.config),
    ];
    wait_until(
        "both workers connected to node 0",
        Duration::from_secs(30),
        || async { cluster.connections(0) >= before + 2 },
    )
    .await;

    let stop = async {
        wait_until(
            "a third of the load delivered",
            Duration::from_secs(60),
            || async { receivers[0].count() >= EVENTS / 3 },
        )
        .await;
        let cluster = &cluster;
        tokio::task::block_in_place(|| cluster.stop(0));
        eprintln!("stopped {}", cluster.nodes[0].name);
    };
    tokio::join!(ledger.post(&app, &key, EVENTS, 50), stop);
    let rx: Vec<&Receiver> = receivers.iter().collect();
    let tally = ledger
        .settle(
            "RabbitMQ node stopped",
            &app,
            &rx,
            4,
            Duration::from_secs(180),
        )
        .await;
    assert_eq!(tally.deliveries, EVENTS * 3);
    let on_others = cluster.connections(1) + cluster.connections(2);
    assert!(on_others >= 2, "the workers moved to the other nodes");
    app.finish().await;
}
