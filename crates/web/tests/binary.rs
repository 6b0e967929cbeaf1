//! The `sesame` binary as an operator runs it: zero-config start, graceful stop on
//! SIGTERM, and refusals that name the setting.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn sesame() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sesame"));
    // A directory without .env files, and none of the developer's settings.
    command.current_dir(std::env::temp_dir()).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// Waits for the JSON log line `listening` and returns the address it names.
fn listening_address(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("log line");
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if event["message"] == "listening" {
            return event["address"].as_str().expect("address field").to_owned();
        }
    }
    panic!("the service exited without logging `listening`");
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if started.elapsed() > deadline {
            child.kill().ok();
            panic!("the service did not stop within {deadline:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn starts_with_nothing_configured_and_stops_cleanly_on_sigterm() {
    let mut child = sesame()
        .args(["serve"])
        .env("SESAME__HTTP__ADDR", "127.0.0.1:0")
        .env("SESAME__LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sesame");
    let address = listening_address(&mut child);

    let health = reqwest::get(format!("http://{address}/healthz")).await.expect("healthz");
    assert_eq!(health.status(), 200);
    // Listening comes before the stores are built: readiness follows shortly.
    let started = Instant::now();
    let ready: serde_json::Value = loop {
        let answer = reqwest::get(format!("http://{address}/readyz")).await.unwrap();
        if answer.status() == 200 || started.elapsed() > Duration::from_secs(10) {
            break answer.json().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(ready["checks"]["users"]["backend"], "memory");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let status = wait_with_deadline(&mut child, Duration::from_secs(10));
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    assert!(reqwest::get(format!("http://{address}/healthz")).await.is_err(), "nothing listens after shutdown");
}

#[test]
fn production_without_its_settings_refuses_to_start_naming_them() {
    let output = sesame().env("SESSION_ENVIRONMENT", "production").output().expect("run sesame");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("production refuses to start: DATABASE_URL is not set"), "{stderr}");

    let output = sesame()
        .env("SESSION_ENVIRONMENT", "production")
        .env("DATABASE_URL", "postgres://sesame:hunter2@db/sesame")
        .env("REDIS_URL", "redis://:hunter2@cache")
        .env("SESAME__COOKIE__SECURE", "false")
        .output()
        .expect("run sesame");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("SESAME__COOKIE__SECURE"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "a refusal never prints a secret: {stderr}");
}

#[test]
fn an_unknown_environment_is_refused_naming_the_variable() {
    let output = sesame().env("SESSION_ENVIRONMENT", "staging").output().expect("run sesame");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SESSION_ENVIRONMENT=\"staging\""));
}

#[test]
fn migrate_applies_the_migrations_in_the_configured_schema() {
    let database_url =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("sesame_test_{}", uuid::Uuid::new_v4().simple());
    let output = sesame()
        .arg("migrate")
        .env("SESSION_ENVIRONMENT", "development")
        .env("DATABASE_URL", &database_url)
        .env("SESAME__POSTGRES__SCHEMA", &schema)
        .env("SESAME__STORE__CONNECT_ATTEMPTS", "1")
        .output()
        .expect("run sesame migrate");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sesame migrate failed (is PostgreSQL at TEST_DATABASE_URL up?): {stderr}");

    // The schema now holds the users table: psql answers from the same server.
    let table = Command::new("psql")
        .args([&database_url, "-qAtc", &format!("SELECT count(*) FROM {schema}.users")])
        .output()
        .expect("psql");
    assert_eq!(String::from_utf8_lossy(&table.stdout).trim(), "0", "{}", String::from_utf8_lossy(&table.stderr));
}

#[test]
fn an_unreachable_database_is_named_without_its_password() {
    let output = sesame()
        .arg("migrate")
        .env("SESSION_ENVIRONMENT", "development")
        .env("DATABASE_URL", "postgres://sesame:hunter2@127.0.0.1:1/sesame")
        .env("SESAME__STORE__CONNECT_ATTEMPTS", "2")
        .env("SESAME__POSTGRES__ACQUIRE_TIMEOUT_MS", "200")
        .output()
        .expect("run sesame migrate");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach postgres at postgres://sesame:***@127.0.0.1:1/sesame"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_missing_database_is_called_missing_at_once_with_what_to_run() {
    let server =
        std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (server, _) = server.rsplit_once('/').expect("a database URL ends in /NAME");
    let output = sesame()
        .arg("migrate")
        .env("SESSION_ENVIRONMENT", "development")
        .env("DATABASE_URL", format!("{server}/sesame_no_such_database"))
        .env("SESAME__STORE__CONNECT_ATTEMPTS", "5")
        .output()
        .expect("run sesame migrate");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("database \"sesame_no_such_database\" does not exist")
            && stderr.contains("createdb sesame_no_such_database"),
        "(is PostgreSQL at TEST_DATABASE_URL up?) {stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stderr.contains("cannot reach"), "{stderr}");
    assert!(!stdout.contains("retrying") && !stderr.contains("retrying"), "not retried: {stdout}{stderr}");
}

#[tokio::test]
async fn outside_production_each_request_gets_an_access_line_with_its_request_id() {
    let service = sesame_testbed::Service::start(
        sesame().env("SESAME__HTTP__ADDR", "127.0.0.1:0").env("SESAME__LOG__FORMAT", "json"),
    );
    let base = service.listening_on(Duration::from_secs(30));
    let answer = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .header("x-request-id", "access-line-1")
        .send()
        .await
        .expect("healthz");
    assert_eq!(answer.status(), 200);
    let started = Instant::now();
    let line = loop {
        let found = service.lines().into_iter().find_map(|line| {
            let event = serde_json::from_str::<serde_json::Value>(&line).ok()?;
            (event["message"] == "served" && event["request_id"] == "access-line-1").then_some(event)
        });
        if let Some(line) = found {
            break line;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no access line:\n{}", service.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(line["target"], "sesame::access");
    assert_eq!(
        (line["method"].as_str(), line["path"].as_str(), line["status"].as_u64()),
        (Some("GET"), Some("/healthz"), Some(200))
    );
}
