//! hookpost's state in Redis, the system of record.
//!
//! - [`conn`]: the connection: one server or a Redis Cluster.
//! - [`keys`]: the key map (hash-tagged for Redis Cluster).
//! - [`tenants`]: tenants and their API keys (stored hashed).
//! - [`intake`]: each tenant's intake limit (events a second through the API) and fair
//!   lane (deliveries a second before its events go to the overflow queue).
//! - [`hooks`]: subscriptions, versioned so workers can cache them.
//! - [`events`]: claiming an event for processing (deduplication and take-over).
//! - [`done_marks`]: the compact marks of processed events, for deduplication.
//! - [`log`]: the delivery log: each delivery's status and attempts.
//! - [`retries`]: the retry set, sharded, with an atomic claim.
//! - [`backlog`]: a slow hook's waiting deliveries, one list per hook.
//! - [`limits`]: a hook's rate limit and its cap on requests in flight.
//! - [`ordering`]: ordered delivery's queues and who holds each key.
//! - [`marker`]: the keyspace marker that tells an emptied Redis from a new one.
//! - [`shards`]: the most event queue shards the prefix has had.
//! - [`sessions`]: the web console's sign-in sessions.
//! - [`auth_failures`]: failed authentications per client address, for the throttle.
//! - [`audit`]: the audit log of before PostgreSQL, read once to copy it over.
//!
//! The Lua scripts are in `src/scripts/`; every one that reads "now" reads Redis's clock
//! (`clock.lua`). Their direct tests are in `tests/scripts/`, one file per family.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth_failures;
pub mod backlog;
mod clock;
pub mod conn;
pub mod done_marks;
pub mod durable;
pub mod events;
pub mod hooks;
pub mod intake;
pub mod keys;
pub mod limits;
pub mod log;
pub mod marker;
pub mod ordering;
mod removals;
pub mod retries;
pub mod sessions;
pub mod shards;
mod streaks;
pub mod tenants;
mod tracked;

use std::time::Duration;

use redis::Script;

pub use conn::Conn;
pub use durable::{Durable, NothingToWrite};

pub use keys::Keys;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A hook's secrets cannot be sealed or opened (no key, unknown key id, tampering).
    #[error("hook secrets: {0}")]
    Secrets(String),
    /// Redis came back empty and is being rebuilt from PostgreSQL: try again shortly.
    #[error("Redis is being rebuilt from PostgreSQL")]
    Rebuilding,
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    /// The same failure, for each caller of a write made for several at once.
    pub fn copy(&self) -> StoreError {
        match self {
            StoreError::Redis(e) => StoreError::Redis(redis::RedisError::from((
                e.kind(),
                "a shared write failed",
                e.to_string(),
            ))),
            StoreError::Corrupt(what) => StoreError::Corrupt(what.clone()),
            StoreError::Secrets(what) => StoreError::Secrets(what.clone()),
            StoreError::Rebuilding => StoreError::Rebuilding,
        }
    }
}

struct Scripts {
    event_lease: Script,
    event_hold: Script,
    event_keep_payload: Script,
    record: Script,
    backlog_push: Script,
    retry_schedule: Script,
    claim_retries: Script,
    retry_stats: Script,
    hook_write: Script,
    hook_reseal: Script,
    rate_limit: Script,
    intake_limit: Script,
    in_flight: Script,
    order_register: Script,
    order_turn: Script,
    order_finish: Script,
    queue_shards: Script,
    backlog_lock: Script,
    backlog_end: Script,
}

/// A script that reads `now`: Redis's clock (clock.lua) first, so that roles on machines
/// whose clocks differ still agree.
macro_rules! clocked_script {
    ($($file:literal),+) => {
        Script::new(concat!(
            include_str!("scripts/clock.lua"),
            $(include_str!(concat!("scripts/", $file))),+
        ))
    };
}

/// An ordering script, after the clock and the helpers all of them share.
macro_rules! ordering_script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("scripts/clock.lua"),
            include_str!("scripts/order_common.lua"),
            include_str!(concat!("scripts/", $file))
        ))
    };
}

/// A handle on the store; cheap to clone (one multiplexed, self-healing connection).
#[derive(Clone)]
pub struct Store {
    conn: Conn,
    keys: Keys,
    scripts: std::sync::Arc<Scripts>,
    retention_secs: u64,
    retry_shards: u32,
    /// `HOOKPOST_SECRET_KEY`: hooks' secrets and header values are sealed under it.
    secret_keys: Option<std::sync::Arc<hookpost_core::secret_key::SecretKeys>>,
    /// Hooks whose failing streak this process ended lately (see [`streaks`]).
    cleared: std::sync::Arc<streaks::Cleared>,
    /// Redis's clock as this process reckons it, for the claims' leases (see [`clock`]).
    clock: std::sync::Arc<clock::RedisClock>,
    /// Sets of done marks whose expiry this process set lately (see [`done_marks`]).
    expiries: std::sync::Arc<done_marks::Expiries>,
    /// How many sets the done marks of the tenants' current periods take, as read.
    set_counts: std::sync::Arc<done_marks::SetCounts>,
    /// States of delivered events waiting for their removal (see [`removals`]).
    removals: std::sync::Arc<removals::Removals>,
    /// The claims' connection, which caches what they read of their tenants (see
    /// [`tracked`]); `None` on a Redis Cluster.
    tracked: Option<std::sync::Arc<tracked::Tracked>>,
    /// What it was connected with, for [`Store::lane`].
    options: std::sync::Arc<StoreOptions>,
}

/// What [`Store::connect`] needs.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    pub prefix: String,
    pub retention: Duration,
    pub retry_shards: u32,
    /// Connect and response timeout: a stalled Redis becomes an error, not a hang.
    pub timeout: Duration,
    /// `HOOKPOST_SECRET_KEY`: without it, hooks cannot be written nor sealed ones read.
    pub secret_keys: Option<hookpost_core::secret_key::SecretKeys>,
}

impl StoreOptions {
    /// The store a deployment's configuration names.
    pub fn of(config: &hookpost_core::Config) -> StoreOptions {
        StoreOptions {
            url: config.redis_url.clone(),
            prefix: config.prefix.clone(),
            retention: config.retention,
            retry_shards: config.retry_shards,
            timeout: config.connect_timeout,
            secret_keys: config.secret_keys.clone(),
        }
    }
}

impl Store {
    /// Connects lazily: the first command connects, and a lost connection is made again.
    pub fn connect(opts: &StoreOptions) -> Result<Store> {
        let conn = Conn::open(&opts.url, opts.timeout)?;
        let tracked = match conn.is_cluster() {
            true => None,
            false => Some(std::sync::Arc::new(tracked::Tracked::new(
                &opts.url,
                opts.timeout,
            )?)),
        };
        Ok(Store {
            conn,
            keys: Keys::new(&opts.prefix),
            scripts: std::sync::Arc::new(Scripts {
                event_lease: clocked_script!("event_state.lua", "event_lease.lua"),
                event_hold: clocked_script!("event_state.lua", "event_hold.lua"),
                event_keep_payload: Script::new(concat!(
                    include_str!("scripts/event_state.lua"),
                    include_str!("scripts/event_keep_payload.lua")
                )),
                record: Script::new(include_str!("scripts/record.lua")),
                backlog_push: Script::new(include_str!("scripts/backlog_push.lua")),
                retry_schedule: clocked_script!("retry_schedule.lua"),
                claim_retries: clocked_script!("claim_retries.lua"),
                retry_stats: clocked_script!("retry_stats.lua"),
                hook_write: Script::new(include_str!("scripts/hook_write.lua")),
                hook_reseal: Script::new(include_str!("scripts/hook_reseal.lua")),
                rate_limit: clocked_script!("rate_limit.lua"),
                intake_limit: clocked_script!("intake_limit.lua"),
                in_flight: clocked_script!("in_flight.lua"),
                order_register: ordering_script!("order_register.lua"),
                order_turn: ordering_script!("order_turn.lua"),
                order_finish: ordering_script!("order_finish.lua"),
                queue_shards: Script::new(include_str!("scripts/queue_shards.lua")),
                backlog_lock: Script::new(include_str!("scripts/backlog_lock.lua")),
                backlog_end: Script::new(include_str!("scripts/backlog_end.lua")),
            }),
            retention_secs: opts.retention.as_secs().max(1),
            retry_shards: opts.retry_shards.max(1),
            secret_keys: opts.secret_keys.clone().map(std::sync::Arc::new),
            cleared: Default::default(),
            clock: Default::default(),
            expiries: Default::default(),
            set_counts: Default::default(),
            removals: Default::default(),
            tracked,
            options: std::sync::Arc::new(opts.clone()),
        })
    }

    /// The tracked connection for a read of `name`, with what it cached of it; `None`
    /// on a Redis Cluster, or while no tracked connection can be had: the caller reads
    /// on the store's connection as before.
    pub(crate) async fn tracked_lookup(
        &self,
        name: &str,
    ) -> Option<(&tracked::Tracked, tracked::Lookup)> {
        let tracked = self.tracked.as_deref()?;
        Some((tracked, tracked.begin(name).await?))
    }

    /// Forgets at once what the tracked connection cached for `name` (this process
    /// changed it; other processes hear of it from Redis).
    pub(crate) fn forget_tracked(&self, name: &str) {
        if let Some(tracked) = &self.tracked {
            tracked.forget(name);
        }
    }

    /// Another handle for a lane of this process on a runtime of its own: connections of
    /// its own (a connection's tasks run on the runtime that made it), and what the
    /// process remembers shared (the done-mark sets whose expiry it set and their
    /// counts, the failing streaks it ended, its reading of Redis's clock), so that
    /// lanes do not write the same expiries again.
    pub fn lane(&self) -> Result<Store> {
        Ok(Store {
            clock: self.clock.clone(),
            expiries: self.expiries.clone(),
            set_counts: self.set_counts.clone(),
            cleared: self.cleared.clone(),
            ..Store::connect(&self.options)?
        })
    }

    /// Runs `script` with its keys and arguments written by `build` straight into the one
    /// buffer of the command (`nkeys` keys first; `size`: about how many arguments and
    /// bytes): unlike [`Script::prepare_invoke`], a call naming many keys and arguments
    /// allocates nothing for each. Loads the script into Redis when it does not have it.
    pub(crate) async fn eval<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        nkeys: usize,
        size: (usize, usize),
        build: impl FnOnce(&mut redis::Cmd),
    ) -> Result<T> {
        let mut cmd = redis::Cmd::with_capacity(size.0 + 3, size.1 + 64);
        cmd.arg("EVALSHA");
        cmd.arg(script.get_hash()).arg(nkeys);
        build(&mut cmd);
        let mut conn = self.conn();
        match cmd.query_async(&mut conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                script.load_async(&mut conn).await?;
                Ok(cmd.query_async(&mut conn).await?)
            }
            answer => Ok(answer?),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn retry_shards(&self) -> u32 {
        self.retry_shards
    }

    /// The connection (tests and tools read keys with it; the store's own writes go
    /// through its methods).
    pub fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// `PING`: Redis answers.
    pub async fn ping(&self) -> Result<()> {
        let _: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// Every key of this prefix. `SCAN` on one server; on a cluster, `KEYS` on every
    /// primary (tests and teardown only: it blocks each node while it runs).
    pub async fn all_keys(&self) -> Result<Vec<String>> {
        let mut conn = self.conn();
        if conn.is_cluster() {
            return Ok(redis::cmd("KEYS")
                .arg(self.keys.all_pattern())
                .query_async(&mut conn)
                .await?);
        }
        let mut all = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.keys.all_pattern())
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            all.extend(keys);
            if next == 0 {
                return Ok(all);
            }
            cursor = next;
        }
    }

    /// Deletes every key of this prefix (tests and teardown).
    pub async fn delete_everything(&self) -> Result<u64> {
        let mut conn = self.conn();
        let mut deleted = 0;
        for key in self.all_keys().await? {
            let n: u64 = redis::cmd("UNLINK")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
            deleted += n;
        }
        Ok(deleted)
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}
