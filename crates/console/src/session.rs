//! Signing in: a tenant's API key (or the operators' admin token) is posted once and
//! exchanged for a random session id in an `HttpOnly`, `SameSite=Strict` cookie. The key
//! is never kept in the cookie, put in a URL or stored; the session (in Redis) holds who
//! signed in, the hash of the credential, and the CSRF token of its forms.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use hookpost_ingest::auth::constant_time_eq;
use hookpost_ingest::SharedState;
use hookpost_store::sessions::Session;
use hookpost_store::tenants::key_hash;
use maud::html;
use rand::RngCore;

use crate::error::PageError;
use crate::layout;

/// The session cookie.
pub const COOKIE: &str = "hookpost_session";
/// The sign-in form's own token (there is no session yet to hold one).
const SIGN_IN_COOKIE: &str = "hookpost_signin";
/// However busy, a session ends this long after sign-in.
pub const MAX_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn plausible_token(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether the request came over https (directly configured, or said by the TLS proxy).
fn secure(state: &SharedState, headers: &HeaderMap) -> bool {
    state.config.console_secure_cookie
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value; `None` clears the cookie.
fn set_cookie(name: &str, value: Option<&str>, secure: bool) -> HeaderValue {
    let mut c = match value {
        Some(v) => format!("{name}={v}; Path=/console; HttpOnly; SameSite=Strict"),
        None => format!("{name}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are URL-safe base64")
}

/// Who is looking: a signed-in session, checked on every request.
pub struct Viewer {
    pub id: String,
    pub session: Session,
    /// The client's address, for the audit log.
    pub client: Option<String>,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.session.tenant.is_none()
    }

    /// The tenant whose data the pages show: the signed-in tenant, or the one an
    /// operator picked.
    pub fn scope(&self) -> Option<&str> {
        self.session
            .tenant
            .as_deref()
            .or(self.session.acting_for.as_deref())
    }

    /// The tenant, for changes: operators look and resend, but change nothing.
    pub fn writer(&self) -> Result<&str, PageError> {
        self.session.tenant.as_deref().ok_or_else(|| {
            PageError::forbidden(
                "Operators can look at every tenant and resend deliveries; hooks are \
                 changed with the tenant's own key.",
            )
        })
    }

    /// Who signed in, for the page header.
    pub fn who(&self) -> String {
        match &self.session.tenant {
            Some(t) => t.clone(),
            None => "operator".into(),
        }
    }
}

impl FromRequestParts<SharedState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let id = cookie(&parts.headers, COOKIE)
            .filter(|id| plausible_token(id))
            .ok_or(PageError::SignIn)?
            .to_owned();
        let ttl = state.config.console_session_ttl;
        let session = state
            .store
            .session(&id, ttl)
            .await?
            .ok_or(PageError::SignIn)?;
        let fresh = hookpost_core::now_ms() - session.created_at < MAX_LIFETIME_MS;
        // A revoked key, or a changed admin token, ends the sessions it opened.
        let valid = match &session.tenant {
            Some(t) => {
                state
                    .store
                    .tenant_of_key_hash(&session.credential)
                    .await?
                    .as_deref()
                    == Some(t.as_str())
            }
            None => state.config.admin_token.as_deref().is_some_and(|token| {
                constant_time_eq(key_hash(token).as_bytes(), session.credential.as_bytes())
            }),
        };
        if !(fresh && valid) {
            state.store.delete_session(&id).await?;
            return Err(PageError::SignIn);
        }
        let client = hookpost_ingest::audit::client(&parts.extensions);
        Ok(Viewer {
            id,
            session,
            client,
        })
    }
}

/// `GET /console/sign-in`.
pub async fn sign_in_page(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    sign_in_form(&state, &headers, StatusCode::OK, None)
}

fn sign_in_form(
    state: &SharedState,
    headers: &HeaderMap,
    status: StatusCode,
    message: Option<&str>,
) -> Response {
    let token = random_token();
    let body = layout::bare(
        "Sign in",
        html! {
            div.sign-in {
                h1 { "hookpost console" }
                p { "Sign in with one of your tenant's API keys. Operators sign in with the admin token." }
                @if let Some(m) = message { p.message.error #error-message { (m) } }
                form method="post" action="/console/sign-in" {
                    input type="hidden" name=(crate::csrf::FIELD) value=(token);
                    label for="key" { "API key" }
                    input #key type="password" name="key" autocomplete="off" required autofocus;
                    button type="submit" { "Sign in" }
                }
            }
        },
    );
    let mut res = (status, body).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, Some(&token), secure(state, headers)),
    );
    res
}

/// `POST /console/sign-in`: the key for a session.
pub async fn sign_in(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = crate::csrf::read(&headers, &body)?;
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let given = form.get(crate::csrf::FIELD).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(PageError::forbidden(
            "The sign-in form expired or did not come from this console; load it again.",
        ));
    }
    let Some(key) = form.text("key") else {
        return Ok(sign_in_form(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            Some("Enter an API key."),
        ));
    };
    let is_admin = state
        .config
        .admin_token
        .as_deref()
        .is_some_and(|t| constant_time_eq(key.as_bytes(), t.as_bytes()));
    let tenant = if is_admin {
        None
    } else {
        match state.store.authenticate(key).await? {
            Some(t) => Some(t),
            None => {
                // Keys live in Redis too: a Redis that lost its data is not a wrong key.
                if !state.store.marker_present().await.unwrap_or(true) {
                    return Err(PageError::Status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        hookpost_ingest::KEYSPACE_MISSING.into(),
                    ));
                }
                return Ok(sign_in_form(
                    &state,
                    &headers,
                    StatusCode::UNAUTHORIZED,
                    Some("That key is not valid."),
                ));
            }
        }
    };
    let session = Session {
        tenant,
        credential: key_hash(key),
        csrf: random_token(),
        acting_for: None,
        created_at: hookpost_core::now_ms(),
    };
    let id = random_token();
    state
        .store
        .create_session(&id, &session, state.config.console_session_ttl)
        .await?;
    let secure = secure(&state, &headers);
    let mut res = Redirect::to("/console/hooks").into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(COOKIE, Some(&id), secure));
    h.append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, None, secure));
    Ok(res)
}

/// `POST /console/sign-out`: the session ends at once.
pub async fn sign_out(
    State(state): State<SharedState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    crate::csrf::posted(&viewer, &headers, &body)?;
    state.store.delete_session(&viewer.id).await?;
    let mut res = Redirect::to("/console/sign-in").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(COOKIE, None, secure(&state, &headers)),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; hookpost_session=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn tokens_are_random_and_plausible() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert!(plausible_token(&a) && plausible_token(&b));
        assert!(!plausible_token("short"));
    }

    #[test]
    fn cookies_are_strict_and_http_only() {
        let c = set_cookie(COOKIE, Some("x"), true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(c.contains("Path=/console"));
        assert!(!set_cookie(COOKIE, Some("x"), false)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }
}
