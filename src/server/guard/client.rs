//! Who is asking: the key rate limits count against.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, HeaderName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client(String);

impl Client {
    /// A caller holding the API key: one budget for all its holders.
    pub fn api_key() -> Self {
        Self("api-key".into())
    }

    /// A request the limits layer did not see (it reached no address): all such share one bucket.
    pub fn unknown() -> Self {
        Self("unknown".into())
    }

    pub fn ip(ip: IpAddr) -> Self {
        Self(format!("ip:{ip}"))
    }

    pub fn key(&self) -> &str {
        &self.0
    }

    /// The client address: from the trusted proxy's header when one is configured (the last
    /// `X-Forwarded-For` entry is the one that proxy added), else the TCP peer.
    pub fn from_request(
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        proxy_header: Option<&HeaderName>,
    ) -> Self {
        let forwarded = proxy_header
            .and_then(|name| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        match forwarded.or(peer.map(|p| p.ip())) {
            Some(ip) => Self::ip(ip),
            None => Self::unknown(),
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
        let header = HeaderName::from_static("x-forwarded-for");
        assert_eq!(
            Client::from_request(&headers, peer, None).key(),
            "ip:10.0.0.1"
        );
        assert_eq!(
            Client::from_request(&headers, peer, Some(&header)).key(),
            "ip:198.51.100.7"
        );
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(
            Client::from_request(&headers, peer, Some(&header)).key(),
            "ip:10.0.0.1"
        );
    }
}
