//! queue_shards.lua: the most event queue shards recorded only rises.

use crate::common::store;

#[tokio::test]
async fn the_recorded_shard_count_only_rises() {
    let s = store();
    assert_eq!(s.queue_shards_seen(4).await.unwrap(), 4);
    assert_eq!(
        s.queue_shards_seen(2).await.unwrap(),
        4,
        "lowered: the most is kept"
    );
    assert_eq!(s.queue_shards_seen(8).await.unwrap(), 8);
    assert_eq!(s.queue_shards_seen(1).await.unwrap(), 8);
}
