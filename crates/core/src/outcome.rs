//! What one attempt ended as. A value, not an error: retry, log and metrics read it from
//! this one place.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The receiver answered 2xx.
    Delivered,
    /// The receiver answered something else (including 3xx: redirects are not followed).
    HttpStatus,
    /// No complete answer within the request timeout.
    Timeout,
    /// The TCP connection failed or broke.
    Connect,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed.
    Tls,
    /// The target is not allowed (a private address while those are refused, or a port
    /// the policy refuses).
    RefusedByPolicy,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 7] = [
        OutcomeKind::Delivered,
        OutcomeKind::HttpStatus,
        OutcomeKind::Timeout,
        OutcomeKind::Connect,
        OutcomeKind::Dns,
        OutcomeKind::Tls,
        OutcomeKind::RefusedByPolicy,
    ];

    /// The metric label and log value.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Delivered => "delivered",
            OutcomeKind::HttpStatus => "http_status",
            OutcomeKind::Timeout => "timeout",
            OutcomeKind::Connect => "connect",
            OutcomeKind::Dns => "dns",
            OutcomeKind::Tls => "tls",
            OutcomeKind::RefusedByPolicy => "refused_by_policy",
        }
    }
}

/// One attempt as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: u32,
    /// Start, ms since the epoch (RFC 3339 in JSON).
    #[serde(with = "crate::timestamp")]
    pub at: i64,
    pub duration_ms: u64,
    pub outcome: OutcomeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The first [`RESPONSE_SNIPPET_BYTES`] of the response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// `Retry-After` the receiver asked for, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// The signature headers the request went out with (none when it never left, or
    /// when it was made before the log kept them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<crate::signing::Signatures>,
    /// The request's own `uuid`, in a format that has one (HappyFox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// How much of a response body the log keeps.
pub const RESPONSE_SNIPPET_BYTES: usize = 1024;

impl Attempt {
    pub fn delivered(&self) -> bool {
        self.outcome == OutcomeKind::Delivered
    }
}
