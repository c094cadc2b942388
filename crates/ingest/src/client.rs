//! Which address a request comes from: the TCP peer, or, behind a proxy trusted with
//! `HOOKPOST_TRUST_PROXY`, the address that proxy put last in `X-Forwarded-For`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, Request};

/// The client's address, or `None` when the server was not started with the peer address
/// (`into_make_service_with_connect_info`) and no trusted header names one.
pub fn address<B>(req: &Request<B>, trust_proxy: bool) -> Option<IpAddr> {
    address_of(req.headers(), req.extensions(), trust_proxy)
}

/// [`address`] from a request's parts.
pub fn address_of(
    headers: &HeaderMap,
    extensions: &Extensions,
    trust_proxy: bool,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip());
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

    fn request(peer: &str, xff: &[&str]) -> Request<()> {
        let mut b = Request::builder();
        for v in xff {
            b = b.header("x-forwarded-for", *v);
        }
        let mut req = b.body(()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        req
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy_and_only_its_last_entry() {
        let req = request("10.0.0.1:5000", &["1.1.1.1", "6.6.6.6, 203.0.113.7"]);
        assert_eq!(address(&req, false), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(address(&req, true), Some("203.0.113.7".parse().unwrap()));
        let garbage = request("10.0.0.1:5000", &["not-an-address"]);
        assert_eq!(address(&garbage, true), Some("10.0.0.1".parse().unwrap()));
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
