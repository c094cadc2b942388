//! What an event's claim reads of its tenant (that it exists, and its hooks version),
//! kept in the process and kept true by Redis: server-assisted client-side caching.
//!
//! Every claim read the tenant's record and hooks version (`MGET`): a command a delivery,
//! for values that change only when someone changes the tenant's hooks. Claims now run
//! on a connection of their own, in RESP3 with `CLIENT TRACKING ON OPTIN`. A tenant's
//! first claim there reads the two keys after `CLIENT CACHING YES`, so Redis remembers
//! that this connection holds them and pushes an `invalidate` on it when either changes
//! (or is evicted, or the data is flushed). The tenant's later claims send no read.
//!
//! A claim never goes by a version older than its own commands. Redis writes an
//! invalidation into this connection's stream when the write runs, so the invalidation of
//! a write that ran before a claim's commands comes before the claim's answers. The
//! connection's reader hands pushes to [`Tracker::pushed`] at once, in stream order,
//! before it hands over the answers behind them. So when a claim's answers arrive and its
//! tenant is still cached, nothing wrote the two keys before the claim ran; when it is
//! gone, the claim reads them again (a second round trip, only after a change). A lost
//! connection forgets every tenant, since the next one tracks nothing yet.
//!
//! A Redis Cluster, or a server that refuses RESP3 or tracking, keeps the read in every
//! claim.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, ProtocolVersion, PushInfo};

/// How long claims go without the cache after a connection could not be made.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The claims' connection to one Redis server and the tenants it tracks.
pub(crate) struct Tracked {
    client: Client,
    timeout: Duration,
    tracker: Arc<Tracker>,
    /// One connection is made at a time.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Tracker(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    /// The live connection and its number; `None` before the first, or once lost.
    conn: Option<(u64, MultiplexedConnection)>,
    /// Connections made so far: a push names the one it came on.
    made: u64,
    /// Tenant → its hooks version, as the live connection tracks it.
    tenants: HashMap<String, u64>,
    /// Tracked key → its tenant, to forget the tenant an invalidation names.
    keys: HashMap<Vec<u8>, String>,
    /// Invalidations and losses seen: a read that raced one is not kept.
    changes: u64,
    /// No connection until then (the last attempt failed, or the server refused).
    idle_until: Option<Instant>,
}

/// A claim under way on the tracked connection.
pub(crate) struct Claiming {
    pub conn: MultiplexedConnection,
    /// The tenant's hooks version as cached, when it is: the claim need not read it.
    pub cached: Option<u64>,
    number: u64,
    changes: u64,
}

impl Tracked {
    /// The claims' connection to the server at `url` (made on first use).
    pub fn new(url: &str, timeout: Duration) -> redis::RedisResult<Tracked> {
        let info = url.into_connection_info()?;
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        Ok(Tracked {
            client: Client::open(info.set_redis_settings(resp3))?,
            timeout,
            tracker: Arc::default(),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    /// The connection for a claim of `tenant`, with its cached version if any; `None`
    /// while no tracked connection can be had (the claim then reads as before).
    pub async fn begin(&self, tenant: &str) -> Option<Claiming> {
        if let Some(c) = self.tracker.claiming(tenant) {
            return Some(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.tracker.claiming(tenant) {
            return Some(c);
        }
        if self.tracker.idle() {
            return None;
        }
        match self.connect().await {
            Ok(()) => self.tracker.claiming(tenant),
            Err(e) => {
                tracing::debug!(error = %e, "no tracked Redis connection for claims");
                self.tracker.rest();
                None
            }
        }
    }

    async fn connect(&self) -> redis::RedisResult<()> {
        let number = self.tracker.next_number();
        let tracker = self.tracker.clone();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_push_sender(move |push: PushInfo| {
                tracker.pushed(number, push);
                Ok::<(), std::convert::Infallible>(())
            });
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let () = redis::cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("OPTIN")
            .query_async(&mut conn)
            .await?;
        self.tracker.live(number, conn);
        Ok(())
    }

    /// After a claim's answers: whether the version it began with still holds. Any
    /// invalidation since it began says no (it may have been its tenant's, and another
    /// claim may have read the new version into the cache meanwhile).
    pub fn still(&self, claiming: &Claiming) -> bool {
        self.tracker.unchanged(claiming)
    }

    /// Keeps what a claim read of `tenant` (its keys `keys`), unless something changed
    /// since the claim began.
    pub fn keep(&self, claiming: &Claiming, tenant: &str, keys: [String; 2], version: u64) {
        let mut inner = self.tracker.0.lock().expect("not poisoned");
        if inner.unchanged(claiming) {
            for key in keys {
                inner.keys.insert(key.into_bytes(), tenant.to_owned());
            }
            inner.tenants.insert(tenant.to_owned(), version);
        }
    }

    /// A claim on the tracked connection failed: the next one connects again.
    pub fn failed(&self, claiming: &Claiming) {
        self.tracker.lost(claiming.number);
    }
}

impl Tracker {
    fn claiming(&self, tenant: &str) -> Option<Claiming> {
        let inner = self.0.lock().expect("not poisoned");
        let (number, conn) = inner.conn.as_ref()?;
        Some(Claiming {
            conn: conn.clone(),
            cached: inner.tenants.get(tenant).copied(),
            number: *number,
            changes: inner.changes,
        })
    }

    fn unchanged(&self, claiming: &Claiming) -> bool {
        self.0.lock().expect("not poisoned").unchanged(claiming)
    }

    fn idle(&self) -> bool {
        let inner = self.0.lock().expect("not poisoned");
        inner.idle_until.is_some_and(|t| Instant::now() < t)
    }

    fn rest(&self) {
        self.0.lock().expect("not poisoned").idle_until = Some(Instant::now() + RETRY_AFTER);
    }

    fn next_number(&self) -> u64 {
        let mut inner = self.0.lock().expect("not poisoned");
        inner.made += 1;
        inner.made
    }

    fn live(&self, number: u64, conn: MultiplexedConnection) {
        let mut inner = self.0.lock().expect("not poisoned");
        inner.forget_all();
        inner.conn = Some((number, conn));
        inner.idle_until = None;
    }

    fn lost(&self, number: u64) {
        let mut inner = self.0.lock().expect("not poisoned");
        if inner.conn.as_ref().map(|c| c.0) == Some(number) {
            inner.conn = None;
            inner.forget_all();
        }
    }

    /// A push from connection `number`, called by its reader in stream order.
    fn pushed(&self, number: u64, push: PushInfo) {
        match push.kind {
            redis::PushKind::Invalidate => {
                let mut inner = self.0.lock().expect("not poisoned");
                if inner.conn.as_ref().map(|c| c.0) != Some(number) {
                    return;
                }
                inner.changes += 1;
                // `[keys]`, or a null when the whole data set went (`FLUSHALL`).
                match push.data.into_iter().next() {
                    Some(redis::Value::Array(keys)) => {
                        for key in keys {
                            if let redis::Value::BulkString(key) = key {
                                inner.forget_key(&key);
                            }
                        }
                    }
                    _ => inner.forget_all(),
                }
            }
            redis::PushKind::Disconnection => self.lost(number),
            _ => {}
        }
    }
}

impl Inner {
    fn unchanged(&self, claiming: &Claiming) -> bool {
        self.conn.as_ref().map(|c| c.0) == Some(claiming.number) && self.changes == claiming.changes
    }

    fn forget_all(&mut self) {
        self.changes += 1;
        self.tenants.clear();
        self.keys.clear();
    }

    fn forget_key(&mut self, key: &[u8]) {
        if let Some(tenant) = self.keys.remove(key) {
            self.tenants.remove(&tenant);
            // The tenant's other key goes with it.
            self.keys.retain(|_, t| *t != tenant);
        }
    }
}
