//! Accepting connections. `axum::serve` offers no knobs, and an origin on the internet needs them:
//! `TCP_NODELAY` on every connection (small answers otherwise wait out Nagle's algorithm against the
//! client's delayed ACK, 40 ms each), a cap on open connections (beyond it, new ones wait in the
//! kernel's backlog), and a deadline for a request's headers, which hyper also applies to a kept-alive
//! connection waiting for its next request, so a client that dribbles bytes or idles is closed. The
//! loop is hyper-util's connection builder; shutdown stops accepting and lets connections finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What a connection may hold of the server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at once; more wait to be accepted.
    pub max_connections: usize,
    /// For a request's headers to arrive, and for an idle kept-alive connection to send its next one.
    pub header_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for open connections to
/// finish their requests. Handlers see the peer address as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
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
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "TCP_NODELAY not set");
        }
        let service = router
            .clone()
            .map_request(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection = graceful.watch(
            builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .into_owned(),
        );
        tokio::spawn(async move {
            // A client that leaves or times out ends its connection; nothing to report.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The limits from `[server]`.
pub fn limits(config: &crate::server::config::ServerConfig) -> ConnectionLimits {
    ConnectionLimits {
        max_connections: config.max_connections,
        header_timeout: Duration::from_secs(config.header_timeout_secs),
    }
}
