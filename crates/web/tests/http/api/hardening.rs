//! The connection limits, over raw TCP: slow or idle clients are cut off,
//! oversize bodies are refused before they are sent, and open connections are
//! capped.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    time::timeout,
};

use crate::support::{TestApp, spawn_app_with};

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.expect("connect")
}

/// Everything the server sends until it closes the connection, or `None` when
/// it is still open after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    let closed = timeout(within, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    closed.ok().map(|()| String::from_utf8_lossy(&received).into_owned())
}

/// The status line of the first response within `within`.
async fn first_status_line(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    timeout(within, async {
        let mut buffer = [0u8; 1024];
        while !received.windows(2).any(|w| w == b"\r\n") {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .ok()?;
    let text = String::from_utf8_lossy(&received).into_owned();
    text.lines().next().map(str::to_owned)
}

fn short_timeouts() -> [(&'static str, &'static str); 2] {
    [("SESAME__HTTP__HEADER_TIMEOUT_SECONDS", "1"), ("SESAME__HTTP__BODY_TIMEOUT_SECONDS", "1")]
}

#[tokio::test]
async fn idle_and_half_sent_heads_are_cut_off_at_the_header_timeout() {
    let app = spawn_app_with(&short_timeouts()).await;
    let mut idle = connect(&app).await;
    let mut half = connect(&app).await;
    half.write_all(b"POST /api/auth/login HTTP/1.1\r\nHost: sesame\r\nContent-Type: app").await.unwrap();
    assert!(read_until_closed(&mut idle, Duration::from_secs(10)).await.is_some(), "the idle connection stays open");
    assert!(read_until_closed(&mut half, Duration::from_secs(10)).await.is_some(), "the half-sent head stays open");

    // Between requests on a kept-alive connection, the same.
    let mut kept = connect(&app).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: sesame\r\n\r\n").await.unwrap();
    assert_eq!(first_status_line(&mut kept, Duration::from_secs(5)).await.as_deref(), Some("HTTP/1.1 200 OK"));
    assert!(
        read_until_closed(&mut kept, Duration::from_secs(10)).await.is_some(),
        "the kept-alive connection stays open"
    );
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let app = spawn_app_with(&short_timeouts()).await;
    let mut stream = connect(&app).await;
    let head = "POST /api/auth/login HTTP/1.1\r\nHost: sesame\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(br#"{"email": "#).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await.expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

#[tokio::test]
async fn an_oversize_length_is_refused_before_the_body_is_sent_even_when_it_asks_to_continue() {
    let app = spawn_app_with(&[]).await;
    for expect in ["", "Expect: 100-continue\r\n"] {
        let mut stream = connect(&app).await;
        let head = format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: sesame\r\nContent-Type: application/json\r\n{expect}Content-Length: 10737418240\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let status = first_status_line(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"), "with {expect:?}");
    }
    let mut stream = connect(&app).await;
    let head = "POST /api/auth/login HTTP/1.1\r\nHost: sesame\r\nExpect: to-be-obeyed\r\nContent-Length: 2\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let status = first_status_line(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 417 Expectation Failed"));
}

#[tokio::test]
async fn a_body_without_a_length_is_cut_off_at_the_limit() {
    let app = spawn_app_with(&[]).await;
    for (size, expected) in [(17 * 1024, "HTTP/1.1 413"), (1024, "HTTP/1.1 422")] {
        let mut stream = connect(&app).await;
        let head = "POST /api/auth/register HTTP/1.1\r\nHost: sesame\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let body = format!("{{\"email\": \"{}@example.com\", \"password\": 1}}", "a".repeat(size));
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await.expect("answered and closed");
        assert!(answer.starts_with(expected), "{size} bytes: {answer}");
        if size > 16 * 1024 {
            assert!(answer.contains("payload_too_large"), "{answer}");
        }
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = spawn_app_with(&[("SESAME__HTTP__MAX_CONNECTIONS", "2")]).await;
    let first = connect(&app).await;
    let _second = connect(&app).await;
    // Let the server take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = connect(&app).await;
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: sesame\r\n\r\n").await.unwrap();
    assert_eq!(first_status_line(&mut third, Duration::from_millis(500)).await, None, "served beyond the cap");
    drop(first);
    let status = first_status_line(&mut third, Duration::from_secs(5)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"), "served once a connection closed");
}
