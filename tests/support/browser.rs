//! A real headless browser for the console's tests: Debian's `chromium`, driven through
//! its `chromedriver` (WebDriver) with fantoccini. The driver is started on a free port
//! per test and stopped with it. Without the binaries the test fails, saying what to
//! install (`scripts/test` installs them).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use axum::http::Method;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::wait_until;

/// Where Debian's `chromium-driver` puts the driver; `CHROMEDRIVER` overrides it.
pub fn chromedriver_path() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
}

/// chromedriver's log endpoint: what the page wrote to its console since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

impl Browser {
    /// Starts chromedriver and a headless chromium with a 1280×900 window.
    pub async fn start() -> Browser {
        let driver = chromedriver_path();
        assert!(
            Path::new(&driver).exists(),
            "{driver} is missing: the console's browser tests need Debian's `chromium` and \
             `chromium-driver` (apt-get install chromium chromium-driver; scripts/test does it)"
        );
        let port = crate::free_port();
        let child = tokio::process::Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{driver} starts: {e}"));
        wait_until("chromedriver listens", Duration::from_secs(15), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        })
        .await;
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                // --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,900", "--lang=en-US"],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromium starts under chromedriver");
        Browser {
            client,
            _driver: child,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// Errors the page logged (scripts, blocked resources, CSP violations) since the
    /// last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("chromedriver returns the browser log");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Fails when the page logged any error.
    pub async fn assert_no_console_errors(&self, page: &str) {
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "{page}: console errors: {errors:#?}");
    }

    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} on the page: {e}"))
            .text()
            .await
            .expect("text")
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find")
            .is_empty()
    }

    /// The whole page's visible text.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// Clicks `css` and waits until the page it leads to has loaded.
    pub async fn click_and_wait(&self, css: &str) {
        self.client
            .execute("window.__hookpostOld = true;", vec![])
            .await
            .expect("script runs");
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} on the page: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
        wait_until(
            &format!("the page after clicking {css}"),
            Duration::from_secs(15),
            || async {
                self.client
                    .execute(
                        "return !window.__hookpostOld && document.readyState === 'complete';",
                        vec![],
                    )
                    .await
                    .is_ok_and(|v| v == json!(true))
            },
        )
        .await;
    }

    /// Types into the field `css` (emptied first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} on the page: {e}"));
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    /// Whether the page is no wider than the window (nothing to scroll sideways).
    pub async fn fits_width(&self) -> bool {
        let v = self
            .client
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                vec![],
            )
            .await
            .expect("script runs");
        v == json!(true)
    }

    pub async fn set_size(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("window size");
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
