//! The keyspace marker and the server it was last made whole on.

use crate::common::store;

#[tokio::test]
async fn a_keyspace_made_whole_is_news_again_only_on_another_server() {
    let s = store();
    // A keyspace of before this check (no server recorded): the next look puts back.
    let run_id = s
        .server_changed()
        .await
        .unwrap()
        .expect("no server recorded");
    assert_eq!(run_id.len(), 40, "Redis's run id: {run_id}");
    // Writing the marker records this server: nothing to put back on it.
    assert!(s.init_marker().await.unwrap());
    assert_eq!(s.server_changed().await.unwrap(), None);
    // What a restart looks like: the keyspace was made whole on another run.
    s.server_seen("0000000000000000000000000000000000000000")
        .await
        .unwrap();
    assert_eq!(s.server_changed().await.unwrap(), Some(run_id.clone()));
    s.server_seen(&run_id).await.unwrap();
    assert_eq!(s.server_changed().await.unwrap(), None);
}
