//! A store under a fresh prefix, and Redis's clock.

use std::time::Duration;

use hookpost_core::secret_key::SecretKeys;
use hookpost_store::{Store, StoreOptions};

/// A store under a prefix of its own; its keys are deleted when it drops.
pub struct TestStore {
    pub store: Store,
    opts: StoreOptions,
}

impl std::ops::Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let opts = self.opts.clone();
        // Drop cannot await: delete on a runtime and a connection of their own (the
        // store's connection is driven by the test's runtime, which waits here).
        let cleanup = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(async { Store::connect(&opts)?.delete_everything().await })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("could not delete the test's keys: {e}");
        }
    }
}

fn redis_url() -> String {
    std::env::var("HOOKPOST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

fn options(retry_shards: u32, secret_keys: Option<SecretKeys>) -> StoreOptions {
    StoreOptions {
        url: redis_url(),
        prefix: format!("hps{}", &hookpost_core::ids::random_id("x")[2..14]),
        retention: Duration::from_secs(3600),
        retry_shards,
        timeout: Duration::from_secs(5),
        secret_keys,
    }
}

/// A store on the server at `url` under a fresh prefix, for a test's own server (whose
/// keys go with it).
pub fn store_at(url: &str) -> Store {
    let mut opts = options(1, None);
    opts.url = url.to_owned();
    Store::connect(&opts).expect("a store")
}

/// Another process's store on the server at `url` under `prefix`.
pub fn store_at_prefix(url: &str, prefix: &str) -> Store {
    let mut opts = options(1, None);
    opts.url = url.to_owned();
    opts.prefix = prefix.to_owned();
    Store::connect(&opts).expect("a store")
}

/// A `redis-server` of the test's own on a free port, keeping nothing on disk, for what
/// must not be done to the shared one (`FLUSHALL`, counting every command); stopped when
/// dropped.
pub struct OwnRedis {
    pub url: String,
    child: std::process::Child,
}

impl OwnRedis {
    pub async fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        // Stopped when dropped, a failed start included.
        let own = OwnRedis {
            url: format!("redis://127.0.0.1:{port}/"),
            child,
        };
        let client = redis::Client::open(own.url.as_str()).unwrap();
        for _ in 0..100 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                if redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
                {
                    return own;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on {port} did not start");
    }

    /// Calls of `command` the server ran so far (`INFO commandstats`).
    pub async fn calls(&self, command: &str) -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut self.conn().await)
            .await
            .unwrap();
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next()?.parse().ok())
            .unwrap_or(0)
    }

    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn store() -> TestStore {
    store_with(1, None)
}

pub fn store_with(retry_shards: u32, secret_keys: Option<SecretKeys>) -> TestStore {
    let opts = options(retry_shards, secret_keys);
    TestStore {
        store: Store::connect(&opts).expect("a store"),
        opts,
    }
}

/// Another handle on `of`'s prefix with other server keys (the same keys are deleted
/// by `of` when it drops).
pub fn same_prefix(of: &TestStore, secret_keys: SecretKeys) -> Store {
    let mut opts = options(of.retry_shards(), Some(secret_keys));
    opts.prefix = of.keys().prefix().to_owned();
    Store::connect(&opts).expect("a store")
}

/// Another process's handle on `of`'s prefix: the same keys, its own in-process state.
pub fn another_process(of: &TestStore) -> Store {
    Store::connect(&of.opts).expect("a store")
}

/// Redis's clock, ms since the epoch: the clock the scripts read.
pub async fn redis_now(store: &Store) -> i64 {
    let (s, us): (i64, i64) = redis::cmd("TIME")
        .query_async(&mut store.conn())
        .await
        .expect("TIME");
    s * 1000 + us / 1000
}

/// A tenant record, which claiming an event requires.
pub async fn tenant(store: &Store, id: &str) {
    let t = hookpost_store::tenants::Tenant {
        id: id.to_owned(),
        name: id.to_owned(),
        created_at: 0,
    };
    assert!(store.create_tenant(&t).await.unwrap());
}
