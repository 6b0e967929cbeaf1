//! The HTTP/1.1 server loop: hyper with the limits that `axum::serve` does not
//! set — a deadline for each request head (which also closes idle keep-alive
//! connections: hyper starts it when it waits for the next request), a
//! deadline and a size limit ([`MAX_BODY_BYTES`]) for each request body, a
//! deadline on response writes that make no progress (a client that stops
//! reading), and a cap on open connections — and a graceful shutdown that stops accepting, lets in-flight requests finish and
//! closes idle connections.
//!
//! HTTP/2 is not served: TLS and HTTP/2 end at the proxy in front.

use std::{
    convert::Infallible,
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{body::Body, extract::ConnectInfo, http::Request, response::Response};
use http_body_util::Limited;
use hyper::{
    body::{Body as _, Incoming},
    server::conn::http1,
};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpListener,
    sync::Semaphore,
    time::Sleep,
};
use tower::{Service, ServiceExt as _};
use tower_http::timeout::DeadlineBody;

use crate::routes::MAX_BODY_BYTES;

/// The most a connection's read buffer holds (hyper's default is ~400 KiB).
const READ_BUFFER_BYTES: usize = 32 * 1024;

/// The limits on connections and their requests.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// The longest a connection may take to send a complete request head, or
    /// stay idle between requests.
    pub header_timeout: Duration,
    /// The longest a request body may take to arrive, from when the head did;
    /// also the longest a response write may make no progress.
    pub body_timeout: Duration,
    /// Connections open at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves,
/// then stops accepting and waits for open connections to finish their
/// requests (idle ones close at once).
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        // A request head larger than this is refused (431): bounds what each
        // connection holds while its head trickles in.
        .max_buf_size(READ_BUFFER_BYTES);
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
        let service = app.clone().map_request(move |request: Request<Incoming>| {
            let mut request = request.map(|body| {
                // A request without a body has nothing to wait for or count.
                if body.is_end_stream() {
                    Body::new(body)
                } else {
                    Body::new(Limited::new(DeadlineBody::new(limits.body_timeout, body), MAX_BODY_BYTES))
                }
            });
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let stream = TokioIo::new(WriteDeadline::new(stream, limits.body_timeout));
        let connection = builder.serve_connection(stream, TowerToHyperService::new(service));
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

/// A stream whose writes fail once they have made no progress for `limit`,
/// so that a client that stops reading its answers cannot hold its connection
/// (and its place under the cap) for ever.
struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    /// Running while a write waits for the client to read.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Self { inner, limit, stalled: None }
    }

    /// `poll` of a write, with the deadline: it starts when the write first
    /// waits, resets when it makes progress, and fails it when it passes.
    fn deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut S, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match poll(&mut self.inner, cx) {
            Poll::Pending => {
                let limit = self.limit;
                let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing of its answer in time",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().deadline(cx, |inner, cx| Pin::new(inner).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().deadline(cx, |inner, cx| Pin::new(inner).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().deadline(cx, |inner, cx| Pin::new(inner).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().deadline(cx, |inner, cx| Pin::new(inner).poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_never_reads_fails_at_the_deadline_and_one_it_reads_does_not() {
        let (server, mut client) = tokio::io::duplex(64);
        let mut stream = WriteDeadline::new(server, Duration::from_secs(10));
        let started = tokio::time::Instant::now();
        let err = stream.write_all(&[0u8; 1024]).await.expect_err("nobody reads");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(10));

        let (server, mut client_two) = tokio::io::duplex(64);
        let mut stream = WriteDeadline::new(server, Duration::from_secs(10));
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut client_two, &mut sink).await.map(|_| sink.len())
        });
        stream.write_all(&[0u8; 1024]).await.expect("read as it goes");
        drop(stream);
        assert_eq!(reader.await.unwrap().unwrap(), 1024);
        drop(client.shutdown().await);
    }
}
