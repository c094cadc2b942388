//! Test support: real services on port 0 under a per-test prefix, a recording receiver
//! whose answers a test scripts, a fault-injecting TCP proxy, an independent signature
//! verifier, and `wait_until` instead of sleeps.
#![forbid(unsafe_code)]

pub mod app;
pub mod bad_receiver;
pub mod browser;
pub mod child;
pub mod console;
pub mod invariants;
pub mod logs;
pub mod pg_server;
pub mod proxy;
pub mod python;
pub mod rabbit_cluster;
pub mod receiver;
pub mod redis_cluster;
pub mod redis_server;
pub mod verify;

pub use app::{TestApp, TestOptions, WORKERS_APART};
pub use python::{node_modules, python};
pub use receiver::Receiver;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 25 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A TCP port nothing listens on now, for a server a test starts itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("hpt{}", &hookpost_core::ids::random_id("x")[2..14])
}

/// The shared servers, overridable for other machines.
pub fn amqp_url() -> String {
    std::env::var("HOOKPOST_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The database of a test's `prefix`, on the shared PostgreSQL (made by the test's
/// start, dropped by its cleanup).
pub fn database_url(prefix: &str) -> String {
    let server = std::env::var("HOOKPOST_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    hookpost_db::scratch::with_database(&server, &prefix.to_ascii_lowercase())
}

/// A plain client on `url` (a test's own database), for what the API does not show or
/// do: reading rows as stored, setting up a failure.
pub async fn postgres(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the test's database");
    tokio::spawn(connection);
    client
}

/// The shared Redis, or with `HOOKPOST_TEST_REDIS=cluster` a Redis Cluster of the tests'
/// own ([`redis_cluster::shared`]).
pub fn redis_url() -> String {
    if let Some(cluster) = redis_cluster::shared() {
        return cluster.url();
    }
    std::env::var("HOOKPOST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}
