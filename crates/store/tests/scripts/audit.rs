//! audit_write.lua: an entry in a log that trims what is past its retention.

use std::time::Duration;

use hookpost_store::audit::{AuditEntry, AuditFilter};

use crate::common::store;

#[tokio::test]
async fn an_entry_is_written_to_its_tenants_log_and_the_shared_one_and_old_ones_are_trimmed() {
    let s = store();
    let day = Duration::from_secs(86_400);
    let mut old = AuditEntry::now("op", "hook.create", Some("acme"));
    // Two days ago (ids sort by their time; any id below the bound is older).
    old.at -= 2 * 86_400_000;
    old.id = format!("aud_{:016}oldxxx", old.at as u64 * 1000);
    s.audit(&old, Duration::from_secs(3 * 86_400))
        .await
        .unwrap();
    let shared = AuditFilter {
        tenant: None,
        action: None,
    };
    let acme = AuditFilter {
        tenant: Some("acme".into()),
        action: None,
    };
    assert_eq!(s.audit_page(&acme, 10, None).await.unwrap().0.len(), 1);

    let new = AuditEntry::now("op", "hook.delete", Some("acme"));
    s.audit(&new, day).await.unwrap();
    for filter in [&shared, &acme] {
        let (page, _) = s.audit_page(filter, 10, None).await.unwrap();
        let ids: Vec<&str> = page.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [new.id.as_str()],
            "the two-day-old entry is past a day's retention"
        );
    }
    let global = AuditEntry::now("op", "tenant.create", None);
    s.audit(&global, day).await.unwrap();
    assert_eq!(s.audit_page(&shared, 10, None).await.unwrap().0.len(), 2);
    assert_eq!(
        s.audit_page(&acme, 10, None).await.unwrap().0.len(),
        1,
        "not a tenant's"
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(s.keys().audit("acme"))
        .query_async(&mut s.conn())
        .await
        .unwrap();
    assert!(
        ttl > 86_000 && ttl <= 86_400,
        "an idle log expires after the retention: {ttl}"
    );
}
