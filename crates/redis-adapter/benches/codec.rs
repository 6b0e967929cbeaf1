//! Criterion benchmarks of the session record codec: decoding what `HMGET`
//! answers for a session key, and encoding one (`cargo bench -p sesame-redis`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sesame_ports::{SessionMetadata, testkit::SessionBuilder};
use time::OffsetDateTime;

// The codec itself, compiled into the benchmark (it is private to the crate).
#[allow(dead_code, unreachable_pub)]
#[path = "../src/codec.rs"]
mod codec;

fn codec(c: &mut Criterion) {
    let session = SessionBuilder::opened_at(OffsetDateTime::now_utc())
        .metadata(SessionMetadata::new(
            Some([203, 0, 113, 7].into()),
            Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"),
        ))
        .build();
    let fields = codec::encode(&session, true);
    let value = |name: &str| fields.iter().find(|(field, _)| *field == name).map(|(_, value)| value.as_str());
    let read = codec::Read(codec::READ.map(value));

    c.bench_function("record: decode a session from HMGET's answer", |b| {
        b.iter(|| codec::decode(black_box(session.token_hash), black_box(&read)));
    });
    c.bench_function("record: encode a session's fields", |b| b.iter(|| codec::encode(black_box(&session), true)));
}

criterion_group!(benches, codec);
criterion_main!(benches);
