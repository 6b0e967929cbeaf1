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
    let database_url = sesame_testbed::test_database_url();
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
    let server = sesame_testbed::test_database_url();
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

#[test]
fn an_operator_command_on_the_in_memory_default_says_it_sees_no_server() {
    let output = sesame().args(["users", "list"]).output().expect("run sesame users list");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: users and sessions are in this command's own memory (SESSION_ENVIRONMENT=mock)")
            && stderr.contains("Set SESSION_ENVIRONMENT"),
        "{stderr}"
    );
    assert!(stderr.contains("0 users"), "{stderr}");
    let one_store = sesame()
        .args(["sessions", "list", "--user", "alice@example.com"])
        .env("SESSION_ENVIRONMENT", "development")
        .env("SESAME__STORE__USERS", "memory")
        .env("SESAME__STORE__SESSIONS", "memory")
        .output()
        .expect("run sesame sessions list");
    let stderr = String::from_utf8_lossy(&one_store.stderr);
    assert!(stderr.contains("(SESSION_ENVIRONMENT=development)"), "{stderr}");
    let served = sesame().args(["check-config"]).output().expect("run sesame check-config");
    assert!(!String::from_utf8_lossy(&served.stderr).contains("own memory"), "only commands that open a store warn");
}

#[test]
fn check_config_prints_each_setting_with_its_value_and_where_it_came_from() {
    let dir = std::env::temp_dir().join(format!("sesame-check-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env.development"), "SESSION_MAX_AGE_SECONDS=900\n").unwrap();
    let secret = dir.join("redis_url");
    std::fs::write(&secret, "redis://:hunter2@cache.internal:6379\n").unwrap();
    let checked = |json: bool| {
        let mut command = sesame();
        command
            .arg("check-config")
            .args(json.then_some("--json"))
            .current_dir(&dir)
            .env("SESSION_ENVIRONMENT", "development")
            .env("DATABASE_URL", "postgres://sesame:hunter2@db.internal:5432/sesame")
            .env("REDIS_URL_FILE", &secret)
            .env("SESAME__HTTP__ADDR", "127.0.0.1:4321");
        let output = command.output().expect("run sesame check-config");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("UTF-8")
    };
    let text = checked(false);
    let json = checked(true);
    std::fs::remove_dir_all(&dir).unwrap();

    let line = |name: &str| {
        let prefix = format!("{name}=");
        let line = text.lines().find(|line| line.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name}:\n{text}"));
        let (assignment, source) = line.split_once("  # ").expect("NAME=value  # source");
        (assignment.trim_end().to_owned(), source.to_owned())
    };
    let expected = [
        ("SESSION_ENVIRONMENT", "SESSION_ENVIRONMENT=development", "environment"),
        ("SESSION_MAX_AGE_SECONDS", "SESSION_MAX_AGE_SECONDS=900", ".env.development"),
        ("SESAME__HTTP__ADDR", "SESAME__HTTP__ADDR=127.0.0.1:4321", "environment"),
        ("DATABASE_URL", "DATABASE_URL=postgres://sesame:***@db.internal:5432/sesame", "environment"),
        ("REDIS_URL", "REDIS_URL=redis://:***@cache.internal:6379", "file (REDIS_URL_FILE)"),
        ("SESAME__STORE__SESSIONS", "SESAME__STORE__SESSIONS=tiered", "default (development)"),
        ("SESAME__REDIS__CLUSTER", "SESAME__REDIS__CLUSTER=false", "default (follows REDIS_URL)"),
        ("SESAME__COOKIE__PERSISTENT", "SESAME__COOKIE__PERSISTENT=false", "default"),
        ("SESAME__HTTP__METRICS_ADDR", "SESAME__HTTP__METRICS_ADDR=", "default, unset"),
    ];
    for (name, assignment, source) in expected {
        assert_eq!(line(name), (assignment.to_owned(), source.to_owned()), "{text}");
    }
    assert!(!text.contains("SESAME__SESSION__MAX_AGE_SECONDS"), "the seed's name, not its alias: {text}");
    assert!(!text.contains("Settings {") && !text.contains("SecretBox"), "no Debug dump: {text}");

    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("a JSON array");
    assert_eq!(rows.len(), text.lines().count(), "the same settings");
    let addr = rows.iter().find(|row| row["variable"] == "SESAME__HTTP__ADDR").expect("SESAME__HTTP__ADDR");
    assert_eq!((addr["value"].as_str(), addr["source"].as_str()), (Some("127.0.0.1:4321"), Some("environment")));
    let metrics = rows.iter().find(|row| row["variable"] == "SESAME__HTTP__METRICS_ADDR").expect("metrics");
    assert!(metrics["value"].is_null(), "unset is null: {metrics}");
    assert!(!text.contains("hunter2") && !json.contains("hunter2"), "never a password");
}

#[test]
fn log_lines_are_coloured_only_on_a_terminal_and_never_with_no_color() {
    const ESCAPE: char = '\u{1b}';
    // Piped: plain text.
    let piped = sesame().args(["users", "list"]).output().expect("run sesame");
    let piped = String::from_utf8_lossy(&piped.stderr);
    assert!(piped.contains("store status changed") && !piped.contains(ESCAPE), "{piped:?}");
    // On a terminal (`script` runs it on a pseudo-terminal): coloured, unless NO_COLOR.
    let on_terminal = |no_color: Option<&str>| {
        let mut command = Command::new("script");
        command
            .args(["-qec", &format!("{} users list", env!("CARGO_BIN_EXE_sesame")), "/dev/null"])
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TERM", "xterm");
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let shown = command.output().expect("script (util-linux) runs");
        String::from_utf8_lossy(&shown.stdout).into_owned()
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains("store status changed") && coloured.contains(ESCAPE), "{coloured:?}");
    let plain = on_terminal(Some("1"));
    assert!(plain.contains("store status changed") && !plain.contains(ESCAPE), "{plain:?}");
}
