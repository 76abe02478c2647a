//! Accepting connections, HTTP/1.1 only. `axum::serve` offers no knobs, and an origin on the internet
//! needs them: `TCP_NODELAY` on every connection (small answers otherwise wait out Nagle's algorithm against the
//! client's delayed ACK, 40 ms each), a cap on open connections (beyond it, new ones wait in the
//! kernel's backlog) and a share of it per client address (beyond it, the client's new connections
//! are closed at once, so one address cannot take every slot), a deadline for a request's headers (hyper's, which starts as soon as a connection
//! waits for its next request, so it also bounds an idle one), and an idle timeout: a connection that
//! moves no byte while no request is being answered is closed. The loop is hyper-util's connection
//! builder; shutdown stops accepting and lets connections finish.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

use crate::server::guard::{Client, ClientRules};

/// What a connection may hold of the server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at once; more wait to be accepted.
    pub max_connections: usize,
    /// Open connections at once from one client address (an IPv6 network counted as the rate limits
    /// count it); 0: no share (behind a proxy every connection comes from the proxy).
    pub per_client: usize,
    /// How much of an IPv6 address is one client.
    pub ipv6_prefix: u8,
    /// For a request's headers to arrive, counted from when the connection waits for them.
    pub header_timeout: Duration,
    /// For a connection to stay open moving no byte while no request is being answered.
    pub idle_timeout: Duration,
}

/// Serves `app` (the router, or the hit path in front of it) on `listener` until `shutdown` resolves,
/// then waits for open connections to finish their requests. Handlers see the peer address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // HTTP/1.1 only. Browsers speak HTTP/2 only over TLS, which a proxy or CDN in front ends, and those
    // reach an origin over HTTP/1.1; cleartext HTTP/2 (prior knowledge) would only be a way around the
    // header timeout, which hyper enforces for HTTP/1 alone: a client trickling HTTP/2 frames moves
    // bytes, so it never looks idle either.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let shares = Arc::new(Shares::new(&limits));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset before it was accepted: wait a
                    // moment rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(share) = shares.take(peer.ip()) else {
            tracing::debug!("a client over its share of connections was closed");
            metrics::counter!("pixzoo_refusals_total", "reason" => "connection_share").increment(1);
            continue;
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "TCP_NODELAY not set");
        }
        let activity = Arc::new(Activity::default());
        let answering = activity.clone();
        let service = app
            .clone()
            .map_request(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            })
            .map_future(move |answer| {
                let answering = Answering::start(answering.clone());
                async move {
                    let _answering = answering;
                    answer.await
                }
            });
        let stream = Watched {
            stream,
            activity: activity.clone(),
        };
        let connection = graceful.watch(
            builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .into_owned(),
        );
        let idle_timeout = limits.idle_timeout;
        tokio::spawn(async move {
            // A client that leaves or times out ends its connection; nothing to report. An idle one
            // is closed by dropping it: no request is being answered, so nothing is cut short.
            tokio::select! {
                _ = connection => {}
                () = activity.idle_for(idle_timeout) => {}
            }
            drop((permit, share));
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Open connections per client address, for [`ConnectionLimits::per_client`]. The map holds only
/// clients with a connection open, so it is never larger than `max_connections`.
struct Shares {
    per_client: usize,
    rules: ClientRules,
    open: Mutex<HashMap<Client, usize>>,
}

impl Shares {
    fn new(limits: &ConnectionLimits) -> Self {
        Self {
            per_client: limits.per_client,
            rules: ClientRules {
                proxy_header: None,
                ipv6_prefix: limits.ipv6_prefix,
            },
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A place for one more connection from `ip`, or `None` when that client holds its share.
    fn take(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<Share> {
        if self.per_client == 0 {
            return Some(Share(None));
        }
        let client = self.rules.ip(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(client.clone()).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(Share(Some((self.clone(), client))))
    }
}

/// One connection's place in its client's share, given back when the connection ends.
struct Share(Option<(Arc<Shares>, Client)>);

impl Drop for Share {
    fn drop(&mut self) {
        let Some((shares, client)) = self.0.take() else {
            return;
        };
        let mut open = shares.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&client);
            }
        }
    }
}

/// What a connection has done lately, for its idle timeout: bytes moved either way, and requests being
/// answered. Counted by the connection's own task, so the counters are never contended.
#[derive(Default)]
struct Activity {
    bytes: AtomicU64,
    answering: AtomicUsize,
}

impl Activity {
    /// Resolves once the connection has moved no byte for `timeout` while answering nothing. Looks
    /// four times per timeout, so a quiet connection is closed within 1¼ of it.
    async fn idle_for(&self, timeout: Duration) {
        let mut every = tokio::time::interval((timeout / 4).max(Duration::from_millis(10)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        let (mut seen, mut quiet) = (self.bytes.load(Ordering::Relaxed), Duration::ZERO);
        loop {
            every.tick().await;
            let now = self.bytes.load(Ordering::Relaxed);
            if now != seen || self.answering.load(Ordering::Relaxed) > 0 {
                (seen, quiet) = (now, Duration::ZERO);
            } else {
                quiet += every.period();
                if quiet >= timeout {
                    return;
                }
            }
        }
    }
}

/// A request being answered, for as long as its handler runs.
struct Answering(Arc<Activity>);

impl Answering {
    fn start(activity: Arc<Activity>) -> Self {
        activity.answering.fetch_add(1, Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.answering.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's stream, counting the bytes it moves.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn moved(&self, n: usize) {
        if n > 0 {
            self.activity.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            self.moved(buf.filled().len() - before);
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.moved(n);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = written {
            self.moved(n);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The limits from `[server]`, and from `[security]` how clients are told apart (behind a trusted
/// proxy, `security.client_ip_header`, every connection comes from the proxy: no share applies).
pub fn limits(config: &crate::server::config::Config) -> ConnectionLimits {
    let behind_proxy = !config.security.client_ip_header.trim().is_empty();
    let security = &config.security;
    let config = &config.server;
    ConnectionLimits {
        max_connections: config.max_connections,
        per_client: if behind_proxy {
            0
        } else {
            config.max_connections_per_client
        },
        ipv6_prefix: security.ipv6_prefix,
        header_timeout: Duration::from_secs(config.header_timeout_secs),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs),
    }
}
