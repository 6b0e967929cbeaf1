//! Criterion benchmarks of the pure pieces every authenticated request runs
//! before it reaches a store: finding the session cookie among the request's
//! cookies, and parsing and hashing its token (`cargo bench -p sesame-web`).

use std::hint::black_box;

use axum::http::{HeaderMap, HeaderValue, header};
use criterion::{Criterion, criterion_group, criterion_main};
use sesame_core::SessionToken;
use sesame_web::cookies::SessionCookie;

fn hot_path(c: &mut Criterion) {
    let token = SessionToken::generate().expect("randomness");
    let cookie = SessionCookie::new("sessionId", true);
    let mut headers = HeaderMap::new();
    let header_value = format!("_ga=GA1.2.3.4; theme=dark; sessionId={}; consent=yes", token.expose());
    headers.insert(header::COOKIE, HeaderValue::from_str(&header_value).expect("a header"));

    c.bench_function("cookie: find the session token among four cookies", |b| {
        b.iter(|| cookie.candidates(black_box(&headers)));
    });
    c.bench_function("token: parse", |b| b.iter(|| SessionToken::parse(black_box(token.expose()))));
    c.bench_function("token: SHA-256 hash", |b| b.iter(|| black_box(&token).hash()));
    let hash = token.hash();
    c.bench_function("token hash: hex for the Redis key", |b| b.iter(|| black_box(&hash).to_hex()));
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
