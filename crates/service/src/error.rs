//! What an operation refuses or cannot do. Each error has a stable `code` and the HTTP
//! status it stands for; the API answers `{"error": {"code", "message"}}` with them,
//! the console a page with the message.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("{1}")]
    Forbidden(&'static str, String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("{1}")]
    Unprocessable(&'static str, String),
    /// 429 with `Retry-After` of so many seconds.
    #[error("{1}")]
    TooManyRequests(&'static str, String, u64),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the message broker is unavailable; nothing was accepted: {0}")]
    BrokerUnavailable(String),
    #[error("{}", crate::KEYSPACE_MISSING)]
    KeyspaceMissing,
    #[error("the store is unavailable; nothing was changed")]
    StoreUnavailable(#[source] hookpost_store::StoreError),
    /// A hook's secrets do not decrypt (a key missing from HOOKPOST_SECRET_KEY, or
    /// tampering): a server fault, answered without the secret.
    #[error("a hook's secrets cannot be decrypted with HOOKPOST_SECRET_KEY; nothing was changed")]
    SecretsUnreadable,
    #[error("the audit log cannot be written; nothing was done")]
    AuditUnavailable(#[source] hookpost_db::DbError),
    #[error("the database (PostgreSQL) is unavailable; nothing was changed")]
    DatabaseUnavailable(#[source] hookpost_db::DbError),
}

impl ServiceError {
    /// The HTTP status this error stands for.
    pub fn status(&self) -> u16 {
        match self {
            ServiceError::BadRequest(..) => 400,
            ServiceError::Unauthorized => 401,
            ServiceError::Forbidden(..) => 403,
            ServiceError::NotFound(_) => 404,
            ServiceError::Conflict(..) => 409,
            ServiceError::TooLarge(_) => 413,
            ServiceError::Unprocessable(..) => 422,
            ServiceError::TooManyRequests(..) => 429,
            ServiceError::BrokerUnavailable(_)
            | ServiceError::StoreUnavailable(_)
            | ServiceError::KeyspaceMissing
            | ServiceError::SecretsUnreadable
            | ServiceError::AuditUnavailable(_)
            | ServiceError::DatabaseUnavailable(_) => 503,
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::BadRequest(code, _)
            | ServiceError::Forbidden(code, _)
            | ServiceError::Conflict(code, _)
            | ServiceError::Unprocessable(code, _)
            | ServiceError::TooManyRequests(code, ..) => code,
            ServiceError::Unauthorized => "unauthorized",
            ServiceError::NotFound(_) => "not_found",
            ServiceError::TooLarge(_) => "too_large",
            ServiceError::BrokerUnavailable(_) => "broker_unavailable",
            ServiceError::StoreUnavailable(_) => "store_unavailable",
            ServiceError::KeyspaceMissing => "keyspace_missing",
            ServiceError::SecretsUnreadable => "secrets_unreadable",
            ServiceError::AuditUnavailable(_) => "audit_unavailable",
            ServiceError::DatabaseUnavailable(_) => "database_unavailable",
        }
    }

    /// `Retry-After` in seconds, for the errors that carry one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ServiceError::TooManyRequests(_, _, secs) => Some(*secs),
            _ => None,
        }
    }

    /// 400 `missing_field`: "`field` is required".
    pub fn missing(field: &str) -> ServiceError {
        ServiceError::BadRequest("missing_field", format!("`{field}` is required"))
    }

    pub fn invalid(field: &str, message: impl std::fmt::Display) -> ServiceError {
        ServiceError::BadRequest("invalid_field", format!("`{field}` {message}"))
    }
}

impl From<hookpost_store::StoreError> for ServiceError {
    fn from(e: hookpost_store::StoreError) -> Self {
        match e {
            hookpost_store::StoreError::Secrets(why) => {
                tracing::error!(error = %why, "hook secrets unreadable");
                ServiceError::SecretsUnreadable
            }
            e => ServiceError::StoreUnavailable(e),
        }
    }
}

impl From<hookpost_db::DbError> for ServiceError {
    fn from(e: hookpost_db::DbError) -> Self {
        match e {
            hookpost_db::DbError::Store(e) => e.into(),
            e => ServiceError::DatabaseUnavailable(e),
        }
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1: a client that waits that
/// long conforms.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn each_error_has_its_status_and_code() {
        let e = ServiceError::invalid("limit", "must be 1 to 100");
        assert_eq!((e.status(), e.code()), (400, "invalid_field"));
        assert_eq!(e.to_string(), "`limit` must be 1 to 100");
        let e = ServiceError::TooManyRequests("rate_limited", String::new(), 2);
        assert_eq!((e.status(), e.retry_after()), (429, Some(2)));
        assert_eq!(ServiceError::NotFound("hook").to_string(), "hook not found");
        assert_eq!(ServiceError::Unauthorized.status(), 401);
    }
}
