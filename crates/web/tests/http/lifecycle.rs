//! The binary's life as an orchestrator sees it: listening before the stores
//! answer, failing start-up with the cause, and draining on SIGTERM. Stores that
//! must misbehave are throw-away servers or silent sockets of the test's own.

use std::{
    net::TcpListener,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::{StatusCode, header};
use sesame_testbed::{Redis, Service, free_port};

/// A running `sesame serve`, its log collected.
struct Running(Service);

impl Running {
    fn start(vars: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sesame"));
        command
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SESAME__HTTP__ADDR", "127.0.0.1:0")
            .env("SESAME__LOG__FORMAT", "json")
            .envs(vars.iter().copied())
            .arg("serve");
        Self(Service::start(&mut command))
    }

    fn logs(&self) -> String {
        self.0.logs()
    }

    fn address(&self) -> String {
        self.0.listening_on(Duration::from_secs(10))
    }

    fn wait(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let logs = self.logs();
        self.0.wait_exit(deadline).unwrap_or_else(|| panic!("the service did not stop within {deadline:?}:\n{logs}"))
    }

    fn terminate(&self) {
        self.0.terminate();
    }
}

fn database_url() -> String {
    sesame_testbed::test_database_url()
}

fn schema() -> String {
    format!("sesame_test_{}", uuid::Uuid::new_v4().simple())
}

async fn readiness(base: &str) -> (StatusCode, serde_json::Value) {
    let response = reqwest::get(format!("{base}/readyz")).await.expect("readyz answers");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn a_tiered_instance_starts_and_serves_while_redis_is_down_and_redis_joins_when_it_answers() {
    let redis_port = free_port();
    let (database, schema) = (database_url(), schema());
    let running = Running::start(&[
        ("SESSION_ENVIRONMENT", "development"),
        ("DATABASE_URL", &database),
        ("SESAME__POSTGRES__SCHEMA", &schema),
        ("REDIS_URL", &format!("redis://127.0.0.1:{redis_port}")),
    ]);
    let base = running.address();
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), StatusCode::OK);

    // Stores built: PostgreSQL answers, Redis does not: degraded, yet serving.
    let started = Instant::now();
    let body = loop {
        let (status, body) = readiness(&base).await;
        if status == StatusCode::OK {
            break body;
        }
        assert_eq!(body["status"], "starting", "{body}");
        assert!(started.elapsed() < Duration::from_secs(15), "never ready:\n{}", running.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["sessions"], serde_json::json!({"backend": "tiered", "status": "degraded"}));
    // The log names each store it connects to, and the one that does not answer.
    let redis = format!("redis at redis://127.0.0.1:{redis_port}");
    let named = |message: &str, field: &str, store: &str| {
        running.0.lines().iter().any(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            event["message"] == message && event[field].as_str().is_some_and(|named| named.starts_with(store))
        })
    };
    let connecting = named("connecting", "store", "postgres at postgres://") && named("connecting", "store", &redis);
    assert!(connecting, "{}", running.logs());
    let silent = named("store status changed", "unreachable", &redis);
    assert!(silent, "the degraded store names its silent part:\n{}", running.logs());
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let registered = client
        .post(format!("{base}/api/auth/register"))
        .json(&serde_json::json!({"email": "early@example.com", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED, "{}", running.logs());
    assert_eq!(client.get(format!("{base}/api/auth/me")).send().await.unwrap().status(), StatusCode::OK);

    // An outage is a few log lines, not one or two per request.
    for _ in 0..50 {
        assert_eq!(client.get(format!("{base}/api/auth/me")).send().await.unwrap().status(), StatusCode::OK);
    }
    let loud: Vec<String> = running
        .0
        .lines()
        .into_iter()
        .filter(|line| line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\""))
        .collect();
    assert!(
        loud.len() <= 4,
        "51 requests during the outage logged {} warnings or errors:\n{}",
        loud.len(),
        loud.join("\n")
    );
    let started = Instant::now();
    let (_, body) = readiness(&base).await;
    assert!(started.elapsed() < Duration::from_secs(1), "readiness answers at once, whatever the stores do");
    assert_eq!(body["checks"]["users"], serde_json::json!({"backend": "postgres", "status": "up"}));

    let _redis = Redis::start_on(redis_port, &[]);
    let started = Instant::now();
    while readiness(&base).await.1["status"] != "ready" {
        assert!(started.elapsed() < Duration::from_secs(20), "Redis never joined:\n{}", running.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(client.get(format!("{base}/api/auth/me")).send().await.unwrap().status(), StatusCode::OK);
}

#[test]
fn a_missing_database_fails_start_up_naming_it_without_the_password() {
    let url = database_url();
    let (server, _) = url.rsplit_once('/').expect("a database in TEST_DATABASE_URL");
    let missing = format!("{server}/sesame_missing_{}", std::process::id())
        .replace("postgres://postgres@", "postgres://postgres:hunter2@");
    let mut running = Running::start(&[
        ("SESSION_ENVIRONMENT", "development"),
        ("DATABASE_URL", &missing),
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("SESAME__STORE__CONNECT_ATTEMPTS", "1"),
    ]);
    let status = running.wait(Duration::from_secs(20));
    assert!(!status.success());
    let logs = running.logs();
    assert!(logs.contains("does not exist"), "the cause is named:\n{logs}");
    assert!(logs.contains("postgres://postgres:***@"), "the URL is named, redacted:\n{logs}");
    assert!(!logs.contains("hunter2"), "{logs}");
}

#[tokio::test]
async fn redis_alone_that_never_answers_fails_start_up_within_about_ten_seconds() {
    // A socket that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = Arc::new(Mutex::new(Vec::new()));
    std::thread::spawn({
        let held = Arc::clone(&held);
        move || {
            for stream in silent.incoming().map_while(Result::ok) {
                held.lock().unwrap().push(stream);
            }
        }
    });
    let started = Instant::now();
    let mut running = Running::start(&[
        ("SESSION_ENVIRONMENT", "development"),
        ("DATABASE_URL", &database_url()),
        ("SESAME__POSTGRES__SCHEMA", &schema()),
        ("REDIS_URL", &format!("redis://127.0.0.1:{port}")),
        ("SESAME__STORE__SESSIONS", "redis"),
    ]);
    let base = running.address();
    let (status, body) = readiness(&base).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("starting")));

    let exit = running.wait(Duration::from_secs(20));
    let took = started.elapsed();
    assert!(!exit.success());
    assert!(took < Duration::from_secs(14), "start-up took {took:?} to fail");
    let logs = running.logs();
    assert!(logs.contains(&format!("cannot reach redis at redis://127.0.0.1:{port}")), "{logs}");
    assert!(logs.contains("timed out") || logs.contains("timeout"), "the cause is named:\n{logs}");
}

#[tokio::test]
async fn on_sigterm_readiness_turns_503_keep_alive_responses_close_and_the_process_exits() {
    let mut running = Running::start(&[("SESAME__HTTP__DRAIN_SECONDS", "2")]);
    let base = running.address();
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/readyz")).send().await.unwrap().status() != StatusCode::OK {
        assert!(started.elapsed() < Duration::from_secs(10), "{}", running.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert!(before.headers().get(header::CONNECTION).is_none(), "no close before the drain");

    running.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = client.get(format!("{base}/readyz")).send().await.expect("still answering during the drain");
    assert_eq!(during.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(during.headers().get(header::CONNECTION).map(|v| v.to_str().unwrap()), Some("close"));
    let body: serde_json::Value = during.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    let served = client.get(format!("{base}/healthz")).send().await.expect("served during the drain");
    assert_eq!(served.status(), StatusCode::OK);

    let status = running.wait(Duration::from_secs(10));
    assert!(status.success(), "{status}\n{}", running.logs());
    let took = started.elapsed();
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err(), "nothing listens after shutdown");
    assert!(took >= Duration::from_secs(2), "the drain lasted its 2 s");
}
