//! Operators' commands that talk to the API with the admin token: `hookpost deliveries
//! list|show|resend` (acting for a tenant through `X-Hookpost-Tenant`) and
//! `hookpost retries stats`, `hookpost audit list`.

use serde_json::Value;

pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// A request the API refused, with its answer.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {body}")]
pub struct ApiRefused {
    pub status: u16,
    pub body: String,
}

impl ApiClient {
    /// `base` is the API's URL, e.g. `http://127.0.0.1:8080`.
    pub fn new(base: &str, token: &str) -> ApiClient {
        ApiClient {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        tenant: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(t) = tenant {
            req = req.header("x-hookpost-tenant", t);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let body = r.text().await?;
        if !(200..300).contains(&status) {
            return Err(ApiRefused { status, body }.into());
        }
        Ok(serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }

    /// One page of a tenant's delivery log; `query` holds the list's filters.
    pub async fn deliveries(
        &self,
        tenant: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Value> {
        let qs: String = query
            .iter()
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.call(
            reqwest::Method::GET,
            &format!("/v1/deliveries?{qs}"),
            Some(tenant),
        )
        .await
    }

    pub async fn delivery(&self, tenant: &str, id: &str) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::GET,
            &format!("/v1/deliveries/{}", url_encode(id)),
            Some(tenant),
        )
        .await
    }

    pub async fn resend(&self, tenant: &str, id: &str) -> anyhow::Result<Value> {
        self.call(
            reqwest::Method::POST,
            &format!("/v1/deliveries/{}/resend", url_encode(id)),
            Some(tenant),
        )
        .await
    }

    /// A page of the audit log; `query` holds its filters.
    pub async fn audit(&self, query: &[(&str, String)]) -> anyhow::Result<Value> {
        let qs: String = query
            .iter()
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.call(reqwest::Method::GET, &format!("/v1/audit?{qs}"), None)
            .await
    }

    pub async fn retry_stats(&self) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, "/v1/retries/stats", None)
            .await
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
