//! A claim's read of its tenant cached on the claims' connection (`tracked.rs`): read once,
//! and never older than the claim, whatever changed before it.

use std::time::Duration;

use hookpost_core::Event;
use hookpost_store::events::Claim;
use hookpost_store::Store;

use crate::common::{store, store_at, store_at_prefix, tenant, OwnRedis};

fn event(id: &str) -> Event {
    let raw = format!(r#"{{"id":"{id}","tenant":"acme","type":"t.created","data":{{}}}}"#);
    Event::parse(raw.as_bytes(), None).unwrap()
}

async fn claim(s: &Store, id: &str) -> (Claim, u64) {
    s.claim_event(&event(id), 60_000, 1).await.unwrap()
}

/// A change of the hooks from another connection (another process's API).
async fn bump(s: &Store) -> u64 {
    redis::AsyncCommands::incr(&mut s.conn(), s.keys().hooks_version("acme"), 1)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_claim_goes_by_every_hooks_change_made_before_it() {
    let s = store();
    tenant(&s, "acme").await;
    assert_eq!(claim(&s, "e0").await, (Claim::New, 0));
    for i in 1..=50 {
        let version = bump(&s).await;
        assert_eq!(claim(&s, &format!("a{i}")).await, (Claim::New, version));
        // Unchanged, the next claim goes by the same version.
        assert_eq!(claim(&s, &format!("b{i}")).await, (Claim::New, version));
    }
}

#[tokio::test]
async fn claims_of_a_known_tenant_read_it_once_until_it_changes() {
    let redis = OwnRedis::start().await;
    let s = store_at(&redis.url);
    tenant(&s, "acme").await;
    let before = redis.calls("mget").await;
    for i in 0..10 {
        assert_eq!(claim(&s, &format!("e{i}")).await, (Claim::New, 0));
    }
    assert_eq!(
        redis.calls("mget").await - before,
        1,
        "one read for ten claims"
    );
    let version = bump(&s).await;
    assert_eq!(claim(&s, "after").await, (Claim::New, version));
    assert_eq!(claim(&s, "after2").await, (Claim::New, version));
    assert_eq!(
        redis.calls("mget").await - before,
        2,
        "read again once, after the change"
    );
}

#[tokio::test]
async fn a_claim_after_redis_lost_its_data_finds_its_tenant_unknown() {
    let redis = OwnRedis::start().await;
    let s = store_at(&redis.url);
    tenant(&s, "acme").await;
    assert_eq!(claim(&s, "e1").await, (Claim::New, 0));
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut redis.conn().await)
        .await
        .unwrap();
    assert_eq!(claim(&s, "e2").await, (Claim::UnknownTenant, 0));
    tenant(&s, "acme").await;
    let version = bump(&s).await;
    assert_eq!(claim(&s, "e3").await, (Claim::New, version));
}

#[tokio::test]
async fn a_claim_after_its_connection_was_cut_reads_its_tenant_again() {
    let redis = OwnRedis::start().await;
    let s = store_at(&redis.url);
    tenant(&s, "acme").await;
    assert_eq!(claim(&s, "e1").await, (Claim::New, 0));
    // Every client cut: a change made while none tracks the tenant.
    let mut admin = redis.conn().await;
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .query_async(&mut admin)
        .await
        .unwrap_or(0);
    let version: u64 = redis::AsyncCommands::incr(&mut admin, s.keys().hooks_version("acme"), 1)
        .await
        .unwrap();
    // A claim on the cut connection fails (the worker would requeue); the next goes by
    // the change.
    let mut answer = s.claim_event(&event("e2"), 60_000, 1).await;
    for _ in 0..20 {
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = s.claim_event(&event("e2"), 60_000, 1).await;
    }
    assert_eq!(answer.unwrap(), (Claim::New, version));
}

/// `check` until it holds, for at most a second: what a push from Redis brings.
async fn soon(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn an_api_key_is_read_once_and_refused_once_revoked_here_or_elsewhere() {
    let redis = OwnRedis::start().await;
    let s = store_at(&redis.url);
    tenant(&s, "acme").await;
    let (first, key) = s.create_key("acme").await.unwrap();
    let before = redis.calls("get").await;
    for _ in 0..5 {
        assert_eq!(s.authenticate(&key).await.unwrap().as_deref(), Some("acme"));
    }
    assert_eq!(
        redis.calls("get").await - before,
        1,
        "one read for five requests"
    );

    // Revoked by this process: refused at once.
    assert!(s.revoke_key("acme", &first.id).await.unwrap());
    assert_eq!(s.authenticate(&key).await.unwrap(), None);

    // Revoked by another process: refused once Redis's invalidation arrives.
    let (second, key) = s.create_key("acme").await.unwrap();
    assert_eq!(s.authenticate(&key).await.unwrap().as_deref(), Some("acme"));
    let revoker = store_at_prefix(&redis.url, s.keys().prefix());
    assert!(revoker.revoke_key("acme", &second.id).await.unwrap());
    assert!(soon(async || s.authenticate(&key).await.unwrap().is_none()).await);

    // Redis emptied: no key authenticates.
    let (_, key) = s.create_key("acme").await.unwrap();
    assert_eq!(s.authenticate(&key).await.unwrap().as_deref(), Some("acme"));
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut redis.conn().await)
        .await
        .unwrap();
    assert!(soon(async || s.authenticate(&key).await.unwrap().is_none()).await);
}
