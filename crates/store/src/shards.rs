//! The most event queue shards this prefix has had (`HOOKPOST_QUEUE_SHARDS`), so that
//! when the count is lowered, workers know which shard queues are left over and drain
//! them instead of leaving their events behind.

use crate::{Result, Store};

impl Store {
    /// Raises the recorded count to `shards` if it is lower; the count recorded.
    pub async fn queue_shards_seen(&self, shards: u32) -> Result<u32> {
        Ok(self
            .scripts
            .queue_shards
            .key(self.keys.queue_shards())
            .arg(shards)
            .invoke_async(&mut self.conn())
            .await?)
    }
}
