//! Reading JSON request bodies with the API's own errors (400 with the JSON error body,
//! 413 over the limit) instead of the framework's plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use hookpost_service::ServiceError;

/// The raw body, or 413 when it is over `limit`.
pub fn bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ServiceError> {
    match body {
        Ok(b) => Ok(b),
        Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ServiceError::TooLarge(limit)),
        Err(r) => Err(ServiceError::BadRequest("invalid_body", r.body_text())),
    }
}

/// Parses a JSON body into `T`, naming what is wrong.
pub fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ServiceError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if !inner.is_data() {
            ServiceError::BadRequest(
                "invalid_json",
                format!("the body is not valid JSON: {inner}"),
            )
        } else if path == "." {
            ServiceError::BadRequest("invalid_field", inner.to_string())
        } else {
            ServiceError::BadRequest("invalid_field", format!("`{path}`: {inner}"))
        }
    })
}

/// Parses an optional JSON body: empty (or only white space) is `T::default()`.
pub fn optional_json<T: DeserializeOwned + Default>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<T, ServiceError> {
    let bytes = bytes(body, limit)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        json(&bytes)
    }
}
