//! Signing in: a tenant's API key (or the operators' admin token) is posted once and
//! exchanged for a random session id in an `HttpOnly`, `SameSite=Strict` cookie. The key
//! is never kept in the cookie, put in a URL or stored; the session (in Redis) holds who
//! signed in, a digest of the credential (a tenant key's hash, or the admin token's HMAC
//! under the server key), and the CSRF token of its forms.
//!
//! Cookies are `Secure`, with the `__Host-` prefix (`Path=/`, no `Domain`: no other host
//! or path can set or shadow them), except for a console reached on a loopback host over
//! plain HTTP, the dev setup, whose cookies are neither.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hookpost_core::ids::url_token;
use hookpost_service::auth::constant_time_eq;
use hookpost_service::{client, throttle, SharedState};
use hookpost_store::sessions::{Portal, Session};
use hookpost_store::tenants::key_hash;
use maud::html;

use crate::error::PageError;
use crate::layout;

/// The session cookie (`__Host-hookpost_session` when `Secure`).
pub const COOKIE: &str = "hookpost_session";
/// The sign-in form's own token (there is no session yet to hold one).
const SIGN_IN_COOKIE: &str = "hookpost_signin";
/// However busy, a session ends this long after sign-in.
pub const MAX_LIFETIME_MS: i64 = 24 * 3600 * 1000;

fn plausible_token(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The prefix browsers keep for cookies that are `Secure`, `Path=/` and host-only.
const HOST_PREFIX: &str = "__Host-";

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

/// How this request's cookies are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CookieMode {
    /// `Secure`, with the `__Host-` prefix.
    secure: bool,
    /// The console may be framed (`HOOKPOST_CONSOLE_FRAME_ANCESTORS`): cookies must
    /// reach it inside another site's page, so `SameSite=None; Secure; Partitioned`.
    framed: bool,
}

/// This request's [`CookieMode`]. Cookies are `Secure` always with
/// `HOOKPOST_CONSOLE_SECURE_COOKIE` or framing, or when a trusted proxy says https;
/// otherwise unless the host asked for is loopback (`localhost`, `127.0.0.0/8`,
/// `[::1]`), where a dev console runs over plain HTTP. A request without a host counts
/// as not loopback.
fn mode(state: &SharedState, headers: &HeaderMap) -> CookieMode {
    let trust = state.config.trust_proxy;
    let framed = !state.config.console_frame_ancestors.is_empty();
    CookieMode {
        secure: framed
            || state.config.console_secure_cookie
            || client::forwarded_https(headers, trust)
            || !crate::csrf::request_host(headers, trust).is_some_and(loopback_host),
        framed,
    }
}

/// `host` or `host:port` names this machine's loopback.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The cookie's name as set and read: `Secure` cookies carry the `__Host-` prefix.
fn cookie_name(base: &str, secure: bool) -> String {
    if secure {
        format!("{HOST_PREFIX}{base}")
    } else {
        base.to_owned()
    }
}

/// A `Set-Cookie` value; `None` clears the cookie.
fn set_cookie(base: &str, value: Option<&str>, mode: CookieMode) -> HeaderValue {
    let name = cookie_name(base, mode.secure);
    // `__Host-` requires `Path=/`; the plain dev cookie stays on the console's paths.
    let path = if mode.secure { "/" } else { "/console" };
    let same_site = if mode.framed { "None" } else { "Strict" };
    let mut c = match value {
        Some(v) => format!("{name}={v}; Path={path}; HttpOnly; SameSite={same_site}"),
        None => format!("{name}=; Path={path}; HttpOnly; SameSite={same_site}; Max-Age=0"),
    };
    if mode.secure {
        c.push_str("; Secure");
    }
    if mode.framed {
        c.push_str("; Partitioned");
    }
    HeaderValue::from_str(&c).expect("cookie values are URL-safe base64")
}

/// Who is looking: a signed-in session, checked on every request.
pub struct Viewer {
    pub id: String,
    pub session: Session,
    /// `HOOKPOST_TRUST_PROXY`, for the Origin check of its forms.
    pub trust_proxy: bool,
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

    /// A session a read-only portal link opened: it looks, and changes nothing.
    pub fn read_only(&self) -> bool {
        self.session.portal.as_ref().is_some_and(|p| p.read_only)
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
        let name = cookie_name(COOKIE, mode(state, &parts.headers).secure);
        let id = cookie(&parts.headers, &name)
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
        let valid = match (&session.portal, &session.tenant) {
            // A portal session lasts until its link's end, while its tenant exists.
            (
                Some(Portal {
                    tenant, expires_at, ..
                }),
                _,
            ) => {
                hookpost_core::now_ms() < *expires_at && state.store.tenant(tenant).await?.is_some()
            }
            (None, Some(t)) => {
                state
                    .store
                    .tenant_of_key_hash(&session.credential)
                    .await?
                    .as_deref()
                    == Some(t.as_str())
            }
            (None, None) => state
                .admin
                .session_credential()
                .is_some_and(|c| constant_time_eq(c.as_bytes(), session.credential.as_bytes())),
        };
        if !(fresh && valid) {
            state.store.delete_session(&id).await?;
            return Err(PageError::SignIn);
        }
        let client = client_address(&parts.headers, &parts.extensions, state.config.trust_proxy)
            .map(|ip| ip.to_string());
        Ok(Viewer {
            id,
            session,
            trust_proxy: state.config.trust_proxy,
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
    let token = url_token();
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
        set_cookie(SIGN_IN_COOKIE, Some(&token), mode(state, headers)),
    );
    res
}

/// `POST /console/sign-in`: the key for a session.
pub async fn sign_in(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = crate::csrf::read(&headers, &body, state.config.trust_proxy)?;
    let pre = cookie_name(SIGN_IN_COOKIE, mode(&state, &headers).secure);
    let expected = cookie(&headers, &pre).unwrap_or_default();
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
    let admin = state
        .admin
        .matches(key)
        .then(|| state.admin.session_credential())
        .flatten();
    let tenant = if admin.is_some() {
        None
    } else {
        match state.store.authenticate(key).await? {
            Some(t) => Some(t),
            None => {
                // Keys live in Redis too: a Redis that lost its data is not a wrong key.
                if !state.store.marker_present().await.unwrap_or(true) {
                    return Err(PageError::Status(
                        StatusCode::SERVICE_UNAVAILABLE,
                        hookpost_service::KEYSPACE_MISSING.into(),
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
        credential: admin.unwrap_or_else(|| key_hash(key)),
        csrf: url_token(),
        acting_for: None,
        created_at: hookpost_core::now_ms(),
        portal: None,
    };
    start_session(&state, &headers, &session).await
}

/// Stores `session` under a new id, and sends the browser to the console with its cookie.
async fn start_session(
    state: &SharedState,
    headers: &HeaderMap,
    session: &Session,
) -> Result<Response, PageError> {
    let id = url_token();
    state
        .store
        .create_session(&id, session, state.config.console_session_ttl)
        .await?;
    let mode = mode(state, headers);
    let mut res = Redirect::to("/console/hooks").into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, set_cookie(COOKIE, Some(&id), mode));
    h.append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, None, mode));
    Ok(res)
}

/// `GET /console/portal/{token}`: a portal link (`POST /v1/tenants/{id}/portal-links`)
/// signs its holder in to its tenant's console until the link's end, once: a second
/// use, or a use after that end, finds nothing.
pub async fn portal(
    State(state): State<SharedState>,
    headers: HeaderMap,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, PageError> {
    let gone = || {
        PageError::Status(
            StatusCode::GONE,
            "This sign-in link was used already or has expired. Ask for a new one.".into(),
        )
    };
    if !plausible_token(&token) {
        return Err(gone());
    }
    let grant = state
        .store
        .take_portal_link(&token)
        .await?
        .ok_or_else(gone)?;
    let now = hookpost_core::now_ms();
    if grant.expires_at <= now {
        return Err(gone());
    }
    let session = Session {
        tenant: Some(grant.tenant.clone()),
        credential: String::new(),
        csrf: url_token(),
        acting_for: None,
        created_at: now,
        portal: Some(grant),
    };
    start_session(&state, &headers, &session).await
}

/// Failed sign-ins per client address, as for the API (see [`throttle`]), answered
/// with a page.
pub async fn throttle_sign_in(
    State(state): State<SharedState>,
    req: Request,
    next: Next,
) -> Response {
    let client = client::bucket(client_address(
        req.headers(),
        req.extensions(),
        state.config.trust_proxy,
    ));
    throttle::attempt(
        &state.throttle,
        &state.store,
        &state.metrics,
        "console",
        &client,
        next.run(req),
        |wait| {
            PageError::Status(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed sign-ins from this address. Try again in {} s.",
                    hookpost_service::error::retry_after_secs(wait)
                ),
            )
            .into_response()
        },
    )
    .await
}

/// The client's address (see `hookpost_service::client`): the TCP peer the server
/// recorded, or the trusted proxy's word for it.
fn client_address(
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    trust_proxy: bool,
) -> Option<std::net::IpAddr> {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    client::address(headers, peer, trust_proxy)
}

/// `POST /console/sign-out`: the session ends at once.
pub async fn sign_out(
    State(state): State<SharedState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    crate::csrf::session_form(&viewer, &headers, &body)?;
    state.store.delete_session(&viewer.id).await?;
    let mut res = Redirect::to("/console/sign-in").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(COOKIE, None, mode(&state, &headers)),
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
        let (a, b) = (url_token(), url_token());
        assert_ne!(a, b);
        assert!(plausible_token(&a) && plausible_token(&b));
        assert!(!plausible_token("short"));
    }

    #[test]
    fn cookies_are_strict_and_http_only_and_secure_ones_carry_the_host_prefix() {
        let secure = CookieMode {
            secure: true,
            framed: false,
        };
        let c = set_cookie(COOKIE, Some("x"), secure);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(c.starts_with("__Host-hookpost_session=x; Path=/;"), "{c}");
        assert!(!c.contains("Domain"));
        let plain = set_cookie(
            COOKIE,
            Some("x"),
            CookieMode {
                secure: false,
                framed: false,
            },
        );
        let plain = plain.to_str().unwrap();
        assert!(
            plain.starts_with("hookpost_session=x; Path=/console;"),
            "{plain}"
        );
        assert!(!plain.contains("Secure") && !plain.contains("Partitioned"));
        let framed = set_cookie(
            COOKIE,
            Some("x"),
            CookieMode {
                secure: true,
                framed: true,
            },
        );
        let framed = framed.to_str().unwrap();
        assert!(
            framed.starts_with("__Host-hookpost_session=x; Path=/;")
                && framed.contains("SameSite=None")
                && framed.contains("; Secure")
                && framed.contains("; Partitioned"),
            "{framed}"
        );
    }

    #[test]
    fn loopback_hosts_are_told_from_others() {
        for h in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:8080",
            "127.9.9.9",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "example.com",
            "example.com:8080",
            "10.0.0.1:80",
            "[2001:db8::1]:80",
            "localhost.evil.example",
            "",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
    }
}
