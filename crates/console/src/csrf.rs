//! Cross-site request forgery: every form carries its session's token in a hidden field,
//! and every POST must come from a page of this console (`Origin`, `Sec-Fetch-Site`).

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use hookpost_service::auth::constant_time_eq;

use crate::error::PageError;
use crate::form::{Form, MAX_FORM_BYTES};
use crate::session::Viewer;

/// The hidden field's name.
pub const FIELD: &str = "csrf";

const REFUSED: &str = "This form's security token is missing or wrong, so nothing was \
changed (cross-site request check). Reload the page and try again.";

/// A POST of `viewer`'s: checked, then read.
pub fn posted(viewer: &Viewer, headers: &HeaderMap, body: &Bytes) -> Result<Form, PageError> {
    let form = session_form(viewer, headers, body)?;
    if viewer.read_only() {
        return Err(PageError::forbidden(
            "This console was opened with a read-only link: it shows, and changes nothing.",
        ));
    }
    Ok(form)
}

/// A POST of `viewer`'s session, checked (origin and token) and read, whether or not
/// the session may change anything: signing out, say.
pub fn session_form(viewer: &Viewer, headers: &HeaderMap, body: &Bytes) -> Result<Form, PageError> {
    let form = read(headers, body, viewer.trust_proxy)?;
    let given = form.get(FIELD).unwrap_or_default();
    if !constant_time_eq(given.as_bytes(), viewer.session.csrf.as_bytes()) {
        return Err(PageError::forbidden(REFUSED));
    }
    Ok(form)
}

/// A POST's form once its origin is checked (the token is the caller's to check).
pub fn read(headers: &HeaderMap, body: &Bytes, trust_proxy: bool) -> Result<Form, PageError> {
    same_origin(headers, trust_proxy)?;
    if body.len() > MAX_FORM_BYTES {
        return Err(PageError::Status(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The form is larger than {MAX_FORM_BYTES} bytes."),
        ));
    }
    Ok(Form::parse(body))
}

pub use hookpost_service::client::request_host;

/// Refuses a request a browser says came from another site. Browsers send `Origin` with
/// every POST and `Sec-Fetch-Site` with most; when present they must name this site.
pub fn same_origin(headers: &HeaderMap, trust_proxy: bool) -> Result<(), PageError> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Err(PageError::forbidden(REFUSED));
        }
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let host = request_host(headers, trust_proxy);
        let origin_host = url::Url::parse(origin).ok().and_then(|u| {
            let host = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            })
        });
        match (origin_host, host) {
            (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => {}
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
            assert!(same_origin(h, false).is_ok(), "{h:?}");
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
            assert!(same_origin(h, false).is_err(), "{h:?}");
        }
    }

    #[test]
    fn x_forwarded_host_counts_only_behind_a_trusted_proxy() {
        let forged = headers(&[
            ("host", "console.example.com"),
            ("origin", "https://evil.example"),
            ("x-forwarded-host", "evil.example"),
        ]);
        assert!(same_origin(&forged, false).is_err());
        assert!(same_origin(&forged, true).is_ok());
        let proxied = headers(&[
            ("host", "10.0.0.5:8080"),
            ("origin", "https://console.example.com"),
            ("x-forwarded-host", "console.example.com"),
        ]);
        assert!(same_origin(&proxied, true).is_ok());
        assert!(same_origin(&proxied, false).is_err());
    }
}
