//! The console's one stylesheet and one script, compiled into the binary and served with
//! a long cache lifetime: their URLs carry a hash of their content, so a new build gets
//! new URLs.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::PageError;

pub const CSS: &str = include_str!("../assets/console.css");
pub const JS: &str = include_str!("../assets/console.js");

/// FNV-1a of both files: changes whenever either does.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in CSS.bytes().chain(JS.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
});

/// The URL of an asset, with its version.
pub fn url(file: &str) -> String {
    format!("/console/assets/{file}?v={}", *VERSION)
}

/// `GET /console/assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return PageError::not_found("file").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
