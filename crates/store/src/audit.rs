//! The audit log: what operators did, to which tenant, from where, and when.
//!
//! Each entry is written to its tenant's log (`P:{t.T}:audit`) and to the log of every
//! tenant (`P:{audit}:entries`): two keys in two slots, written one after the other, the
//! cross-tenant one first. Both are sorted sets whose members all score 0 and read
//! `<entry id>\t<entry JSON>`: entry ids start with the time, so members sort by time
//! and a page continues after an entry id (a keyset cursor). Entries older than the audit
//! retention are trimmed on each write, and an idle log expires after it.
//!
//! Kept behind this narrow API (record, page) so that the log can move to another store.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{corrupt, Result, Store};

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// `aud_<µs, 16 digits><random>`: sorts by time.
    pub id: String,
    /// When (ms since the epoch; RFC 3339 in JSON).
    #[serde(with = "hookpost_core::timestamp")]
    pub at: i64,
    /// `admin` (the admin token), `operator` (a console session opened with it), `cli`
    /// (`hookpost tenants create|key-create|key-revoke`, which talk to Redis directly).
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

/// The id bound below which entries are older than `at_ms`.
fn id_bound(at_ms: i64) -> String {
    format!("aud_{:016}", at_ms.max(0) as u64 * 1000)
}

/// The largest page.
pub const MAX_PAGE: usize = 200;
/// Most entries one page request looks through for a filter before it answers with what
/// it found and a cursor.
const MAX_SCAN: usize = 5000;

/// What a page of the log is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant: Option<String>,
    /// An action, or a prefix of actions ending before a `.` (`hook` takes `hook.*`).
    pub action: Option<String>,
}

impl AuditFilter {
    fn takes(&self, e: &AuditEntry) -> bool {
        self.action.as_deref().is_none_or(|a| {
            e.action == a
                || e.action
                    .strip_prefix(a)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    }
}

impl Store {
    /// Writes `entry` to its tenant's log and to the cross-tenant one; an error means
    /// the action must not go ahead.
    pub async fn audit(&self, entry: &AuditEntry, retention: Duration) -> Result<()> {
        let json = serde_json::to_string(entry).expect("an audit entry serialises");
        let member = format!("{}\t{json}", entry.id);
        let cutoff = format!("({}", id_bound(entry.at - retention.as_millis() as i64));
        let ttl = retention.as_secs().max(1);
        let mut keys = vec![self.keys.audit_all()];
        if let Some(t) = &entry.tenant {
            keys.push(self.keys.audit(t));
        }
        for key in keys {
            let _: () = self
                .scripts
                .audit_write
                .key(key)
                .arg(&member)
                .arg(&cutoff)
                .arg(ttl)
                .invoke_async(&mut self.conn())
                .await?;
        }
        Ok(())
    }

    /// A page of the log, newest first, after `cursor` (an entry id); the cursor of the
    /// next page when there may be more.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<AuditEntry>, Option<String>)> {
        let key = match &filter.tenant {
            Some(t) => self.keys.audit(t),
            None => self.keys.audit_all(),
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let mut max = cursor.map_or_else(|| "+".to_owned(), |c| format!("({c}"));
        let mut page = Vec::new();
        let mut scanned = 0;
        loop {
            let batch = (limit - page.len()).max(50);
            let members: Vec<String> = redis::cmd("ZREVRANGEBYLEX")
                .arg(&key)
                .arg(&max)
                .arg("-")
                .arg("LIMIT")
                .arg(0)
                .arg(batch)
                .query_async(&mut self.conn())
                .await?;
            let exhausted = members.len() < batch;
            for m in &members {
                let (id, json) = m
                    .split_once('\t')
                    .ok_or_else(|| corrupt("audit entry", "no id"))?;
                scanned += 1;
                max = format!("({id}");
                let entry: AuditEntry =
                    serde_json::from_str(json).map_err(|e| corrupt("audit entry", e))?;
                if filter.takes(&entry) {
                    page.push(entry);
                    if page.len() == limit {
                        return Ok((page, Some(id.to_owned())));
                    }
                }
            }
            if exhausted {
                return Ok((page, None));
            }
            if scanned >= MAX_SCAN {
                // Looked far enough for one request: the caller continues from here.
                return Ok((page, Some(max[1..].to_owned())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_sort_by_time_also_within_one_millisecond() {
        let now = hookpost_core::now_ms();
        let ids: Vec<String> = (0..100).map(|_| entry_id(now)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(id_bound(now - 1) < ids[0] && ids[99] < id_bound(now + 1000));
        assert_eq!(ids[0].len(), "aud_".len() + 16 + 6);
    }

    #[test]
    fn an_action_filter_takes_the_action_and_its_sub_actions() {
        let f = AuditFilter {
            tenant: None,
            action: Some("hook.secret".into()),
        };
        let e = |a: &str| AuditEntry::now("admin", a, None);
        assert!(f.takes(&e("hook.secret")));
        assert!(f.takes(&e("hook.secret.read")));
        assert!(!f.takes(&e("hook.secrets")));
        assert!(!f.takes(&e("hook.create")));
    }
}
