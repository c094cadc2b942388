//! Which TCP ports hook URLs may name. Test sends return the receiver's answer, so a free
//! choice of port would make hookpost a port scanner and a relay into data stores that
//! speak enough HTTP to answer (Elasticsearch, CouchDB, Consul, the Docker and Kubernetes
//! APIs). Checked at registration, at test send and again at delivery.

use std::ops::RangeInclusive;

/// Ports at or above 1024 that are refused by default: data stores, message brokers and
/// control planes that listen on them out of the box and either speak HTTP (so a request
/// does something) or are where an internal network's secrets live.
pub const REFUSED_BY_DEFAULT: &[(u16, &str)] = &[
    (2375, "Docker API"),
    (2376, "Docker API over TLS"),
    (2379, "etcd clients"),
    (2380, "etcd peers"),
    (3306, "MySQL"),
    (5432, "PostgreSQL"),
    (5672, "AMQP (RabbitMQ)"),
    (5984, "CouchDB"),
    (6379, "Redis"),
    (6443, "Kubernetes API"),
    (7000, "Cassandra inter-node, Redis Cluster"),
    (7001, "Cassandra inter-node over TLS"),
    (8500, "Consul HTTP API"),
    (9042, "Cassandra CQL"),
    (9200, "Elasticsearch HTTP"),
    (9300, "Elasticsearch transport"),
    (10250, "kubelet API"),
    (11211, "memcached"),
    (15672, "RabbitMQ management"),
    (25672, "RabbitMQ inter-node"),
    (27017, "MongoDB"),
];

/// `HOOKPOST_ALLOWED_PORTS`: ports allowed beyond the default rule, as ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedPorts(Vec<RangeInclusive<u16>>);

impl AllowedPorts {
    /// Parses `8081, 9000-9099`: comma-separated ports (1 to 65535) or `low-high` ranges.
    pub fn parse(text: &str) -> Result<AllowedPorts, String> {
        let port = |s: &str| match s.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(format!("`{}` is not a port (1 to 65535)", s.trim())),
        };
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let range = match part.split_once('-') {
                Some((low, high)) => {
                    let (low, high) = (port(low)?, port(high)?);
                    if low > high {
                        return Err(format!("`{part}` is not a range: {low} is above {high}"));
                    }
                    low..=high
                }
                None => {
                    let p = port(part)?;
                    p..=p
                }
            };
            ranges.push(range);
        }
        Ok(AllowedPorts(ranges))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The list as [`AllowedPorts::parse`] reads it.
    pub fn to_env(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| match r.start() == r.end() {
                true => r.start().to_string(),
                false => format!("{}-{}", r.start(), r.end()),
            })
            .collect();
        parts.join(",")
    }

    /// Whether a hook URL may name `port`: 80, 443 and every unprivileged port but the
    /// data stores' of [`REFUSED_BY_DEFAULT`], and whatever this list adds.
    pub fn allows(&self, port: u16) -> bool {
        let by_default = port == 80
            || port == 443
            || (port >= 1024 && !REFUSED_BY_DEFAULT.iter().any(|(p, _)| *p == port));
        by_default || self.0.iter().any(|r| r.contains(&port))
    }

    /// Refuses a URL whose port (given, or its scheme's) is not allowed, saying why.
    pub fn check(&self, url: &url::Url) -> Result<(), String> {
        let port = url.port_or_known_default().unwrap_or(0);
        if self.allows(port) {
            return Ok(());
        }
        let what = REFUSED_BY_DEFAULT
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, name)| format!(" (the port of {name})"))
            .unwrap_or_default();
        Err(format!(
            "port {port}{what} is not allowed: hook URLs may use 80, 443 and ports from 1024 \
             other than well-known data-store ports; an operator can allow more with \
             HOOKPOST_ALLOWED_PORTS"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_default_80_443_and_unprivileged_ports_but_data_stores_are_allowed() {
        let none = AllowedPorts::default();
        for p in [80, 443, 1024, 3000, 8080, 8443, 32768, 65535] {
            assert!(none.allows(p), "{p}");
        }
        for p in [0, 1, 9, 22, 25, 79, 81, 442, 444, 1023] {
            assert!(!none.allows(p), "{p}");
        }
        for (p, _) in REFUSED_BY_DEFAULT {
            assert!(!none.allows(*p), "{p}");
            assert!(none.allows(p + 1) || REFUSED_BY_DEFAULT.iter().any(|(q, _)| *q == p + 1));
        }
    }

    #[test]
    fn the_list_allows_more_ports_and_ranges() {
        let extra = AllowedPorts::parse("22, 6379,9000-9300").unwrap();
        for p in [22, 6379, 9000, 9200, 9300] {
            assert!(extra.allows(p), "{p}");
        }
        assert!(!extra.allows(21) && !extra.allows(5432));
        assert_eq!(extra.to_env(), "22,6379,9000-9300");
        assert_eq!(AllowedPorts::parse(&extra.to_env()), Ok(extra));
        assert!(AllowedPorts::parse("").unwrap().is_empty());
    }

    #[test]
    fn a_bad_list_is_refused_naming_the_bad_part() {
        for (bad, part) in [
            ("0", "`0`"),
            ("70000", "`70000`"),
            ("http", "`http`"),
            ("9000-8000", "`9000-8000`"),
            ("1-", "``"),
        ] {
            let err = AllowedPorts::parse(bad).unwrap_err();
            assert!(err.contains(part), "{bad}: {err}");
        }
    }

    #[test]
    fn urls_are_judged_by_their_port_or_their_schemes() {
        let none = AllowedPorts::default();
        let check = |u: &str| none.check(&u.parse().unwrap());
        assert!(check("http://example.com/x").is_ok());
        assert!(check("https://example.com:8443/x").is_ok());
        assert!(check("http://example.com:443/x").is_ok());
        let err = check("http://example.com:6379/x").unwrap_err();
        assert!(
            err.contains("6379") && err.contains("Redis") && err.contains("HOOKPOST_ALLOWED_PORTS")
        );
        assert!(check("http://example.com:22/").is_err());
        assert!(check("https://example.com:80/").is_ok());
    }
}
