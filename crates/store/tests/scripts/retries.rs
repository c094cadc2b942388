//! retry_schedule.lua, claim_retries.lua and retry_stats.lua: the retry set.

use hookpost_core::task::{ResumeTask, Task};
use hookpost_store::retries::Due;

use crate::common::{redis_now, store, store_with};

fn task(event_id: &str) -> Task {
    Task::Resume(ResumeTask {
        tenant: "acme".into(),
        event_id: event_id.into(),
    })
}

/// Due `offset_ms` from now on this process's clock.
fn due_in(event_id: &str, offset_ms: i64) -> Due {
    Due {
        at_ms: hookpost_core::now_ms() + offset_ms,
        task: task(event_id),
    }
}

fn member(event_id: &str) -> String {
    task(event_id).to_json()
}

#[tokio::test]
async fn tasks_are_due_their_delay_from_now_on_redis_clock() {
    let s = store();
    let before = redis_now(&s).await;
    s.schedule(&[due_in("e_late", 60_000), due_in("e_past", -5_000)])
        .await
        .unwrap();
    let after = redis_now(&s).await;
    let entries = s.retry_entries().await.unwrap();
    let score = |m: &str| entries.iter().find(|(e, _)| e == m).unwrap().1;
    // The delay is measured on this clock (a few ms pass before the script runs).
    let late = score(&member("e_late"));
    assert!(
        late > before + 60_000 - 1_000 && late <= after + 60_000,
        "{late}"
    );
    let past = score(&member("e_past"));
    assert!(
        past > before - 5_000 - 1_000 && past <= after - 5_000,
        "{past}"
    );
}

#[tokio::test]
async fn a_claim_takes_due_entries_only_the_longest_due_first_up_to_its_limit() {
    let s = store();
    s.schedule(&[
        due_in("e_2", -2_000),
        due_in("e_future", 60_000),
        due_in("e_3", -3_000),
        due_in("e_1", -1_000),
    ])
    .await
    .unwrap();
    let first = s.claim_due(0, 2, 60_000).await.unwrap();
    assert_eq!(first, [member("e_3"), member("e_2")]);
    let second = s.claim_due(0, 10, 60_000).await.unwrap();
    assert_eq!(second, [member("e_1")], "the rest, never the future one");
    assert!(s.claim_due(0, 10, 60_000).await.unwrap().is_empty());
    // Claimed entries stay in the set, leased, until released.
    assert_eq!(s.retry_entries().await.unwrap().len(), 4);
    s.release(0, &first).await.unwrap();
    s.release(0, &second).await.unwrap();
    let left: Vec<String> = s
        .retry_entries()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(left, [member("e_future")]);
}

#[tokio::test]
async fn a_claim_whose_lease_ran_out_is_taken_back_by_the_next_claim_a_live_one_is_not() {
    let s = store();
    s.schedule(&[due_in("e_dead", -2_000), due_in("e_live", -1_000)])
        .await
        .unwrap();
    // A scheduler that claimed with a lease that has already run out (zero), then died.
    assert_eq!(s.claim_due(0, 1, 0).await.unwrap(), [member("e_dead")]);
    // Another, alive, holds a long lease.
    assert_eq!(s.claim_due(0, 1, 60_000).await.unwrap(), [member("e_live")]);
    let before = redis_now(&s).await;
    let again = s.claim_due(0, 10, 30_000).await.unwrap();
    let after = redis_now(&s).await;
    assert_eq!(
        again,
        [member("e_dead")],
        "only the run-out lease is taken back"
    );
    assert!(s.claim_due(0, 10, 30_000).await.unwrap().is_empty());
    // Now leased anew, for the new claim's lease.
    let entries = s.retry_entries().await.unwrap();
    let lease = entries
        .iter()
        .find(|(m, _)| *m == member("e_dead"))
        .unwrap()
        .1;
    assert!(
        lease >= before + 30_000 && lease <= after + 30_000,
        "{lease}"
    );
}

#[tokio::test]
async fn the_take_back_keeps_to_the_claims_limit() {
    let s = store();
    let due: Vec<Due> = (0..5).map(|i| due_in(&format!("e_{i}"), -1_000)).collect();
    s.schedule(&due).await.unwrap();
    assert_eq!(s.claim_due(0, 5, 0).await.unwrap().len(), 5);
    assert_eq!(s.claim_due(0, 3, 60_000).await.unwrap().len(), 3);
    assert_eq!(s.claim_due(0, 3, 60_000).await.unwrap().len(), 2);
    assert!(s.claim_due(0, 3, 60_000).await.unwrap().is_empty());
    assert_eq!(s.retry_entries().await.unwrap().len(), 5, "nothing lost");
}

#[tokio::test]
async fn schedule_earliest_keeps_the_earlier_due_time() {
    let s = store();
    let score = |s: Vec<(String, i64)>| s[0].1;
    s.schedule_earliest(&due_in("e_1", 10_000)).await.unwrap();
    let first = score(s.retry_entries().await.unwrap());
    s.schedule_earliest(&due_in("e_1", 20_000)).await.unwrap();
    assert_eq!(
        score(s.retry_entries().await.unwrap()),
        first,
        "later: kept"
    );
    s.schedule_earliest(&due_in("e_1", 1_000)).await.unwrap();
    let sooner = score(s.retry_entries().await.unwrap());
    assert!(
        sooner < first - 8_000,
        "sooner: moved, {sooner} against {first}"
    );
    assert_eq!(s.retry_entries().await.unwrap().len(), 1);
}

#[tokio::test]
async fn every_shard_is_claimed_on_its_own_and_all_are_counted() {
    let s = store_with(4, None);
    let due: Vec<Due> = (0..40).map(|i| due_in(&format!("e_{i}"), -1_000)).collect();
    s.schedule(&due).await.unwrap();
    let mut claimed = Vec::new();
    for shard in 0..4 {
        claimed.extend(s.claim_due(shard, 100, 60_000).await.unwrap());
    }
    claimed.sort();
    let mut all: Vec<String> = due.iter().map(|d| d.task.to_json()).collect();
    all.sort();
    assert_eq!(claimed, all);
}

#[tokio::test]
async fn stats_count_due_claimed_and_lateness_on_redis_clock() {
    let s = store_with(2, None);
    let empty = s.retry_stats().await.unwrap();
    assert_eq!(
        (empty.size, empty.due_now, empty.oldest_late_ms),
        (0, 0, None)
    );
    s.schedule(&[
        due_in("e_1", -3_000),
        due_in("e_2", -1_000),
        due_in("e_3", 30_000),
        due_in("e_4", 120_000),
    ])
    .await
    .unwrap();
    let stats = s.retry_stats().await.unwrap();
    assert_eq!((stats.size, stats.due_now), (4, 2));
    let late = stats.oldest_late_ms.unwrap();
    assert!((3_000..5_000).contains(&late), "{late}");
    assert_eq!(
        s.due_within(&[0, 60_000, 3_600_000]).await.unwrap(),
        [2, 3, 4]
    );
    // Claimed entries still count in the size, no longer as due.
    for shard in 0..2 {
        s.claim_due(shard, 10, 60_000).await.unwrap();
    }
    let stats = s.retry_stats().await.unwrap();
    assert_eq!(
        (stats.size, stats.due_now, stats.oldest_late_ms),
        (4, 0, None)
    );
}
