//! The connection to Redis: one server, or a Redis Cluster.
//!
//! `HOOKPOST_REDIS_URL` names a cluster with `redis+cluster://host:port,host:port/` (or
//! `rediss+cluster://` for TLS), or with a comma-separated list of `redis://` URLs. The
//! nodes given are seeds: the client learns the rest of the cluster from them and
//! follows slot moves and fail-overs.
//!
//! Every key carries a hash tag ([`crate::keys`]), so each script or pipeline touches
//! one slot. A command that does not fails with `CROSSSLOT`; such errors are counted
//! ([`cross_slot_errors`]) and logged, since they mean a bug in the key map.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

/// A cheap-to-clone, multiplexed, self-healing connection.
#[derive(Clone)]
pub enum Conn {
    Single(ConnectionManager),
    /// Connected on first use, so that start-up does not wait for the cluster.
    Cluster(Arc<LazyCluster>),
}

pub struct LazyCluster {
    client: ClusterClient,
    conn: OnceCell<ClusterConnection>,
}

/// The seed nodes of a cluster URL, or `None` for a single server's URL.
pub fn cluster_nodes(url: &str) -> Option<Vec<String>> {
    for (scheme, plain) in [
        ("redis+cluster://", "redis://"),
        ("rediss+cluster://", "rediss://"),
    ] {
        if let Some(rest) = url.strip_prefix(scheme) {
            // Credentials, if any, apply to every node.
            let (auth, hosts) = match rest.rsplit_once('@') {
                Some((auth, hosts)) => (format!("{auth}@"), hosts),
                None => (String::new(), rest),
            };
            let hosts = hosts.trim_end_matches('/');
            return Some(
                hosts
                    .split(',')
                    .filter(|h| !h.trim().is_empty())
                    .map(|h| format!("{plain}{auth}{}", h.trim()))
                    .collect(),
            );
        }
    }
    url.contains(',').then(|| {
        url.split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

impl Conn {
    /// Opens lazily: the first command connects, and a lost connection is made again.
    pub fn open(url: &str, timeout: Duration) -> RedisResult<Conn> {
        if let Some(nodes) = cluster_nodes(url) {
            let client = ClusterClient::builder(nodes)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .retries(3)
                .max_retry_wait(500)
                .build()?;
            return Ok(Conn::Cluster(Arc::new(LazyCluster {
                client,
                conn: OnceCell::new(),
            })));
        }
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        Ok(Conn::Single(ConnectionManager::new_lazy_with_config(
            client, config,
        )?))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }
}

impl LazyCluster {
    async fn get(&self) -> RedisResult<ClusterConnection> {
        self.conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }
}

static CROSS_SLOT: AtomicU64 = AtomicU64::new(0);

/// How many commands this process sent that touched more than one slot.
pub fn cross_slot_errors() -> u64 {
    CROSS_SLOT.load(Ordering::Relaxed)
}

fn watch<T>(result: RedisResult<T>) -> RedisResult<T> {
    if let Err(e) = &result {
        if is_cross_slot(e) {
            CROSS_SLOT.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "a Redis command touched more than one slot: a bug in the key map");
        }
    }
    result
}

fn is_cross_slot(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::CrossSlot)
        || e.to_string().contains("CROSSSLOT")
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            watch(match self {
                Conn::Single(c) => c.req_packed_command(cmd).await,
                Conn::Cluster(c) => c.get().await?.req_packed_command(cmd).await,
            })
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            watch(match self {
                Conn::Single(c) => c.req_packed_commands(pipeline, offset, count).await,
                Conn::Cluster(c) => {
                    c.get()
                        .await?
                        .req_packed_commands(pipeline, offset, count)
                        .await
                }
            })
        })
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cluster_nodes;

    #[test]
    fn cluster_urls_name_their_seed_nodes() {
        assert_eq!(cluster_nodes("redis://127.0.0.1:6379/"), None);
        assert_eq!(
            cluster_nodes("redis+cluster://10.0.0.1:7000,10.0.0.2:7001/").unwrap(),
            ["redis://10.0.0.1:7000", "redis://10.0.0.2:7001"]
        );
        assert_eq!(
            cluster_nodes("rediss+cluster://u:p@a:1,b:2").unwrap(),
            ["rediss://u:p@a:1", "rediss://u:p@b:2"]
        );
        assert_eq!(
            cluster_nodes("redis://a:1, redis://b:2").unwrap(),
            ["redis://a:1", "redis://b:2"]
        );
    }
}
