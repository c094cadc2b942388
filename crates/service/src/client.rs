//! Which address a request comes from: the TCP peer, or, behind a proxy trusted with
//! `HOOKPOST_TRUST_PROXY`, the address that proxy put last in `X-Forwarded-For`; and
//! which host and scheme it was sent to.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::{header, HeaderMap};

/// The host the browser asked for: `Host`, or, behind a proxy trusted with
/// `HOOKPOST_TRUST_PROXY`, the last `X-Forwarded-Host` (the one that proxy set). Without
/// that trust the header is anyone's to write, so it is ignored.
pub fn request_host(headers: &HeaderMap, trust_proxy: bool) -> Option<&str> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let forwarded = trust_proxy
        .then(|| text("x-forwarded-host"))
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|h| !h.is_empty());
    forwarded.or_else(|| text(header::HOST.as_str()).map(str::trim))
}

/// `scheme://host` this request was sent to: `https` only when a trusted proxy says so
/// (`X-Forwarded-Proto`); `None` without a host.
pub fn public_base(headers: &HeaderMap, trust_proxy: bool) -> Option<String> {
    let host = request_host(headers, trust_proxy).filter(|h| !h.is_empty())?;
    let scheme = if forwarded_https(headers, trust_proxy) {
        "https"
    } else {
        "http"
    };
    Some(format!("{scheme}://{host}"))
}

/// Whether a proxy trusted with `HOOKPOST_TRUST_PROXY` says the client used https (the
/// last `X-Forwarded-Proto`, the one that proxy set).
pub fn forwarded_https(headers: &HeaderMap, trust_proxy: bool) -> bool {
    trust_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// The client's address: `peer` (the TCP peer, `None` when the server did not record
/// it), or the trusted proxy's word for it.
pub fn address(headers: &HeaderMap, peer: Option<IpAddr>, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        if let Some(ip) = forwarded_for(headers) {
            return Some(ip);
        }
    }
    peer
}

/// The rightmost `X-Forwarded-For` entry: the one the nearest (trusted) proxy added;
/// entries left of it were written by whoever sent the request.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    let entry = last.to_str().ok()?.rsplit(',').next()?.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// What failures are counted under: an IPv4 address, or an IPv6 /64 (one host usually
/// holds a whole /64, so counting single IPv6 addresses would count nothing).
pub fn bucket(ip: Option<IpAddr>) -> String {
    match ip.map(canonical) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
        None => "unknown".into(),
    }
}

/// `::ffff:a.b.c.d` is the IPv4 client `a.b.c.d` (a dual-stack listener's view).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy_and_only_its_last_entry() {
        let peer = Some("10.0.0.1".parse().unwrap());
        let h = headers(&["1.1.1.1", "6.6.6.6, 203.0.113.7"]);
        assert_eq!(address(&h, peer, false), peer);
        assert_eq!(
            address(&h, peer, true),
            Some("203.0.113.7".parse().unwrap())
        );
        let garbage = headers(&["not-an-address"]);
        assert_eq!(address(&garbage, peer, true), peer);
        assert_eq!(address(&headers(&[]), None, true), None);
    }
    #[test]
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a = bucket(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = bucket(Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(
            bucket(Some("::ffff:192.0.2.1".parse().unwrap())),
            "192.0.2.1"
        );
        assert_eq!(bucket(None), "unknown");
    }
}
