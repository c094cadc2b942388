//! What the hot path reads of a tenant's settings, kept in the process and kept true by
//! Redis: server-assisted client-side caching. An event's claim reads its tenant's
//! record and hooks version; an API request, the tenant of its key.
//!
//! Each was a read a delivery (`MGET`) or a request (`GET`), for values that change only
//! when someone changes the tenant's hooks or keys. They now run on a connection of
//! their own, in RESP3 with `CLIENT TRACKING ON OPTIN`. The first read of a value there
//! follows `CLIENT CACHING YES`, so Redis remembers that this connection holds the keys
//! read and pushes an `invalidate` on it when one changes (or is evicted, or the data is
//! flushed); later reads of the value send nothing.
//!
//! A claim never goes by a version older than its own commands. Redis writes an
//! invalidation into this connection's stream when the write runs, so the invalidation of
//! a write that ran before a claim's commands comes before the claim's answers. The
//! connection's reader hands pushes to [`Tracker::pushed`] at once, in stream order,
//! before it hands over the answers behind them. So when a claim's answers arrive and
//! nothing was invalidated since it began, nothing wrote the keys before the claim ran;
//! else the claim reads them again (a second round trip, only after a change). A request
//! that sends nothing has no such answer to wait for: a key revoked elsewhere is refused
//! once the invalidation arrives (within a millisecond here), one revoked by this process
//! at once. A lost connection forgets everything, since the next one tracks nothing yet.
//!
//! A Redis Cluster, or a server that refuses RESP3 or tracking, keeps the reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, ProtocolVersion, PushInfo};

/// How long reads go without the cache after a connection could not be made.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The tracked connection to one Redis server and what it caches.
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
    /// What the live connection tracks, by the name of what was read.
    values: HashMap<String, Cached>,
    /// Tracked key → the name it was read for, to forget what an invalidation names.
    keys: HashMap<Vec<u8>, String>,
    /// Invalidations and losses seen: a read that raced one is not kept.
    changes: u64,
    /// No connection until then (the last attempt failed, or the server refused).
    idle_until: Option<Instant>,
}

/// Has Redis track, for the tracked connection, the keys the next command of `pipe`
/// reads (`CLIENT CACHING YES`: in `OPTIN` mode only such reads are tracked).
pub(crate) fn track_next(pipe: &mut redis::Pipeline) {
    pipe.cmd("CLIENT").arg("CACHING").arg("YES").ignore();
}

/// A value cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cached {
    /// A tenant's hooks version (the tenant exists).
    Version(u64),
    /// The tenant of an API key.
    Tenant(String),
}

/// A read under way on the tracked connection.
pub(crate) struct Lookup {
    conn: MultiplexedConnection,
    /// The value as cached, when it is: the read need not be sent.
    pub cached: Option<Cached>,
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

    /// The connection for a read of `name`, with its cached value if any; `None` while
    /// no tracked connection can be had (the caller then reads as before).
    pub async fn begin(&self, name: &str) -> Option<Lookup> {
        if let Some(c) = self.tracker.lookup(name) {
            return Some(c);
        }
        let _one = self.connecting.lock().await;
        if let Some(c) = self.tracker.lookup(name) {
            return Some(c);
        }
        if self.tracker.idle() {
            return None;
        }
        // Boxed, as rare (once a connection): every claim's state would otherwise make
        // room for connecting.
        match Box::pin(self.connect()).await {
            Ok(()) => self.tracker.lookup(name),
            Err(e) => {
                tracing::debug!(error = %e, "no tracked Redis connection");
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

    /// After the answers of commands sent with `lookup`: whether the value it began
    /// with still holds. Any invalidation since it began says no (it may have been this
    /// value's, and another read may have cached the new value meanwhile).
    pub fn still(&self, lookup: &Lookup) -> bool {
        self.tracker.unchanged(lookup)
    }

    /// Keeps `value`, read for `name` from `keys` on `lookup`'s connection, unless
    /// something changed since it began.
    pub fn keep(&self, lookup: &Lookup, name: &str, keys: &[String], value: Cached) {
        let mut inner = self.tracker.0.lock().expect("not poisoned");
        if inner.unchanged(lookup) {
            for key in keys {
                inner.keys.insert(key.as_bytes().to_vec(), name.to_owned());
            }
            inner.values.insert(name.to_owned(), value);
        }
    }

    /// Forgets `name` at once: this process changed it.
    pub fn forget(&self, name: &str) {
        let mut inner = self.tracker.0.lock().expect("not poisoned");
        inner.changes += 1;
        inner.forget_name(name);
    }

    /// Sends `pipe` on `lookup`'s connection; a failure drops the connection, so that
    /// the next read connects again (what it cached may have been missed meanwhile).
    pub async fn query<T: redis::FromRedisValue>(
        &self,
        lookup: &Lookup,
        pipe: &redis::Pipeline,
    ) -> redis::RedisResult<T> {
        let answer = pipe.query_async(&mut lookup.conn.clone()).await;
        if answer.is_err() {
            self.tracker.lost(lookup.number);
        }
        answer
    }
}

impl Tracker {
    fn lookup(&self, name: &str) -> Option<Lookup> {
        let inner = self.0.lock().expect("not poisoned");
        let (number, conn) = inner.conn.as_ref()?;
        Some(Lookup {
            conn: conn.clone(),
            cached: inner.values.get(name).cloned(),
            number: *number,
            changes: inner.changes,
        })
    }

    fn unchanged(&self, lookup: &Lookup) -> bool {
        self.0.lock().expect("not poisoned").unchanged(lookup)
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
    fn unchanged(&self, lookup: &Lookup) -> bool {
        self.conn.as_ref().map(|c| c.0) == Some(lookup.number) && self.changes == lookup.changes
    }

    fn forget_all(&mut self) {
        self.changes += 1;
        self.values.clear();
        self.keys.clear();
    }

    fn forget_key(&mut self, key: &[u8]) {
        if let Some(name) = self.keys.remove(key) {
            self.forget_name(&name);
        }
    }

    /// Forgets a value and the keys it was read from.
    fn forget_name(&mut self, name: &str) {
        self.values.remove(name);
        self.keys.retain(|_, n| n != name);
    }
}
