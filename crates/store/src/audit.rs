//! The audit log as hookpost kept it in Redis before PostgreSQL held it
//! (`hookpost_db::audit`): read once, by the migration that copies it over.
//!
//! `P:{audit}:entries` is a sorted set of every tenant's entries, each member
//! `<entry id>\t<entry JSON>`, all scoring 0.

use crate::{corrupt, Result, Store};

impl Store {
    /// Every entry's JSON in the Redis audit log of before, oldest first.
    pub async fn legacy_audit_entries(&self) -> Result<Vec<String>> {
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.audit_all())
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn())
            .await?;
        members
            .into_iter()
            .map(|m| match m.split_once('\t') {
                Some((_, json)) => Ok(json.to_owned()),
                None => Err(corrupt("audit entry", "no id")),
            })
            .collect()
    }
}
