//! `sesame healthcheck`: asks a running service's `GET /readyz` on the
//! configured address, for a container's health check (the image ships no
//! curl). Loopback when the service listens on every address.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// How long the whole check may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Whether the service listening on `addr` answers `/readyz` with 200; why not otherwise.
pub async fn check(addr: SocketAddr) -> Result<(), String> {
    let target = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    };
    let status = tokio::time::timeout(TIMEOUT, ask(target))
        .await
        .map_err(|_| format!("{target} did not answer within {TIMEOUT:?}"))?
        .map_err(|err| format!("{target}: {err}"))?;
    if status == "200" { Ok(()) } else { Err(format!("{target}/readyz answered {status}")) }
}

/// The status code of `GET /readyz`.
async fn ask(target: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(target).await?;
    stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < 12 {
        let n = stream.read(&mut head[read..]).await?;
        if n == 0 {
            break;
        }
        read += n;
    }
    // "HTTP/1.1 200 OK": the status is the second word.
    let line = String::from_utf8_lossy(&head[..read]);
    Ok(line.split_whitespace().nth(1).unwrap_or("no status").to_owned())
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    /// A server that answers one request with `response`; its address.
    async fn answering(response: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 256];
            let _ = stream.read(&mut request).await;
            stream.write_all(response.as_bytes()).await.unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn ready_is_ok_and_anything_else_is_an_error_that_says_why() {
        let ready = answering("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        assert_eq!(check(ready).await, Ok(()));

        let draining = answering("HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await;
        let err = check(draining).await.unwrap_err();
        assert!(err.contains("answered 503"), "{err}");

        let nobody = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
        let err = check(nobody).await.unwrap_err();
        assert!(err.contains(&nobody.to_string()), "{err}");
    }

    #[tokio::test]
    async fn a_service_on_every_address_is_asked_on_loopback() {
        let ready = answering("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        let everywhere = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), ready.port());
        assert_eq!(check(everywhere).await, Ok(()));
    }
}
