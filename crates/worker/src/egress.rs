//! Which addresses hookpost may deliver to.
//!
//! The check runs inside the DNS resolver of the one shared HTTP client, so the
//! connection goes to exactly the addresses that were checked (no DNS rebinding) and
//! connections are still pooled. IP literals never reach a resolver; [`check_literal`]
//! covers them before a request is made.
//!
//! Proxies: the client ignores `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`, since a proxy
//! resolves the hook's name itself and the check here would never see the address. An
//! operator's `HOOKPOST_EGRESS_PROXY` is used instead when set; it must enforce the
//! address policy itself (the resolver then only ever resolves the proxy's own name).

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

pub use hookpost_core::address::is_public;

/// A target refused by policy; found in an error's source chain to classify it.
#[derive(Debug, thiserror::Error)]
#[error("refused by policy: {0} resolves to a non-public address")]
pub struct Refused(pub String);

/// A URL whose port the policy does not allow; the text says which and why.
#[derive(Debug, thiserror::Error)]
#[error("refused by policy: {0}")]
pub struct PortRefused(pub String);

/// A name that did not resolve; found in an error's source chain to classify it.
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup of {0} failed: {1}")]
pub struct DnsFailure(pub String, pub String);

/// The system resolver, classifying failures as DNS errors and, when `public_only`,
/// keeping public addresses only (none left: refused by policy). The egress proxy's own
/// name (`trusted`), chosen by the operator, resolves unfiltered.
#[derive(Debug, Clone)]
pub struct Resolver {
    pub public_only: bool,
    pub trusted: Option<String>,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let public_only = self.public_only && self.trusted.as_deref() != Some(host.as_str());
        Box::pin(async move {
            let boxed = |e: Box<dyn std::error::Error + Send + Sync>| e;
            let found = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| boxed(Box::new(DnsFailure(host.clone(), e.to_string()))))?;
            let addrs = keep(&host, found, public_only).map_err(|e| boxed(Box::new(e)))?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The addresses `host` resolved to that may be connected to: all of them, or with
/// `public_only` the public ones (none: refused).
fn keep(
    host: &str,
    found: impl Iterator<Item = SocketAddr>,
    public_only: bool,
) -> Result<Vec<SocketAddr>, Refused> {
    let addrs: Vec<SocketAddr> = found
        .filter(|a| !public_only || is_public(a.ip()))
        .collect();
    if addrs.is_empty() && public_only {
        return Err(Refused(host.to_owned()));
    }
    Ok(addrs)
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
        for embedded in [
            "[2002:7f00:1::1]",
            "[2002:a9fe:a9fe::1]",
            "[::ffff:0:a9fe:a9fe]",
        ] {
            let url = format!("http://{embedded}/x").parse().unwrap();
            assert!(check_literal(&url).is_err(), "{embedded}");
        }
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|ip| SocketAddr::new(ip.parse().unwrap(), 0))
            .collect()
    }

    #[test]
    fn a_name_resolving_only_to_ipv6_forms_of_private_ipv4_is_refused() {
        let private = addrs(&[
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "::ffff:0:7f00:1",
            "100::1",
            "64:ff9b::a9fe:a9fe",
        ]);
        let err = keep("rebind.example", private.clone().into_iter(), true).unwrap_err();
        assert_eq!(err.0, "rebind.example");
        assert_eq!(
            keep("dev", private.clone().into_iter(), false).unwrap(),
            private
        );
    }

    #[test]
    fn only_the_public_addresses_of_a_mixed_answer_are_kept() {
        let mixed = addrs(&[
            "2002:7f00:1::1",
            "2606:4700:4700::1111",
            "10.0.0.1",
            "1.1.1.1",
        ]);
        let kept = keep("mixed.example", mixed.into_iter(), true).unwrap();
        assert_eq!(kept, addrs(&["2606:4700:4700::1111", "1.1.1.1"]));
    }
}
