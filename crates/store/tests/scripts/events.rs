//! claim_event.lua, event_lease.lua and event_lease_left.lua: claiming an event and its
//! lease, all on Redis's clock.

use std::time::Duration;

use hookpost_core::Event;
use hookpost_store::events::Claim;
use hookpost_store::log::{EventMark, Record};

use crate::common::{store, tenant};

fn event(id: &str) -> Event {
    let raw = format!(r#"{{"id":"{id}","tenant":"acme","type":"t.created","data":{{"k":1}}}}"#);
    Event::parse(raw.as_bytes(), None).unwrap()
}

const MINUTE: u64 = 60_000;

#[tokio::test]
async fn an_event_of_an_unknown_tenant_is_refused_and_not_stored() {
    let s = store();
    let claim = s.claim_event(&event("e1"), MINUTE, 1).await.unwrap();
    assert_eq!(claim, (Claim::UnknownTenant, 0));
    assert!(s.event("acme", "e1").await.unwrap().is_none());
}

#[tokio::test]
async fn the_first_claim_stores_the_event_and_a_live_lease_keeps_others_out() {
    let s = store();
    tenant(&s, "acme").await;
    let received_at = 1_700_000_000_123;
    let claim = s
        .claim_event(&event("e1"), MINUTE, received_at)
        .await
        .unwrap();
    assert_eq!(claim, (Claim::New, 0));
    let stored = s.event("acme", "e1").await.unwrap().unwrap();
    assert_eq!(
        (stored.kind.as_str(), stored.data.as_str()),
        ("t.created", r#"{"k":1}"#)
    );
    assert_eq!(
        stored.received_at, received_at,
        "the caller's stamp, as given"
    );
    assert_eq!(stored.state, "processing");
    // A duplicate, or a redelivery while the holder lives.
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 2).await.unwrap().0,
        Claim::Busy
    );
    let left = s.event_lease_left("acme", "e1").await.unwrap();
    assert!(
        left > Duration::from_secs(55) && left <= Duration::from_secs(60),
        "{left:?}"
    );
}

#[tokio::test]
async fn a_lease_that_ran_out_is_taken_over_once() {
    let s = store();
    tenant(&s, "acme").await;
    // A holder whose lease has already run out: it died.
    assert_eq!(
        s.claim_event(&event("e1"), 0, 1).await.unwrap().0,
        Claim::New
    );
    assert_eq!(
        s.event_lease_left("acme", "e1").await.unwrap(),
        Duration::ZERO
    );
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 2).await.unwrap().0,
        Claim::TakeOver
    );
    // The one that took over holds it now.
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 3).await.unwrap().0,
        Claim::Busy
    );
    let stored = s.event("acme", "e1").await.unwrap().unwrap();
    assert_eq!(
        stored.received_at, 1,
        "a take-over keeps the first receive time"
    );
}

#[tokio::test]
async fn a_released_lease_lets_the_next_claim_take_over_and_renewal_extends_it() {
    let s = store();
    tenant(&s, "acme").await;
    s.claim_event(&event("e1"), 1_000, 1).await.unwrap();
    assert!(s
        .set_event_lease("acme", "e1", Duration::from_secs(30))
        .await
        .unwrap());
    let left = s.event_lease_left("acme", "e1").await.unwrap();
    assert!(left > Duration::from_secs(25), "renewed: {left:?}");
    assert!(s
        .set_event_lease("acme", "e1", Duration::ZERO)
        .await
        .unwrap());
    assert_eq!(
        s.event_lease_left("acme", "e1").await.unwrap(),
        Duration::ZERO
    );
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 2).await.unwrap().0,
        Claim::TakeOver
    );
}

#[tokio::test]
async fn a_done_or_missing_event_gets_no_lease_and_a_done_one_is_a_duplicate() {
    let s = store();
    tenant(&s, "acme").await;
    assert!(!s
        .set_event_lease("acme", "nope", Duration::from_secs(30))
        .await
        .unwrap());
    assert!(
        s.event("acme", "nope").await.unwrap().is_none(),
        "never recreated"
    );
    assert_eq!(
        s.event_lease_left("acme", "nope").await.unwrap(),
        Duration::ZERO
    );

    s.claim_event(&event("e1"), MINUTE, 1).await.unwrap();
    let none: [Record<'_>; 0] = [];
    s.record("acme", "e1", &none, EventMark::Done, MINUTE as i64)
        .await
        .unwrap();
    assert!(!s
        .set_event_lease("acme", "e1", Duration::from_secs(30))
        .await
        .unwrap());
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 2).await.unwrap().0,
        Claim::Done
    );
}

#[tokio::test]
async fn a_claim_answers_the_tenants_hooks_version() {
    let s = store();
    tenant(&s, "acme").await;
    let _: () = redis::AsyncCommands::set(&mut s.conn(), s.keys().hooks_version("acme"), 7)
        .await
        .unwrap();
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 1).await.unwrap(),
        (Claim::New, 7)
    );
    assert_eq!(
        s.claim_event(&event("e1"), MINUTE, 1).await.unwrap(),
        (Claim::Busy, 7)
    );
}
