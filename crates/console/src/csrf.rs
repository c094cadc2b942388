//! Cross-site request forgery: every form carries its session's token in a hidden field,
//! and every POST must come from a page of this console (`Origin`, `Sec-Fetch-Site`).

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use hookpost_ingest::auth::constant_time_eq;

use crate::error::PageError;
use crate::form::{Form, MAX_FORM_BYTES};
use crate::session::Viewer;

/// The hidden field's name.
pub const FIELD: &str = "csrf";

const REFUSED: &str = "This form's security token is missing or wrong, so nothing was \
changed (cross-site request check). Reload the page and try again.";

/// A POST of `viewer`'s: checked, then read.
pub fn posted(viewer: &Viewer, headers: &HeaderMap, body: &Bytes) -> Result<Form, PageError> {
    let form = read(headers, body)?;
    let given = form.get(FIELD).unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), viewer.session.csrf.as_bytes()) {
        return Err(PageError::forbidden(REFUSED));
    }
    Ok(form)
}

/// A POST's form once its origin is checked (the token is the caller's to check).
pub fn read(headers: &HeaderMap, body: &Bytes) -> Result<Form, PageError> {
    same_origin(headers)?;
    if body.len() > MAX_FORM_BYTES {
        return Err(PageError::Status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The form is larger than {MAX_FORM_BYTES} bytes."),
        ));
    }
    Ok(Form::parse(body))
}

/// Refuses a request a browser says came from another site. Browsers send `Origin` with
/// every POST and `Sec-Fetch-Site` with most; when present they must name this site.
pub fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Err(PageError::forbidden(REFUSED));
        }
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let host = text("x-forwarded-host").or_else(|| text(header::HOST.as_str()));
        let origin_host = url::Url::parse(origin).ok().and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        });
        match (origin_host, host) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h.trim()) => {}
            _ => return Err(PageError::forbidden(REFUSED)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_site_posts_pass_and_others_do_not() {
        let ok = [
            headers(&[("host", "127.0.0.1:8080")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
            ]),
            headers(&[
                ("host", "console.example.com"),
                ("origin", "https://console.example.com"),
                ("sec-fetch-site", "same-origin"),
            ]),
        ];
        for h in &ok {
            assert!(same_origin(h).is_ok(), "{h:?}");
        }
        let refused = [
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]),
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]),
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-site")]),
        ];
        for h in &refused {
            assert!(same_origin(h).is_err(), "{h:?}");
        }
    }
}
