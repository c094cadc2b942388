//! Which addresses hookpost may deliver to.
//!
//! The check runs inside the DNS resolver of the one shared HTTP client, so the
//! connection goes to exactly the addresses that were checked (no DNS rebinding) and
//! connections are still pooled. IP literals never reach a resolver; [`check_literal`]
//! covers them before a request is made.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub use hookpost_core::address::is_public;

/// A target refused by policy; found in an error's source chain to classify it.
#[derive(Debug, thiserror::Error)]
#[error("refused by policy: {0} resolves to a non-public address")]
pub struct Refused(pub String);

/// A name that did not resolve; found in an error's source chain to classify it.
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup of {0} failed: {1}")]
pub struct DnsFailure(pub String, pub String);

/// The system resolver, classifying failures as DNS errors and, when `public_only`,
/// keeping public addresses only (none left: refused by policy).
#[derive(Debug, Clone, Copy)]
pub struct Resolver {
    pub public_only: bool,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let public_only = self.public_only;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let boxed = |e: Box<dyn std::error::Error + Send + Sync>| e;
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| boxed(Box::new(DnsFailure(host.clone(), e.to_string()))))?
                .filter(|a| !public_only || is_public(a.ip()))
                .collect();
            if addrs.is_empty() && public_only {
                return Err(boxed(Box::new(Refused(host))));
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Refuses a URL whose host is a non-public IP literal.
pub fn check_literal(url: &url::Url) -> Result<(), Refused> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(Refused(ip.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_checked() {
        assert!(check_literal(&"http://127.0.0.1/x".parse().unwrap()).is_err());
        assert!(check_literal(&"http://[::ffff:127.0.0.1]/x".parse().unwrap()).is_err());
        assert!(check_literal(&"http://8.8.8.8/x".parse().unwrap()).is_ok());
        assert!(check_literal(&"http://example.com/x".parse().unwrap()).is_ok());
    }
}
