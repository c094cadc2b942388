//! The most event queue shards this prefix has had (`HOOKPOST_QUEUE_SHARDS`), so that
//! when the count is lowered, workers know which shard queues are left over and drain
//! them instead of leaving their events behind.

use redis::Script;

use crate::{Result, Store};

impl Store {
    /// Raises the recorded count to `shards` if it is lower; the count recorded.
    pub async fn queue_shards_seen(&self, shards: u32) -> Result<u32> {
        let script = Script::new(
            r"local seen = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > seen then
  redis.call('SET', KEYS[1], ARGV[1])
  return tonumber(ARGV[1])
end
return seen",
        );
        Ok(script
            .key(self.keys.queue_shards())
            .arg(shards)
            .invoke_async(&mut self.conn())
            .await?)
    }
}
