//! `[server]`: where Pixzoo listens, what it serves from, how it logs, and how long connections may wait.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::check::{at_least_one, http_url, invalid};
use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port` to listen on; a host name is resolved once, at start-up.
    #[serde(deserialize_with = "host_port")]
    pub addr: SocketAddr,
    /// Where cargo-leptos put the site (`pkg/` with the WASM bundle, CSS, public assets).
    pub site_root: PathBuf,
    /// A `tracing` filter; `RUST_LOG` wins when set.
    pub log: String,
    /// The server's address as clients see it (e.g. `https://images.example.com`), for absolute URLs in
    /// API answers. Empty: taken from each request's `Host` header.
    pub public_url: String,
    /// A second `host:port` that serves only `GET /metrics` (then the main address does not). Empty:
    /// metrics are on the main address.
    #[serde(deserialize_with = "optional_host_port")]
    pub metrics_addr: Option<SocketAddr>,
    /// Open connections at once (keep it below the process's file limit, `ulimit -n`).
    pub max_connections: usize,
    /// Open connections at once from one client address (an IPv6 /`security.ipv6_prefix` network);
    /// its further connections are closed at once. 0: no share. Not applied behind a trusted proxy
    /// (`security.client_ip_header`), whose connections all come from the proxy.
    pub max_connections_per_client: usize,
    /// Seconds for a request's headers to arrive, counted from when the connection waits for them
    /// (so it bounds an idle kept-alive connection too); then the connection is closed.
    pub header_timeout_secs: u64,
    /// Seconds a connection may stay open moving no byte while no request is being answered.
    pub idle_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            site_root: PathBuf::from("target/site"),
            log: "info".into(),
            public_url: String::new(),
            metrics_addr: None,
            max_connections: 4096,
            // A browser opens six per host; a busy script a few dozen.
            max_connections_per_client: 256,
            header_timeout_secs: 30,
            idle_timeout_secs: 20,
        }
    }
}

impl ServerConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log) {
            return invalid("server.log", format!("is not a valid log filter: {err}"));
        }
        http_url("server.public_url", &self.public_url, false)?;
        at_least_one("server.header_timeout_secs", self.header_timeout_secs)?;
        at_least_one("server.idle_timeout_secs", self.idle_timeout_secs)?;
        at_least_one("server.max_connections", self.max_connections as u64)
    }
}

/// `IP:port` as is, or `host:port` (`localhost:3000`) resolved to its first address.
fn host_port<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    use std::net::ToSocketAddrs;
    let text = String::deserialize(deserializer)?;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    text.to_socket_addrs()
        .map_err(|err| format!("`{text}` is not host:port ({err})"))
        .and_then(|mut addrs| {
            addrs
                .next()
                .ok_or_else(|| format!("`{text}` resolves to no address"))
        })
        .map_err(serde::de::Error::custom)
}

/// Like [`host_port`], with an empty value meaning "none".
fn optional_host_port<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    use serde::de::IntoDeserializer;
    let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(None);
    }
    host_port(text.trim().to_owned().into_deserializer()).map(Some)
}
