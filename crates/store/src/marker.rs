//! The keyspace marker: written when hookpost first sets up its keyspace. A role that
//! finds it missing knows Redis came back empty (or is the wrong database) and stops
//! rather than treating every event as having no subscribers.

use redis::AsyncCommands;

use crate::{Result, Store};

impl Store {
    /// Writes the marker unless it is there; `true` when this call wrote it.
    pub async fn init_marker(&self) -> Result<bool> {
        let value = format!(
            r#"{{"id":"{}","created_at":{}}}"#,
            hookpost_core::ids::random_id("ks"),
            hookpost_core::now_ms()
        );
        let set: bool = redis::cmd("SET")
            .arg(self.keys.marker())
            .arg(value)
            .arg("NX")
            .query_async::<Option<String>>(&mut self.conn())
            .await?
            .is_some();
        if set {
            // The keyspace is whole on this server now: only a later restart is news.
            if let Some(run_id) = self.server_changed().await? {
                self.server_seen(&run_id).await?;
            }
        }
        Ok(set)
    }

    /// Whether the marker is present. Missing, Redis came back empty (or was never set
    /// up): what this process remembers of the done marks' sets goes with it.
    pub async fn marker_present(&self) -> Result<bool> {
        let present: bool = self.conn().exists(self.keys.marker()).await?;
        if !present {
            self.forget_done_sets();
        }
        Ok(present)
    }

    /// The run id of the server when it differs from the one the keyspace was last made
    /// whole on ([`Store::server_seen`]): the server restarted or failed over since, and
    /// came back from a copy of its data that may lack its last writes (an append-only
    /// file fsynced once a second, a snapshot, a replica behind). `None` when it is the
    /// same, and where it cannot be told: on a cluster, whose nodes each have their own,
    /// and behind a proxy that refuses `INFO` or hides the run id.
    pub async fn server_changed(&self) -> Result<Option<String>> {
        if self.conn.is_cluster() {
            return Ok(None);
        }
        let answer = redis::pipe()
            .cmd("INFO")
            .arg("server")
            .get(self.keys.server_seen())
            .query_async(&mut self.conn())
            .await;
        let (info, seen): (String, Option<String>) = match answer {
            Ok(answer) => answer,
            Err(e) if matches!(e.kind(), redis::ErrorKind::Server(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(run_id) = info.lines().find_map(|l| l.strip_prefix("run_id:")) else {
            return Ok(None);
        };
        let run_id = run_id.trim();
        Ok((seen.as_deref() != Some(run_id)).then(|| run_id.to_owned()))
    }

    /// Records that the keyspace is whole on the server of `run_id`.
    pub async fn server_seen(&self, run_id: &str) -> Result<()> {
        Ok(self.conn().set(self.keys.server_seen(), run_id).await?)
    }

    /// Takes (or, holding it, renews) the lock of rebuilding the keyspace for `lease`;
    /// `false` while another holds it.
    pub async fn rebuild_lock(&self, token: &str, lease: std::time::Duration) -> Result<bool> {
        let wait: i64 = self
            .scripts
            .backlog_lock
            .key(self.keys.rebuild_lock())
            .arg(token)
            .arg(lease.as_millis() as u64)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(wait == 0)
    }

    /// Lets the rebuild's lock go (the marker is written: nobody needs it).
    pub async fn rebuild_unlock(&self) -> Result<()> {
        Ok(self.conn().del(self.keys.rebuild_lock()).await?)
    }
}

/// What the Redis server keeps on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// Append-only file; `always` fsyncs every write.
    Aof { always: bool },
    /// Snapshots only: writes since the last one are lost on a crash.
    Snapshots,
    /// Nothing: a restart empties it.
    None,
}

impl Persistence {
    pub fn as_str(self) -> &'static str {
        match self {
            Persistence::Aof { always: true } => "aof_always",
            Persistence::Aof { always: false } => "aof",
            Persistence::Snapshots => "snapshots",
            Persistence::None => "none",
        }
    }
}

impl Store {
    /// Reads the server's persistence settings (`CONFIG GET`).
    pub async fn persistence(&self) -> Result<Persistence> {
        let mut conn = self.conn();
        let get = |name: &'static str| redis::cmd("CONFIG").arg("GET").arg(name).clone();
        let (aof, fsync, save): (Vec<String>, Vec<String>, Vec<String>) = redis::pipe()
            .add_command(get("appendonly"))
            .add_command(get("appendfsync"))
            .add_command(get("save"))
            .query_async(&mut conn)
            .await?;
        let value = |v: &[String]| v.get(1).cloned().unwrap_or_default();
        Ok(if value(&aof) == "yes" {
            Persistence::Aof {
                always: value(&fsync) == "always",
            }
        } else if !value(&save).trim().is_empty() {
            Persistence::Snapshots
        } else {
            Persistence::None
        })
    }
}
