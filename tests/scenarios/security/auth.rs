//! Security scenarios: auth. Guessing credentials is throttled per client address, a
//! weak admin token stops hookpost from starting, console cookies are `Secure` with the
//! `__Host-` prefix off loopback, `X-Forwarded-*` headers count only behind a trusted
//! proxy, and an operator's session holds no unsalted hash of the admin token.

use std::net::IpAddr;
use std::time::Duration;

use hookpost::Roles;
use hookpost_tests::app::{ADMIN_TOKEN, SECRET_KEY};
use hookpost_tests::console::{csrf_of, ConsoleClient};
use hookpost_tests::{TestApp, TestOptions};
use serde_json::Value;

/// `HOOKPOST_AUTH_FAILURE_LIMIT`'s default.
const LIMIT: usize = 10;

/// A client whose connections come from `local` (another loopback address is another
/// client to the server), following no redirects.
fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Asserts a throttled answer: 429, a `Retry-After` within the window, the code.
async fn assert_throttled(r: reqwest::Response) {
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_failures", "{body}");
}

/// The API answered by the extra role set `i` of `app`.
fn other_base(app: &TestApp, i: usize) -> String {
    format!("http://{}", app.others[i].http_addr.unwrap())
}

#[tokio::test]
async fn guessing_the_admin_token_is_throttled_per_address_even_for_the_right_token() {
    let mut app = TestApp::spawn(TestOptions::default()).await;
    let attacker = client_from("127.0.0.1");
    let guess = |token: String| {
        attacker
            .get(app.url("/v1/tenants"))
            .bearer_auth(token)
            .send()
    };
    for i in 0..LIMIT {
        let r = guess(format!("guess-{i}-{}", "x".repeat(30)))
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "guess {i}");
    }
    // Past the limit even the right token waits: the answer tells nothing.
    assert_throttled(guess(ADMIN_TOKEN.into()).await.unwrap()).await;
    assert_throttled(guess("another guess".into()).await.unwrap()).await;
    // Acting for a tenant with the admin token is the same door.
    let r = attacker
        .get(app.url("/v1/hooks"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-hookpost-tenant", "acme")
        .send()
        .await
        .unwrap();
    assert_throttled(r).await;

    // Another address is not affected.
    let operator = client_from("127.0.0.2");
    let r = operator
        .get(app.url("/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The count is shared in Redis: another ingest replica answers the next guess from
    // that address with 429, and from then on refuses it at once.
    let i = app.start_more(Roles::INGEST, None).await;
    let replica = other_base(&app, i);
    let r = attacker
        .get(format!("{replica}/v1/tenants"))
        .bearer_auth("yet-another-guess")
        .send()
        .await
        .unwrap();
    assert_throttled(r).await;
    let r = attacker
        .get(format!("{replica}/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_throttled(r).await;

    let refused = app
        .metric(r#"hookpost_auth_failures_total{answer="refused",surface="api"}"#)
        .await;
    let throttled = app
        .metric(r#"hookpost_auth_failures_total{answer="throttled",surface="api"}"#)
        .await;
    assert_eq!(refused, LIMIT as f64);
    assert_eq!(throttled, 3.0);
    app.finish().await;
}

#[tokio::test]
async fn guessing_tenant_keys_is_throttled_and_forwarded_addresses_count_only_behind_a_trusted_proxy(
) {
    let mut app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let http = client_from("127.0.0.1");

    // Without HOOKPOST_TRUST_PROXY, a new X-Forwarded-For per guess escapes nothing:
    // the peer address is counted.
    for i in 0..LIMIT {
        let r = http
            .get(app.url("/v1/hooks"))
            .bearer_auth(format!("hp_guess_{i}"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "guess {i}");
    }
    let r = http
        .get(app.url("/v1/hooks"))
        .bearer_auth(&key)
        .header("x-forwarded-for", "198.51.100.200")
        .send()
        .await
        .unwrap();
    assert_throttled(r).await;

    // Behind a trusted proxy the address it appended (the last entry) is the client's;
    // entries the client wrote before it change nothing.
    let trusted = hookpost_core::Config {
        trust_proxy: true,
        ..app.config.clone()
    };
    let i = app.start_more(Roles::INGEST, Some(trusted)).await;
    let proxied = other_base(&app, i);
    let from = |xff: &str| {
        http.get(format!("{proxied}/v1/hooks"))
            .header("x-forwarded-for", xff)
    };
    for i in 0..LIMIT {
        let xff = format!("198.51.100.{i}, 203.0.113.9");
        let r = from(&xff)
            .bearer_auth(format!("hp_guess_{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "guess {i}");
    }
    let r = from("203.0.113.9").bearer_auth(&key).send().await.unwrap();
    assert_throttled(r).await;
    let r = from("203.0.113.10").bearer_auth(&key).send().await.unwrap();
    assert_eq!(r.status(), 200, "another client behind the proxy");
    app.finish().await;
}

/// The sign-in form's token and its cookie (`name=value`), fetched as `http` with `host`.
async fn sign_in_form(http: &reqwest::Client, url: &str, host: Option<&str>) -> (String, String) {
    let mut req = http.get(url);
    if let Some(h) = host {
        req = req.header("host", h);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = csrf_of(&r.text().await.unwrap()).unwrap();
    (token, cookie)
}

/// POSTs the sign-in form with `key`.
async fn post_sign_in(
    http: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    token: &str,
    key: &str,
) -> reqwest::Response {
    let mut req = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("csrf", token)
                .append_pair("key", key)
                .finish(),
        );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap()
}

#[tokio::test]
async fn guessing_console_keys_is_throttled_per_address() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let url = app.url("/console/sign-in");
    let attacker = client_from("127.0.0.1");
    let (token, cookie) = sign_in_form(&attacker, &url, None).await;
    let headers = [("cookie", pair(&cookie)), ("origin", app.base.as_str())];
    for i in 0..LIMIT {
        let r = post_sign_in(&attacker, &url, &headers, &token, &format!("hp_{i}")).await;
        assert_eq!(r.status(), 401, "guess {i}");
    }
    let r = post_sign_in(&attacker, &url, &headers, &token, &key).await;
    assert_eq!(r.status(), 429, "the right key waits too");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert!(r.headers().get("set-cookie").is_none(), "no session");
    assert!(r.text().await.unwrap().contains("Too many failed sign-ins"));

    let other = client_from("127.0.0.2");
    let (token, cookie) = sign_in_form(&other, &url, None).await;
    let headers = [("cookie", pair(&cookie)), ("origin", app.base.as_str())];
    let r = post_sign_in(&other, &url, &headers, &token, &key).await;
    assert_eq!(r.status(), 303, "another address signs in");
    let throttled = app
        .metric(r#"hookpost_auth_failures_total{answer="throttled",surface="console"}"#)
        .await;
    assert_eq!(throttled, 1.0);
    app.finish().await;
}

#[tokio::test]
async fn a_short_placeholder_or_repetitive_admin_token_stops_hookpost_from_starting() {
    let a32 = "a".repeat(32);
    for token in [
        "short",
        "change-me",
        "Change-Me-Change-Me-Change-Me-Change-Me",
        &a32,
    ] {
        let out = tokio::process::Command::new(crate::HOOKPOST)
            .arg("ingest")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOOKPOST_ADMIN_TOKEN", token)
            .env("HOOKPOST_SECRET_KEY", SECRET_KEY)
            .env("HOOKPOST_HTTP_ADDR", "127.0.0.1:0")
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(30), out)
            .await
            .expect("exits at once")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{token}: started");
        assert!(
            stderr.contains("HOOKPOST_ADMIN_TOKEN") && stderr.contains("head -c 32 /dev/urandom"),
            "{token}: {stderr}"
        );
    }
    // A configuration built in code is checked too, before anything is opened.
    let config = hookpost_core::Config {
        admin_token: Some("test-admin-token".into()),
        ..TestApp::config(&TestOptions::default(), "unused")
    };
    let started = hookpost::start(
        config,
        Roles::SCHEDULER,
        None,
        None,
        tokio_util::sync::CancellationToken::new(),
    )
    .await;
    let err = started.err().expect("refused");
    assert!(err.to_string().contains("HOOKPOST_ADMIN_TOKEN"), "{err}");
}

#[tokio::test]
async fn console_cookies_are_secure_with_the_host_prefix_except_on_loopback() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let url = app.url("/console/sign-in");
    let http = client_from("127.0.0.1");

    // On loopback over plain HTTP (the dev console): plain names, not Secure.
    let (_, cookie) = sign_in_form(&http, &url, None).await;
    assert!(cookie.starts_with("hookpost_signin="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");

    // Any other host: Secure, `__Host-`, Path=/, no Domain. Headers a proxy would send
    // change nothing without HOOKPOST_TRUST_PROXY.
    let host = "console.example.com";
    let mut req = http.get(&url).header("host", host);
    for (k, v) in [
        ("x-forwarded-proto", "http"),
        ("x-forwarded-host", "localhost"),
    ] {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token = csrf_of(&r.text().await.unwrap()).unwrap();
    assert!(cookie.starts_with("__Host-hookpost_signin="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/;") && !cookie.contains("Domain"),
        "{cookie}"
    );
    let headers = [
        ("host", host),
        ("origin", "https://console.example.com"),
        ("cookie", pair(&cookie)),
    ];
    let r = post_sign_in(&http, &url, &headers, &token, &key).await;
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-hookpost_session="))
        .expect("a prefixed session cookie");
    assert!(session.contains("; Secure") && session.contains("Path=/;"));

    // The session opens pages under its prefixed name only: the same id in an
    // unprefixed cookie (which a sibling subdomain could have set) does not.
    let id = pair(&session).split_once('=').unwrap().1.to_owned();
    let page = |cookie: String| {
        http.get(app.url("/console/hooks"))
            .header("host", host)
            .header("cookie", cookie)
            .send()
    };
    let r = page(format!("__Host-hookpost_session={id}")).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = page(format!("hookpost_session={id}")).await.unwrap();
    assert_eq!(r.status(), 303, "the unprefixed cookie is ignored");
    app.finish().await;
}

#[tokio::test]
async fn a_cross_site_post_with_a_forged_x_forwarded_host_is_refused() {
    let mut app = TestApp::spawn(TestOptions::default()).await;
    let key = app.tenant("acme").await;
    let acme = ConsoleClient::sign_in(&app, &key).await;
    let http = client_from("127.0.0.1");
    let forged = [
        ("origin", "https://evil.example"),
        ("x-forwarded-host", "evil.example"),
    ];

    // Signing out a victim from another site: refused, the session stays.
    let mut req = http
        .post(app.url("/console/sign-out"))
        .header("cookie", &acme.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}", acme.csrf));
    for (k, v) in forged {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 403);
    assert_eq!(acme.get("/console/hooks").await.status, 200);

    // Signing in from another site (login CSRF): refused.
    let url = app.url("/console/sign-in");
    let (token, cookie) = sign_in_form(&http, &url, None).await;
    let mut headers = vec![("cookie", pair(&cookie))];
    headers.extend(forged);
    let r = post_sign_in(&http, &url, &headers, &token, &key).await;
    assert_eq!(r.status(), 403);

    // Behind a proxy trusted with HOOKPOST_TRUST_PROXY, the host it forwards is the one
    // the browser asked for, and its `X-Forwarded-Proto: https` makes cookies Secure.
    let trusted = hookpost_core::Config {
        trust_proxy: true,
        ..app.config.clone()
    };
    let i = app.start_more(Roles::INGEST, Some(trusted)).await;
    let url = format!("{}/console/sign-in", other_base(&app, i));
    let proxy = [
        ("x-forwarded-host", "console.example.com"),
        ("x-forwarded-proto", "https"),
    ];
    let mut req = http.get(&url);
    for (k, v) in proxy {
        req = req.header(k, v);
    }
    let r = req.send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-hookpost_signin="), "{cookie}");
    let token = csrf_of(&r.text().await.unwrap()).unwrap();
    let mut headers = vec![
        ("cookie", pair(&cookie)),
        ("origin", "https://console.example.com"),
    ];
    headers.extend(proxy);
    let r = post_sign_in(&http, &url, &headers, &token, &key).await;
    assert_eq!(r.status(), 303, "a proxied sign-in");
    app.finish().await;
}

#[tokio::test]
async fn an_operator_session_stores_a_keyed_mac_of_the_admin_token_not_its_sha256() {
    let app = TestApp::spawn(TestOptions::default()).await;
    let admin = ConsoleClient::sign_in(&app, ADMIN_TOKEN).await;
    let id = admin.cookie.strip_prefix("hookpost_session=").unwrap();
    let unsalted = hookpost_store::tenants::key_hash(ADMIN_TOKEN);
    let session = app
        .store
        .session(id, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("a session");
    assert_eq!(session.tenant, None);
    let mut redis = app.store.conn();
    let raw: String = redis::cmd("GET")
        .arg(
            app.store
                .keys()
                .session(&hookpost_store::tenants::key_hash(id)),
        )
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(
        !raw.contains(&unsalted) && !raw.contains(ADMIN_TOKEN),
        "{raw}"
    );
    let expected = hookpost_service::auth::AdminToken::new(&app.config)
        .session_credential()
        .unwrap();
    assert_eq!(session.credential, expected);

    // A session forged with the unsalted hash (what a copy of an old Redis holds) opens
    // nothing.
    let forged_id = "F".repeat(43);
    let forged = hookpost_store::sessions::Session {
        credential: unsalted,
        ..session
    };
    app.store
        .create_session(&forged_id, &forged, Duration::from_secs(60))
        .await
        .unwrap();
    let r = client_from("127.0.0.1")
        .get(app.url("/console/hooks"))
        .header("cookie", format!("hookpost_session={forged_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "back to sign-in");
    assert_eq!(admin.get("/console/hooks").await.status, 200);
    app.finish().await;
}
