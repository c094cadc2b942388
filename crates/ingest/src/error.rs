//! The API's errors: a [`ServiceError`] answered with its status and the JSON body
//! `{"error": {"code": "...", "message": "..."}}` (and `Retry-After` on a 429).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use hookpost_service::error::retry_after_secs;
pub use hookpost_service::ServiceError;

/// A [`ServiceError`] as an HTTP answer: what every handler returns on failure.
#[derive(Debug)]
pub struct HttpError(pub ServiceError);

impl From<ServiceError> for HttpError {
    fn from(e: ServiceError) -> Self {
        HttpError(e)
    }
}

impl From<hookpost_store::StoreError> for HttpError {
    fn from(e: hookpost_store::StoreError) -> Self {
        HttpError(e.into())
    }
}

impl From<hookpost_db::DbError> for HttpError {
    fn from(e: hookpost_db::DbError) -> Self {
        HttpError(e.into())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let e = self.0;
        if let ServiceError::StoreUnavailable(cause) = &e {
            tracing::warn!(error = %cause, "store unavailable");
        }
        let body = serde_json::json!({ "error": { "code": e.code(), "message": e.to_string() } });
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = e.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        // The rest of a body too large was not read: the connection cannot carry another
        // request, and saying so keeps a client from sending its next one down it.
        if let ServiceError::TooLarge(_) = e {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_rate_limited_answer_is_429_with_retry_after_rounded_up() {
        let limited = |ms| {
            let secs = retry_after_secs(Duration::from_millis(ms));
            HttpError(ServiceError::TooManyRequests(
                "rate_limited",
                String::new(),
                secs,
            ))
            .into_response()
        };
        let response = limited(1_200);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "2");
        assert_eq!(limited(3).headers()["retry-after"], "1");
    }
}
