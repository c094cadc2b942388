//! The API's errors: each maps to a status and the JSON body
//! `{"error": {"code": "...", "message": "..."}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("missing or invalid API key")]
    Unauthorized,
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
    AuditUnavailable,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(..) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(..) => StatusCode::CONFLICT,
            ApiError::Unprocessable(..) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BrokerUnavailable(_)
            | ApiError::StoreUnavailable(_)
            | ApiError::KeyspaceMissing
            | ApiError::SecretsUnreadable
            | ApiError::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(code, _)
            | ApiError::Conflict(code, _)
            | ApiError::Unprocessable(code, _)
            | ApiError::TooManyRequests(code, ..) => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge(_) => "too_large",
            ApiError::BrokerUnavailable(_) => "broker_unavailable",
            ApiError::StoreUnavailable(_) => "store_unavailable",
            ApiError::KeyspaceMissing => "keyspace_missing",
            ApiError::SecretsUnreadable => "secrets_unreadable",
            ApiError::AuditUnavailable => "audit_unavailable",
        }
    }

    pub fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest("invalid_field", format!("`{field}` {message}"))
    }
}

impl From<hookpost_store::StoreError> for ApiError {
    fn from(e: hookpost_store::StoreError) -> Self {
        match e {
            hookpost_store::StoreError::Secrets(why) => {
                tracing::error!(error = %why, "hook secrets unreadable");
                ApiError::SecretsUnreadable
            }
            e => ApiError::StoreUnavailable(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::StoreUnavailable(e) = &self {
            tracing::warn!(error = %e, "store unavailable");
        }
        let body =
            serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let ApiError::TooManyRequests(_, _, secs) = &self {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, (*secs).into());
        }
        response
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1: a client that waits that
/// long conforms.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_rate_limited_answer_is_429_with_retry_after_rounded_up() {
        let limited = |ms| {
            let secs = retry_after_secs(Duration::from_millis(ms));
            ApiError::TooManyRequests("rate_limited", String::new(), secs).into_response()
        };
        let response = limited(1_200);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(limited(3).headers()["retry-after"], "1");
    }
}
