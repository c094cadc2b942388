//! The audit trail of operators: writing an entry before the action it records (refused
//! when it cannot be written, so that nothing happens without a trace), and reading the
//! log back.

use hookpost_db::audit::{AuditEntry, AuditFilter, MAX_PAGE};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AppState, ServiceError};

/// The request's `X-Request-Id`, when it is a plausible one.
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")?
        .to_str()
        .ok()
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
}

/// Writes `entry` with the request's details; `AuditUnavailable` when it cannot be
/// written.
pub async fn record(
    state: &AppState,
    mut entry: AuditEntry,
    headers: &HeaderMap,
    client: Option<String>,
) -> Result<(), ServiceError> {
    entry.request_id = request_id(headers);
    entry.client = client;
    state.db.audit(&entry).await.map_err(|e| {
        tracing::warn!(error = %e, action = entry.action, "an action could not be audited");
        ServiceError::AuditUnavailable(e)
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub tenant: Option<String>,
    pub action: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl AuditQuery {
    /// The cursor; an empty one, as a form sends it, is the first page.
    fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }

    /// The page size, once every field is checked.
    fn checked(&self) -> Result<usize, ServiceError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ServiceError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE}"),
            ));
        }
        if let Some(t) = &self.tenant {
            hookpost_core::event::check_tenant_id(t)
                .map_err(|m| ServiceError::invalid("tenant", m))?;
        }
        if let Some(c) = self.cursor() {
            let plausible = c.starts_with("aud_")
                && c.len() <= 64
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !plausible {
                return Err(ServiceError::invalid(
                    "cursor",
                    "is not a cursor of this list",
                ));
            }
        }
        if let Some(a) = &self.action {
            if a.is_empty() || a.len() > 64 {
                return Err(ServiceError::invalid(
                    "action",
                    "must be 1 to 64 characters",
                ));
            }
        }
        Ok(limit)
    }
}

/// The audit log, newest first, as `{entries, next_cursor}`.
pub async fn list(state: &AppState, q: AuditQuery) -> Result<Value, ServiceError> {
    let limit = q.checked()?;
    let filter = AuditFilter {
        tenant: q.tenant.clone(),
        action: q.action.clone(),
    };
    let (entries, next) = state.db.audit_page(&filter, limit, q.cursor()).await?;
    Ok(json!({ "entries": entries, "next_cursor": next }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(v: Value) -> AuditQuery {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_audit_query_is_checked_before_the_store_is_asked() {
        assert_eq!(query(json!({})).checked().unwrap(), 50);
        for (bad, field) in [
            (json!({ "limit": 0 }), "limit"),
            (json!({ "limit": MAX_PAGE + 1 }), "limit"),
            (json!({ "tenant": "acme}:x" }), "tenant"),
            (json!({ "cursor": "aud_1:x" }), "cursor"),
            (json!({ "cursor": "hook_1" }), "cursor"),
            (json!({ "action": "" }), "action"),
        ] {
            let e = query(bad.clone()).checked().unwrap_err();
            assert_eq!(e.code(), "invalid_field", "{bad}");
            assert!(e.to_string().starts_with(&format!("`{field}`")), "{e}");
        }
    }

    #[test]
    fn only_a_plausible_request_id_is_recorded() {
        let mut h = HeaderMap::new();
        assert_eq!(request_id(&h), None);
        h.insert("x-request-id", "req-1".parse().unwrap());
        assert_eq!(request_id(&h).as_deref(), Some("req-1"));
        h.insert("x-request-id", "a b".parse().unwrap());
        assert_eq!(request_id(&h), None);
        h.insert("x-request-id", "x".repeat(129).parse().unwrap());
        assert_eq!(request_id(&h), None);
    }
}
