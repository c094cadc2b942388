//! What a page answers when something is wrong: a 4xx page with a message that says
//! what, never a 500; or, without a session, the way to the sign-in page.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hookpost_service::ServiceError;

#[derive(Debug)]
pub enum PageError {
    /// No session (or it ended): sign in first.
    SignIn,
    /// A page saying `message`, answered with `status`.
    Status(StatusCode, String),
}

impl PageError {
    pub fn not_found(what: &str) -> PageError {
        PageError::Status(StatusCode::NOT_FOUND, format!("No such {what}."))
    }

    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::Status(StatusCode::BAD_REQUEST, message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> PageError {
        PageError::Status(StatusCode::FORBIDDEN, message.into())
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        match &e {
            ServiceError::StoreUnavailable(cause) => {
                tracing::warn!(error = %cause, "console: store unavailable")
            }
            ServiceError::DatabaseUnavailable(cause) => {
                tracing::warn!(error = %cause, "console: database unavailable")
            }
            _ => {}
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        PageError::Status(status, e.to_string())
    }
}

impl From<hookpost_store::StoreError> for PageError {
    fn from(e: hookpost_store::StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<hookpost_db::DbError> for PageError {
    fn from(e: hookpost_db::DbError) -> Self {
        ServiceError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn => Redirect::to("/console/sign-in").into_response(),
            PageError::Status(status, message) => {
                let title = status.canonical_reason().unwrap_or("Error");
                let body = crate::layout::bare(
                    title,
                    maud::html! {
                        h1 { (title) }
                        p.message #error-message { (message) }
                        p { a href="/console/hooks" { "Back to the console" } }
                    },
                );
                (status, body).into_response()
            }
        }
    }
}
