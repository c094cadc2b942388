//! Which IP addresses count as public. Hook URLs must reach public addresses unless
//! `HOOKPOST_ALLOW_PRIVATE_TARGETS` is set: checked at registration and again, inside the
//! resolver, at delivery.
//!
//! The ranges follow IANA's IPv4 and IPv6 special-purpose address registries. An IPv6
//! address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by the IPv4
//! address it leads to, since that is where the packets end up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 ranges that are not public unicast (network, prefix length).
const V4_REFUSED: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // carrier-grade NAT
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata services)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments (its anycast /32s are no receivers)
    ([192, 0, 2, 0], 24),    // documentation
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation
    ([203, 0, 113, 0], 24),  // documentation
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and 255.255.255.255 broadcast
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let n = u32::from(ip);
    !V4_REFUSED.iter().any(|&(net, len)| {
        let mask = u32::MAX << (32 - u32::from(len));
        n & mask == u32::from_be_bytes(net)
    })
}

/// `ip` is in `net/len`.
fn in_v6(ip: u128, net: u128, len: u32) -> bool {
    let mask = u128::MAX << (128 - len);
    ip & mask == net
}

/// The 32 bits of `ip` that start at bit `from` (counted from the left) as IPv4.
fn v4_at(ip: u128, from: u32) -> Ipv4Addr {
    Ipv4Addr::from((ip >> (96 - from)) as u32)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let n = u128::from(ip);
    // IPv4-mapped `::ffff:a.b.c.d`: the socket connects over IPv4 to a.b.c.d.
    if in_v6(n, 0xffff << 32, 96) {
        return is_public_v4(v4_at(n, 96));
    }
    // NAT64's well-known prefix `64:ff9b::/96` (RFC 6052): the translator connects to the
    // IPv4 address in the last 32 bits (DNS64 makes these for public IPv4-only hosts).
    if in_v6(n, 0x0064_ff9b << 96, 96) {
        return is_public_v4(v4_at(n, 96));
    }
    // Everything else outside global unicast `2000::/3` is special-purpose: `::`, `::1`,
    // IPv4-compatible `::a.b.c.d` and IPv4-translated `::ffff:0:a.b.c.d` (both deprecated,
    // never routed), local-use NAT64 `64:ff9b:1::/48` (a network-specific translator whose
    // IPv4 position depends on its prefix), discard-only `100::/64`, SRv6 `5f00::/16`,
    // unique-local `fc00::/7`, link-local `fe80::/10`, site-local `fec0::/10`, multicast.
    if !in_v6(n, 0x2000 << 112, 3) {
        return false;
    }
    // 6to4 `2002::/16`: the IPv4 address of the other end is in bits 16..48.
    if in_v6(n, 0x2002 << 112, 16) {
        return is_public_v4(v4_at(n, 16));
    }
    // Teredo `2001::/32`: the server's IPv4 in bits 32..64, the client's (NAT's) in the
    // last 32 bits, inverted. Packets go to both, so both must be public.
    if in_v6(n, 0x2001 << 112, 32) {
        let client = Ipv4Addr::from(!(n as u32));
        return is_public_v4(v4_at(n, 32)) && is_public_v4(client);
    }
    // The rest of `2001::/23`, IETF protocol assignments. Some entries are globally
    // reachable (PCP/TURN/DNS-SD anycast, AMT relays, AS112 DNS sinks, ORCHID and DET
    // identifiers), but none is a host a receiver could sit on: refused whole.
    if in_v6(n, 0x2001 << 112, 23) {
        return false;
    }
    // Documentation `2001:db8::/32` and `3fff::/20`.
    !(in_v6(n, 0x2001_0db8 << 96, 32) || in_v6(n, 0x3fff << 112, 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(list: &[&str]) {
        for ip in list {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
    }

    fn allowed(list: &[&str]) {
        for ip in list {
            assert!(is_public(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    #[test]
    fn every_special_ipv4_range_is_refused_from_its_first_to_its_last_address() {
        refused(&[
            "0.0.0.0",
            "0.255.255.255",
            "10.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.0",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.0.0",
            "169.254.169.254",
            "169.254.255.255",
            "172.16.0.0",
            "172.31.255.255",
            "192.0.0.0",
            "192.0.0.255",
            "192.0.2.0",
            "192.0.2.255",
            "192.88.99.0",
            "192.88.99.255",
            "192.168.0.0",
            "192.168.255.255",
            "198.18.0.0",
            "198.19.255.255",
            "198.51.100.0",
            "198.51.100.255",
            "203.0.113.0",
            "203.0.113.255",
            "224.0.0.0",
            "239.255.255.255",
            "240.0.0.0",
            "255.255.255.254",
            "255.255.255.255",
        ]);
    }

    #[test]
    fn the_public_ipv4_neighbours_of_each_special_range_are_allowed() {
        allowed(&[
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "191.255.255.255",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "1.1.1.1",
            "93.184.216.34",
        ]);
    }

    #[test]
    fn special_ipv6_ranges_are_refused() {
        refused(&[
            "::",
            "::1",
            "100::",
            "100::ffff:ffff:ffff:ffff",
            "100:0:0:1::", // rest of 100::/8: outside 2000::/3
            "fc00::1",
            "fd12::1",
            "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1",
            "febf:ffff::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "5f00::1",
            "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "4000::1",
            "2001:db8::1",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff::1",
            "3fff:0fff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:1::1",
            "2001:2::1",
            "2001:3::1",
            "2001:4:112::1",
            "2001:10::1",
            "2001:20::1",
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]);
    }

    #[test]
    fn global_unicast_ipv6_next_to_the_special_ranges_is_allowed() {
        allowed(&[
            "2000::1",
            "2001:200::1", // just past 2001::/23
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:81b::200e",
            "3ffe:ffff::1",
            "3fff:1000::1", // just past 3fff::/20
        ]);
    }

    #[test]
    fn ipv6_forms_that_embed_a_private_ipv4_are_refused() {
        refused(&[
            // IPv4-mapped
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            // IPv4-translated (SIIT), whatever it carries
            "::ffff:0:127.0.0.1",
            "::ffff:0:169.254.169.254",
            "::ffff:0:8.8.8.8",
            // IPv4-compatible, whatever it carries
            "::127.0.0.1",
            "::10.0.0.1",
            "::8.8.8.8",
            // 6to4 of 127.0.0.1, 169.254.169.254, 10.0.0.1, 192.168.1.1
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2002:a00:1::",
            "2002:c0a8:101:ffff::1",
            // Teredo: client 127.0.0.1 (inverted 80ff:fffe); server 10.0.0.1, client 8.8.8.8
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "2001:0:a00:1:8000:63bf:f7f7:f7f7",
            // NAT64 well-known prefix to private; local-use NAT64 always
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff::1",
        ]);
    }

    #[test]
    fn ipv6_forms_that_embed_a_public_ipv4_are_allowed() {
        allowed(&[
            "::ffff:8.8.8.8",
            "::ffff:93.184.216.34",
            // 6to4 of 8.8.8.8
            "2002:808:808::1",
            // Teredo: server 65.54.227.120, client 8.8.8.8 (inverted f7f7:f7f7)
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
            // NAT64 to a public address
            "64:ff9b::808:808",
            "64:ff9b::1.1.1.1",
        ]);
        // The RFC 4380 example client, 192.0.2.45, is documentation space.
        refused(&["2001:0:4136:e378:8000:63bf:3fff:fdd2"]);
    }
}
