//! The HTTP/1.1 server loop: hyper with the limits that `axum::serve` does not
//! set — a deadline for each request head (which also closes idle keep-alive
//! connections: hyper starts it when it waits for the next request), a
//! deadline for each request body, and a cap on open connections — and a
//! graceful shutdown that stops accepting, lets in-flight requests finish and
//! closes idle connections.
//!
//! HTTP/2 is not served: TLS and HTTP/2 end at the proxy in front.

use std::{future::Future, io, sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo, http::Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt as _;
use tower_http::timeout::DeadlineBody;

/// The limits on connections and their requests.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The longest a connection may take to send a complete request head, or
    /// stay idle between requests.
    pub header_timeout: Duration,
    /// The longest a request body may take to arrive, from when the head did.
    pub body_timeout: Duration,
    /// Connections open at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves,
/// then stops accepting and waits for open connections to finish their
/// requests (idle ones close at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut said_full = false;
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        if permits.available_permits() == 0 && !said_full {
            said_full = true;
            tracing::warn!(max = limits.max_connections, "connection cap reached; new connections wait");
        } else if permits.available_permits() > limits.max_connections / 10 {
            said_full = false;
        }
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors, or a connection reset before it was
                    // accepted: pause rather than spin, and go on.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |request: Request<Incoming>| {
            let mut request = request.map(|body| Body::new(DeadlineBody::new(limits.body_timeout, body)));
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
