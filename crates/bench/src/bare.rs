//! `sesame-bench bare ADDR`: the reference every speed is quoted against — an
//! axum hello-world route with no middleware, on the same axum and tokio as
//! sesame and the same runtime (tokio's multi-threaded default, as
//! `#[tokio::main]` builds it for the `sesame` binary).

use std::net::SocketAddr;

use axum::{Router, routing::get};

/// Serves `GET /` → `200 hello` on `address` until the process is killed.
pub(crate) fn serve(address: SocketAddr) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address).await?;
        axum::serve(listener, Router::new().route("/", get(|| async { "hello" }))).await
    })
}
