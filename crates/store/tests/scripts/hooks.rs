//! hook_write.lua and hook_reseal.lua: hook writes and the tenant's hooks version.

use hookpost_core::secret_key::SecretKeys;
use hookpost_core::Hook;
use hookpost_store::hooks::{HookWrite, Resealed};

use crate::common::{same_prefix, store_with};

fn hook(id: &str, url: &str) -> Hook {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "tenant": "acme",
        "url": url,
        "events": ["*"],
        "active": true,
        "secret": "whsec_test",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }))
    .unwrap()
}

fn keys(text: &str) -> SecretKeys {
    SecretKeys::parse(text).unwrap()
}

#[tokio::test]
async fn writes_answer_what_they_did_and_only_a_change_bumps_the_version() {
    let s = store_with(1, Some(keys(&SecretKeys::generate("k1"))));
    let version = || s.hooks_version("acme");
    assert_eq!(version().await.unwrap(), 0);
    assert_eq!(
        s.create_hook(&hook("h1", "https://a.example/"), 2)
            .await
            .unwrap(),
        HookWrite::Ok
    );
    assert_eq!(version().await.unwrap(), 1);
    assert_eq!(
        s.create_hook(&hook("h1", "https://b.example/"), 2)
            .await
            .unwrap(),
        HookWrite::Exists
    );
    assert_eq!(
        s.create_hook(&hook("h2", "https://b.example/"), 2)
            .await
            .unwrap(),
        HookWrite::Ok
    );
    assert_eq!(
        s.create_hook(&hook("h3", "https://c.example/"), 2)
            .await
            .unwrap(),
        HookWrite::Limit
    );
    assert_eq!(version().await.unwrap(), 2, "refusals change nothing");
    assert_eq!(
        s.update_hook(&hook("h9", "https://c.example/"))
            .await
            .unwrap(),
        HookWrite::Missing
    );
    assert_eq!(
        s.update_hook(&hook("h1", "https://c.example/"))
            .await
            .unwrap(),
        HookWrite::Ok
    );
    assert_eq!(
        s.hook("acme", "h1").await.unwrap().unwrap().url,
        "https://c.example/"
    );
    assert_eq!(s.delete_hook("acme", "h2").await.unwrap(), HookWrite::Ok);
    assert_eq!(
        s.delete_hook("acme", "h2").await.unwrap(),
        HookWrite::Missing
    );
    assert_eq!(version().await.unwrap(), 4);
    let (v, hooks) = s.hooks_versioned("acme").await.unwrap();
    assert_eq!((v, hooks.len()), (4, 1));
    // Room again after the delete.
    assert_eq!(
        s.create_hook(&hook("h3", "https://c.example/"), 2)
            .await
            .unwrap(),
        HookWrite::Ok
    );
}

#[tokio::test]
async fn resealing_moves_hooks_to_the_current_key_without_bumping_the_version() {
    let old = SecretKeys::generate("k1");
    let s = store_with(1, Some(keys(&old)));
    s.create_hook(&hook("h1", "https://a.example/"), 10)
        .await
        .unwrap();
    s.create_hook(&hook("h2", "https://b.example/"), 10)
        .await
        .unwrap();
    let rotated = same_prefix(&s, keys(&format!("{},{old}", SecretKeys::generate("k2"))));
    let done = rotated.reseal_hooks("acme").await.unwrap();
    assert_eq!(
        done,
        Resealed {
            resealed: 2,
            current: 0,
            unreadable: 0
        }
    );
    assert_eq!(
        rotated.reseal_hooks("acme").await.unwrap().current,
        2,
        "nothing left to do"
    );
    assert_eq!(rotated.hooks_version("acme").await.unwrap(), 2);
    assert_eq!(
        rotated.hook("acme", "h1").await.unwrap().unwrap().secret,
        "whsec_test"
    );
    // Only the new key opens them now.
    assert!(s.hook("acme", "h1").await.is_err());
}
