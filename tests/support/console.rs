//! The console over plain HTTP, for the checks a browser would not let a test make:
//! crafted requests, missing CSRF tokens, another tenant's ids.

use crate::TestApp;

/// A signed-in console session: its cookie and its forms' CSRF token.
pub struct ConsoleClient {
    base: String,
    http: reqwest::Client,
    pub cookie: String,
    pub csrf: String,
}

/// What the console answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_owned())
}

/// `name=value` of a `Set-Cookie` line.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

async fn answer(r: reqwest::Response) -> Answer {
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let set_cookies = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    Answer {
        status: r.status().as_u16(),
        location,
        set_cookies,
        body: r.text().await.unwrap_or_default(),
    }
}

impl ConsoleClient {
    /// Signs in with `key` as a browser would: the form's token, then the POST.
    pub async fn sign_in(app: &TestApp, key: &str) -> ConsoleClient {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = answer(http.get(app.url("/console/sign-in")).send().await.unwrap()).await;
        assert_eq!(form.status, 200);
        let token = csrf_of(&form.body).expect("the sign-in form has a token");
        let pre = cookie_pair(&form.set_cookies[0]);
        let r = http
            .post(app.url("/console/sign-in"))
            .header("cookie", pre)
            .header("origin", &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("csrf", &token), ("key", key)]))
            .send()
            .await
            .unwrap();
        let signed = answer(r).await;
        assert_eq!(signed.status, 303, "sign-in: {}", signed.body);
        Self::signed_in(app, http, signed).await
    }

    /// Follows a portal link (`path`) as a browser would; `Err` with the answer when it
    /// signs no one in.
    pub async fn from_portal(app: &TestApp, path: &str) -> Result<ConsoleClient, Answer> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let opened = answer(http.get(app.url(path)).send().await.unwrap()).await;
        if opened.status != 303 {
            return Err(opened);
        }
        Ok(Self::signed_in(app, http, opened).await)
    }

    /// The session a sign-in answer's cookie opened, with the token of its forms.
    async fn signed_in(app: &TestApp, http: reqwest::Client, signed: Answer) -> ConsoleClient {
        let cookie = signed
            .set_cookies
            .iter()
            .find(|c| c.starts_with("hookpost_session="))
            .map(|c| cookie_pair(c))
            .expect("a session cookie");
        let mut client = ConsoleClient {
            base: app.base.clone(),
            http,
            cookie,
            csrf: String::new(),
        };
        let hooks = client.get("/console/hooks").await;
        assert_eq!(hooks.status, 200, "{}", hooks.body);
        client.csrf = csrf_of(&hooks.body).expect("pages carry the CSRF token");
        client
    }

    pub async fn get(&self, path: &str) -> Answer {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        answer(r).await
    }

    /// POSTs `fields` with this session's CSRF token and a same-origin `Origin`.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all, Some(&self.base.clone())).await
    }

    /// POSTs exactly `fields` (no token added), with `origin` if given.
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Answer {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        answer(req.send().await.unwrap()).await
    }
}
