//! The operations against a real store (the local Redis, under a prefix of their own):
//! input checks, unknown ids, and one tenant never reaching another's data.

use std::sync::Arc;

use hookpost_core::secret_key::SecretKeys;
use hookpost_core::Config;
use hookpost_db::scratch::Scratch;
use hookpost_db::{Db, DbOptions};
use hookpost_store::{Store, StoreOptions};
use serde_json::json;

use crate::hooks::{self, HookInput};
use crate::{deliveries, tenants, AppState, ServiceError, SharedState};

/// A state on its own Redis prefix and its own database (dropped with the guard).
async fn state() -> (SharedState, Scratch) {
    let id = hookpost_core::ids::random_id("t");
    let name = format!("hookpost_svc_test_{}", &id[2..]);
    let scratch = Scratch::create(&Config::default().database_url, &name)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432");
    let config = Config {
        prefix: format!("hookpost-svc-test-{id}"),
        database_url: scratch.url.clone(),
        allow_private_targets: true,
        secret_keys: Some(SecretKeys::parse(&SecretKeys::generate("k1")).unwrap()),
        ..Config::default()
    };
    let store = Store::connect(&StoreOptions::of(&config)).unwrap();
    let db = Db::connect(&DbOptions::of(&config), None).unwrap();
    let state = AppState::new(
        config.clone(),
        store,
        db,
        hookpost_delivery::Sender::new(&config),
        Arc::new(Default::default()),
        Default::default(),
    );
    (state, scratch)
}

/// Removes the test's Redis keys; its database goes with the [`Scratch`] guard.
async fn finish(s: &SharedState) {
    s.store
        .delete_everything()
        .await
        .expect("Redis on 127.0.0.1:6379");
}

fn input(v: serde_json::Value) -> HookInput {
    serde_json::from_value(v).unwrap()
}

fn code(r: Result<impl Sized, ServiceError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[tokio::test]
async fn bad_input_is_refused_with_its_code_before_anything_is_written() {
    let (s, _db) = state().await;
    let no_events = input(json!({ "url": "http://127.0.0.1:9999/h" }));
    assert_eq!(
        code(hooks::create(&s, "acme", no_events).await),
        "missing_field"
    );
    let no_url = input(json!({ "events": ["*"] }));
    assert_eq!(
        code(hooks::create(&s, "acme", no_url).await),
        "missing_field"
    );
    let unknown = input(json!({ "url": "http://127.0.0.1:9999/h", "events": ["no.such.type"] }));
    assert_eq!(
        code(hooks::create(&s, "acme", unknown).await),
        "unknown_event_type"
    );
    let bad_url = input(json!({ "url": "ftp://example.com/h", "events": ["*"] }));
    assert_eq!(
        code(hooks::create(&s, "acme", bad_url).await),
        "invalid_field"
    );
    let short_secret =
        input(json!({ "url": "http://127.0.0.1:9999/h", "events": ["*"], "secret": "short" }));
    assert_eq!(
        code(hooks::create(&s, "acme", short_secret).await),
        "invalid_field"
    );
    let q = hooks::ListQuery {
        limit: Some(0),
        ..Default::default()
    };
    assert_eq!(code(hooks::list(&s, "acme", q).await), "invalid_field");
    assert!(hooks::list(&s, "acme", Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    let q = deliveries::ListQuery {
        status: Some("lost".into()),
        ..Default::default()
    };
    assert_eq!(code(deliveries::list(&s, "acme", q).await), "invalid_field");
    let q = deliveries::ListQuery {
        cursor: Some("no-dot".into()),
        ..Default::default()
    };
    assert_eq!(code(deliveries::list(&s, "acme", q).await), "invalid_field");
    let bad_tenant = tenants::TenantInput {
        id: "acme}:x".into(),
        name: None,
    };
    assert_eq!(code(tenants::create(&s, bad_tenant).await), "invalid_field");
    finish(&s).await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_not_found() {
    let (s, _db) = state().await;
    let unknown = hookpost_core::ids::ordered_id("hook");
    for id in [unknown.as_str(), "hook_1:rate", "x}:hooks"] {
        assert!(matches!(
            hooks::get(&s, "acme", id).await,
            Err(ServiceError::NotFound("hook"))
        ));
        assert!(matches!(
            hooks::remove_hook(&s, "acme", id).await,
            Err(ServiceError::NotFound("hook"))
        ));
    }
    let dlv = hookpost_core::delivery::delivery_id("acme", "e1", &unknown);
    for id in [dlv.as_str(), "dlv_x:attempts"] {
        assert!(matches!(
            deliveries::get(&s, "acme", id).await,
            Err(ServiceError::NotFound("delivery"))
        ));
    }
    assert!(matches!(
        deliveries::event(&s, "acme", "e 1").await,
        Err(ServiceError::NotFound("event"))
    ));
    assert!(matches!(
        tenants::create_key(&s, "no-such-tenant").await,
        Err(ServiceError::NotFound("tenant"))
    ));
    assert!(matches!(
        tenants::revoke_key(&s, "acme", "key_1:x").await,
        Err(ServiceError::NotFound("key"))
    ));
    finish(&s).await;
}

#[tokio::test]
async fn a_tenant_never_reaches_another_tenants_hook() {
    let (s, _db) = state().await;
    let given = input(json!({ "url": "http://127.0.0.1:9999/h", "events": ["*"] }));
    let hook = hooks::create(&s, "acme", given).await.unwrap();
    let id = hook.id.as_str();
    let not_found = |r: Result<_, ServiceError>| matches!(r, Err(ServiceError::NotFound("hook")));
    assert!(not_found(hooks::get(&s, "other", id).await.map(drop)));
    assert!(not_found(hooks::secret(&s, "other", id).await.map(drop)));
    assert!(not_found(
        hooks::set_active(&s, "other", id, false).await.map(drop)
    ));
    assert!(not_found(
        hooks::rotate(&s, "other", id, None).await.map(drop)
    ));
    let change = input(json!({ "url": "http://127.0.0.1:9999/other" }));
    assert!(not_found(
        hooks::patch(&s, "other", id, change).await.map(drop)
    ));
    assert!(not_found(hooks::remove_hook(&s, "other", id).await));
    assert!(not_found(
        deliveries::resend_failed_since(&s, "other", id, None)
            .await
            .map(drop)
    ));
    assert!(hooks::list(&s, "other", Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    // The owner still has it as it was, and can delete it.
    let mine = hooks::get(&s, "acme", id).await.unwrap();
    assert_eq!(
        (mine.url.as_str(), mine.active),
        ("http://127.0.0.1:9999/h", true)
    );
    assert_eq!(mine.secret, hook.secret);
    hooks::remove_hook(&s, "acme", id).await.unwrap();
    finish(&s).await;
}
