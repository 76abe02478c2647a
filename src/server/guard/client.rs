//! Who is asking: the key rate limits count against, and the address a request came from.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};

/// A client as the rate limits count it. A value rather than its key's text: every request names
/// its client, and printing an address per request cost a cached image's serving more than its
/// rate limit; the text is made only where a key is stored (`key`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Client(Who);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    /// An IPv4 address (or the one an IPv4-mapped IPv6 address maps).
    Ip(Ipv4Addr),
    /// An IPv6 network: the address's first `bits`.
    Network(Ipv6Addr, u8),
    ApiKey,
    Unknown,
}

/// How requests are told apart: which proxy header to believe, and how much of an IPv6 address is
/// one client (a home or a server is usually given a whole /64, so counting each address would let
/// one client rotate through billions of buckets).
#[derive(Debug, Clone)]
pub struct ClientRules {
    pub proxy_header: Option<HeaderName>,
    pub ipv6_prefix: u8,
}

impl Default for ClientRules {
    fn default() -> Self {
        Self {
            proxy_header: None,
            ipv6_prefix: 64,
        }
    }
}

impl ClientRules {
    /// The client address: with a trusted proxy configured, the last value of its header over all
    /// the header's lines (a proxy appends what it saw, as a value or as a line of its own, after
    /// whatever the client sent), and no address at all when that is missing or not an address: the
    /// TCP peer is then the proxy, which must not stand for its clients (behind a local proxy it
    /// would be loopback). Without a proxy, the TCP peer.
    pub fn address(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        match &self.proxy_header {
            Some(name) => last_value(headers, name).and_then(parse_ip),
            None => peer.map(|p| p.ip()),
        }
    }

    /// The rate-limit key of the client that sent `headers` from `peer`.
    pub fn client(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Client {
        match self.address(headers, peer) {
            Some(ip) => self.ip(ip),
            None => Client::unknown(),
        }
    }

    /// IPv4 addresses count one by one; IPv6 addresses by their first `ipv6_prefix` bits (an
    /// IPv4-mapped IPv6 address is the IPv4 address it maps).
    pub fn ip(&self, ip: IpAddr) -> Client {
        match ip {
            IpAddr::V4(v4) => Client(Who::Ip(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(Who::Ip(v4)),
                None => {
                    let bits = self.ipv6_prefix.min(128);
                    let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
                    Client(Who::Network(Ipv6Addr::from(u128::from(v6) & mask), bits))
                }
            },
        }
    }
}

/// The last comma-separated value of `name` over all its lines, trimmed; `None` when the header is
/// missing, its last line is not text, or its last value is empty. `X-Forwarded-For` and
/// `X-Forwarded-Proto` are both read this way.
pub fn last_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let line = headers.get_all(name).iter().next_back()?;
    let value = line.to_str().ok()?.rsplit(',').next()?.trim();
    (!value.is_empty()).then_some(value)
}

/// An address as proxies write it: `192.0.2.7`, `2001:db8::1`, and with a port or brackets
/// (`192.0.2.7:4711`, `[2001:db8::1]:4711`), as `X-Forwarded-For` sometimes carries them.
fn parse_ip(value: &str) -> Option<IpAddr> {
    value
        .parse::<IpAddr>()
        .ok()
        .or_else(|| value.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            value
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .and_then(|v| v.parse().ok())
        })
}

impl Client {
    /// A caller holding the API key: one budget for all its holders.
    pub fn api_key() -> Self {
        Self(Who::ApiKey)
    }

    /// A request the limits layer did not see (it reached no address): all such share one bucket.
    pub fn unknown() -> Self {
        Self(Who::Unknown)
    }

    /// The key its counts are stored under where they are shared (`ip:192.0.2.7`,
    /// `ip:2001:db8::/64`, `api-key`, `unknown`).
    pub fn key(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Who::Ip(v4) => write!(f, "ip:{v4}"),
            Who::Network(network, bits) => write!(f, "ip:{network}/{bits}"),
            Who::ApiKey => f.write_str("api-key"),
            Who::Unknown => f.write_str("unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_header_counts_only_when_configured() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let peer = Some(SocketAddr::from(([10, 0, 0, 1], 4000)));
        let direct = ClientRules::default();
        let proxied = ClientRules {
            proxy_header: Some(HeaderName::from_static("x-forwarded-for")),
            ..ClientRules::default()
        };
        assert_eq!(direct.client(&headers, peer).key(), "ip:10.0.0.1");
        assert_eq!(proxied.client(&headers, peer).key(), "ip:198.51.100.7");
        // A proxy that appends a line of its own: the last line's last value, whatever the
        // client's own first line says.
        headers.insert("x-forwarded-for", "127.0.0.1".parse().unwrap());
        headers.append("x-forwarded-for", "203.0.113.50".parse().unwrap());
        assert_eq!(proxied.client(&headers, peer).key(), "ip:203.0.113.50");
        headers.append("x-forwarded-for", "[2001:db8::7]:4711".parse().unwrap());
        assert_eq!(proxied.client(&headers, peer).key(), "ip:2001:db8::/64");
        // Missing or unreadable: an unknown client, never the proxy's own (loopback) address.
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(proxied.client(&headers, peer).key(), "unknown");
        headers.remove("x-forwarded-for");
        assert_eq!(proxied.client(&headers, peer).key(), "unknown");
        assert_eq!(proxied.address(&headers, peer), None);
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_prefix() {
        let rules = ClientRules::default();
        let ip = |s: &str| rules.ip(s.parse().unwrap()).key();
        // Rotating the interface identifier within one /64 is one client.
        assert_eq!(ip("2001:db8:1:2::1"), "ip:2001:db8:1:2::/64");
        assert_eq!(
            ip("2001:db8:1:2:ffff:eeee:dddd:cccc"),
            "ip:2001:db8:1:2::/64"
        );
        assert_ne!(ip("2001:db8:1:3::1"), ip("2001:db8:1:2::1"));
        assert_eq!(ip("::ffff:192.0.2.7"), "ip:192.0.2.7");
        assert_eq!(ip("192.0.2.7"), "ip:192.0.2.7");

        let wide = ClientRules {
            ipv6_prefix: 48,
            ..ClientRules::default()
        };
        assert_eq!(
            wide.ip("2001:db8:1:2::1".parse().unwrap()).key(),
            "ip:2001:db8:1::/48"
        );
        let exact = ClientRules {
            ipv6_prefix: 128,
            ..ClientRules::default()
        };
        assert_eq!(
            exact.ip("2001:db8::9".parse().unwrap()).key(),
            "ip:2001:db8::9/128"
        );
    }
}
