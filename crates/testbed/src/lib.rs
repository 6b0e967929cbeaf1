//! Throw-away PostgreSQL and Redis servers on loopback, for the tests and tools
//! that break stores: restart, flush, pause, kill, evict; and [`Service`], a
//! program run as a server with its log collected (the `sesame` binary).
//!
//! Each server gets a free port and a directory of its own under the system's
//! temporary directory, and is stopped (and its directory removed) when dropped.
//! Nothing here ever touches the machine's shared servers (5432, 6379). The
//! servers come from the machine's own binaries (`redis-server`, PostgreSQL's
//! `initdb` and `pg_ctl`); a missing binary fails loudly, naming it.
//!
//! It also says, once, where the machine's shared stores are for the tests
//! that only read and write them ([`test_database_url`], [`test_redis_url`]).
//!
//! Depends on no workspace crate and no third-party crate: it only runs programs.

mod postgres;
mod redis;
mod service;

use std::{
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::Command,
    thread,
    time::{Duration, Instant},
};

pub use postgres::Postgres;
pub use redis::{Redis, RedisCluster};
pub use service::Service;

/// The shared PostgreSQL database the tests make their schemas in:
/// `TEST_DATABASE_URL`, else the local server's `test` database.
pub fn test_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The shared Redis the tests put their key prefixes in: `TEST_REDIS_URL`,
/// else the local server.
pub fn test_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// Whether something accepts connections on loopback `port`.
pub fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

/// Waits until `ready` holds, or panics naming `what` after `deadline`.
fn wait_until(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < deadline, "{what} was not ready within {deadline:?}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory for one server.
fn scratch_dir(kind: &str, port: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sesame-testbed-{kind}-{port}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
    dir
}

/// Runs `command`; its standard output, or a panic naming it and its error output.
fn run(command: &mut Command) -> String {
    let shown = format!("{command:?}");
    let output = command.output().unwrap_or_else(|err| panic!("cannot run {shown}: {err} (is it installed?)"));
    assert!(output.status.success(), "{shown} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
