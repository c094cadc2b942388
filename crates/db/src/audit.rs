//! The audit log: what operators did, to which tenant, from where, and when.
//!
//! One table, `audit_log`, a partition a day by `at`, keyed by tenant (`''` for actions
//! on none). Entry ids start with the time in µs, so they sort by time and a page
//! continues after an id (a keyset cursor). Whole days past `HOOKPOST_AUDIT_RETENTION`
//! are dropped by the partition upkeep; a read never shows an entry past it.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use tracing::warn;

use crate::time::{from_ms, from_us, to_ms};
use crate::{Db, Result};

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// `aud_<µs, 16 digits><random>`: sorts by time.
    pub id: String,
    /// When (ms since the epoch; RFC 3339 in JSON).
    #[serde(with = "hookpost_core::timestamp")]
    pub at: i64,
    /// `admin` (the admin token), `operator` (a console session opened with it), `cli`
    /// (`hookpost tenants create|key-create|key-revoke`, which write the database
    /// directly).
    pub actor: String,
    /// `hook.create`, `key.revoke`, `hook.secret.read`, …
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// What the action was on: a hook, delivery, event or key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The client's address, as the server saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The request's `X-Request-Id`, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl AuditEntry {
    /// An entry made now.
    pub fn now(actor: &str, action: &str, tenant: Option<&str>) -> AuditEntry {
        let at = hookpost_core::now_ms();
        AuditEntry {
            id: entry_id(at),
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            tenant: tenant.map(str::to_owned),
            target: None,
            client: None,
            request_id: None,
        }
    }
}

/// `aud_<µs, 16 digits><random>`: later entries of this process sort later, even within
/// one millisecond.
fn entry_id(at_ms: i64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = at_ms.max(0) as u64 * 1000;
    let next = |last: u64| now.max(last + 1);
    let last = LAST
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(next(last)))
        .expect("the update always applies");
    let random = hookpost_core::ids::random_id("r");
    format!("aud_{:016}{}", next(last), &random[2..8])
}

/// The time (µs) an entry id starts with, when it has one.
fn id_time_us(id: &str) -> Option<i64> {
    id.strip_prefix("aud_")?.get(..16)?.parse().ok()
}

/// The largest page.
pub const MAX_PAGE: usize = 200;

/// What a page of the log is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant: Option<String>,
    /// An action, or a prefix of actions ending before a `.` (`hook` takes `hook.*`).
    pub action: Option<String>,
}

const COLUMNS: &str = "id, at, actor, action, tenant_id, target, client, request_id";

impl Db {
    /// Writes `entry`; an error means the action must not go ahead.
    pub async fn audit(&self, entry: &AuditEntry) -> Result<()> {
        match self.insert_audit(entry).await {
            Err(e) => {
                crate::partitions::make_missing(self, e).await?;
                self.insert_audit(entry).await
            }
            done => done,
        }
    }

    async fn insert_audit(&self, e: &AuditEntry) -> Result<()> {
        self.client()
            .await?
            .execute(
                &format!(
                    "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT DO NOTHING"
                ),
                &[
                    &e.id,
                    &from_ms(e.at),
                    &e.actor,
                    &e.action,
                    &e.tenant.as_deref().unwrap_or(""),
                    &e.target,
                    &e.client,
                    &e.request_id,
                ],
            )
            .await?;
        Ok(())
    }

    /// A page of the log, newest first, after `cursor` (an entry id); the cursor of the
    /// next page when there may be more. One indexed query: a tenant's entries are a
    /// range of the primary key, every tenant's walk `audit_log_id`.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<AuditEntry>, Option<String>)> {
        let limit = limit.clamp(1, MAX_PAGE) as i64;
        let since = SystemTime::now() - self.audit_retention;
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(since)];
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE at > $1");
        let mut add = |sql: &mut String, clause: &str, value: Box<dyn ToSql + Sync + Send>| {
            params.push(value);
            sql.push_str(&clause.replace('$', &format!("${}", params.len())));
        };
        if let Some(t) = &filter.tenant {
            add(&mut sql, " AND tenant_id = $", Box::new(t.clone()));
        }
        if let Some(c) = cursor {
            add(&mut sql, " AND id < $", Box::new(c.to_owned()));
            // Lets the planner skip the days after the cursor's.
            if let Some(us) = id_time_us(c) {
                add(&mut sql, " AND at <= $", Box::new(from_us(us + 1000)));
            }
        }
        if let Some(a) = &filter.action {
            // The action itself, or one below it (`hook` takes `hook.create`).
            add(&mut sql, " AND (action = $", Box::new(a.clone()));
            add(
                &mut sql,
                " OR starts_with(action, $))",
                Box::new(format!("{a}.")),
            );
        }
        add(&mut sql, " ORDER BY id DESC LIMIT $", Box::new(limit + 1));
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = self.client().await?.query(&sql, &refs).await?;
        let mut page: Vec<AuditEntry> = rows.iter().map(entry).collect();
        let next = match page.len() as i64 > limit {
            true => {
                page.truncate(limit as usize);
                page.last().map(|e| e.id.clone())
            }
            false => None,
        };
        Ok((page, next))
    }

    /// Copies the audit log a deployment from before kept in Redis (each entry's JSON)
    /// into an empty `audit_log`: nothing when it holds any entry. Entries past the
    /// retention are left out. How many it copied.
    pub async fn import_audit(&self, entries: &[String]) -> Result<usize> {
        let any: bool = self
            .client()
            .await?
            .query_one("SELECT EXISTS (SELECT 1 FROM audit_log)", &[])
            .await?
            .get(0);
        if any {
            return Ok(0);
        }
        let oldest_kept = hookpost_core::now_ms() - self.audit_retention.as_millis() as i64;
        let entries: Vec<AuditEntry> = entries
            .iter()
            .filter_map(|json| match serde_json::from_str::<AuditEntry>(json) {
                Ok(e) => Some(e),
                Err(error) => {
                    warn!(%error, "an audit entry in Redis is unreadable; not copied");
                    None
                }
            })
            .filter(|e| e.at > oldest_kept)
            .collect();
        let Some(oldest) = entries.iter().map(|e| e.at).min() else {
            return Ok(0);
        };
        crate::partitions::make_audit_days(self, from_ms(oldest)).await?;
        for e in &entries {
            self.audit(e).await?;
        }
        Ok(entries.len())
    }
}

fn entry(r: &Row) -> AuditEntry {
    let tenant: String = r.get(4);
    AuditEntry {
        id: r.get(0),
        at: to_ms(r.get(1)),
        actor: r.get(2),
        action: r.get(3),
        tenant: (!tenant.is_empty()).then_some(tenant),
        target: r.get(5),
        client: r.get(6),
        request_id: r.get(7),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn entry_ids_sort_by_time_also_within_one_millisecond() {
        let now = hookpost_core::now_ms();
        let ids: Vec<String> = (0..100).map(|_| entry_id(now)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        let us = id_time_us(&ids[0]).unwrap();
        assert!(now * 1000 <= us && us < (now + 1000) * 1000);
        assert_eq!(ids[0].len(), "aud_".len() + 16 + 6);
        assert_eq!(id_time_us("aud_12"), None);
    }

    /// A database of the test's own whose audit log keeps `days`.
    async fn db(days: u64) -> (Db, crate::scratch::Scratch) {
        let keep =
            |o: &mut crate::DbOptions| o.audit_retention = Duration::from_secs(days * 86_400);
        crate::scratch::for_test("audit", keep, None).await
    }

    fn at(action: &str, tenant: Option<&str>, ago_ms: i64) -> AuditEntry {
        let mut e = AuditEntry::now("admin", action, tenant);
        e.at -= ago_ms;
        e.id = entry_id(e.at);
        e
    }

    fn actions(page: &[AuditEntry]) -> Vec<&str> {
        page.iter().map(|e| e.action.as_str()).collect()
    }

    #[tokio::test]
    async fn the_log_pages_by_tenant_and_action_newest_first_within_its_retention() {
        let (db, scratch) = db(3).await;
        // A log kept in Redis before: copied in once, its unreadable entry left out.
        let day = 86_400_000;
        let old = at("tenant.create", Some("acme"), 2 * day);
        let ancient = at("tenant.create", Some("acme"), 4 * day);
        let copied = [&old, &ancient].map(|e| serde_json::to_string(e).unwrap());
        let redis = [copied[0].clone(), copied[1].clone(), "{".to_owned()];
        assert_eq!(
            db.import_audit(&redis).await.unwrap(),
            1,
            "past the retention"
        );
        assert_eq!(
            db.import_audit(&redis).await.unwrap(),
            0,
            "only into an empty log"
        );

        let mut made = Vec::new();
        for (action, tenant) in [
            ("hook.create", Some("acme")),
            ("key.create", Some("globex")),
            ("hook.secret.read", Some("acme")),
            ("hook.secrets", Some("acme")),
            ("tenant.list", None),
        ] {
            let e = AuditEntry::now("admin", action, tenant);
            db.audit(&e).await.unwrap();
            made.push(e);
        }
        db.audit(&made[0]).await.unwrap(); // written again after a lost answer: once

        let page = |tenant: Option<&str>, action: Option<&str>| {
            let filter = AuditFilter {
                tenant: tenant.map(str::to_owned),
                action: action.map(str::to_owned),
            };
            let db = db.clone();
            async move { db.audit_page(&filter, 50, None).await.unwrap() }
        };
        let (acme, next) = page(Some("acme"), None).await;
        assert_eq!(
            actions(&acme),
            [
                "hook.secrets",
                "hook.secret.read",
                "hook.create",
                "tenant.create"
            ]
        );
        assert_eq!(next, None);
        assert_eq!(acme[1], made[2], "read back as written");
        assert_eq!(acme[3], old);
        let (all, _) = page(None, None).await;
        assert_eq!(all.len(), 6);
        assert_eq!(all[0].tenant, None);
        let (secret, _) = page(None, Some("hook.secret")).await;
        assert_eq!(
            actions(&secret),
            ["hook.secret.read"],
            "a prefix ends before a dot"
        );
        let (hooks, _) = page(Some("acme"), Some("hook")).await;
        assert_eq!(
            actions(&hooks),
            ["hook.secrets", "hook.secret.read", "hook.create"]
        );
        assert!(page(Some("initech"), None).await.0.is_empty());

        // Pages of two follow one another with nothing repeated or missed.
        let (mut seen, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let (p, next) = db
                .audit_page(&AuditFilter::default(), 2, cursor.as_deref())
                .await
                .unwrap();
            assert!(p.len() <= 2);
            seen.extend(p);
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, all);

        // A shorter retention hides what is past it before its day is dropped.
        let one_day = Db::connect(
            &crate::DbOptions {
                url: scratch.url.clone(),
                audit_retention: Duration::from_secs(86_400),
                ..crate::DbOptions::of(&hookpost_core::Config::default())
            },
            None,
        )
        .unwrap();
        let (recent, _) = one_day
            .audit_page(&AuditFilter::default(), 50, None)
            .await
            .unwrap();
        assert_eq!(recent.len(), 5);
        assert!(recent.iter().all(|e| e.id != old.id));
    }
}
