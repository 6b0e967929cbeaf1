//! `cargo xtask <task>`: sesame's developer tasks, in Rust so they run wherever cargo does.
//!
//! Tasks:
//! - `setup`: checks PostgreSQL and Redis answer, creates the development
//!   database, runs the migrations; says what to do when something is missing.
//! - `services up|down`: PostgreSQL and Redis, through docker compose when a
//!   Docker engine answers, else the machine's own; it says which.
//! - `db migrate|reset`: the development database's migrations, or a fresh database.
//! - `test`: the whole suite, store-backed and Redis Cluster tests included (it
//!   installs the tools it uses first, starts the services and throw-away
//!   Redis servers — a Cluster, a password-protected one, a TLS one — and
//!   stops those after), and the account page's browser tests in headless
//!   Chromium (it installs their axe-core from npm; screenshots land in the
//!   build directory's `screenshots`). Both `cargo test` passes run to their
//!   end; one summary names every failed test.
//! - `tools [--ci]`: what `test` needs, and with `--ci` what `.ci/run` needs
//!   besides, installed or named (`tools.rs`).
//! - `faults [--quick] [--only NAME]`: the fault suite (`sesame-faults`) on
//!   throw-away stores; the full run writes its table into docs/reliability.md.
//! - `topology [--quick]`: the production topology natively — the release
//!   build made with the container image's cargo command, two instances behind
//!   Debian's HAProxy on docker/haproxy/haproxy.cfg — restarted one by one,
//!   then one killed, under load (`sesame-faults --topology`).
//! - `api-check`: schemathesis, every check on, against the service in mock
//!   mode, from its own `/api/openapi.json`, signed in as a user it registers;
//!   then the TypeScript client (clients/typescript): its generated types
//!   current, and `tsc`.
//! - `bench [--quick]`: throughput, latency, CPU and memory per endpoint and
//!   store mode against a bare axum route, with `wrk` (`sesame-bench
//!   throughput`); the full run writes docs/performance/throughput.{md,svg}.
//! - `bench storm`: the login-storm benchmark (`sesame-bench`) against the
//!   release build; its figures are in docs/security.md.
//! - `bench sizing [--sessions N]`: store memory per session, PostgreSQL
//!   writes per 10,000 active sessions, `/me` with 1,000 and 1,000,000 live
//!   sessions; its figures are in docs/deployment.md.
//! - `bench transfer`: memory of `sesame sessions import|export` moving
//!   1,000,000 sessions; its figures are in docs/operations.md.
//! - `ci`: runs `.ci/run` (formatting, lints, the deployment files, the alert
//!   rules, `test`, `faults --quick`, `topology --quick`; it installs what it
//!   needs).
//! - `tidy`: the architecture checks of docs/architecture.md.
//!
//! Every child command's exit status is checked; the first failure stops the task.

mod services;
mod suite;
mod tidy;
mod tools;

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["setup"] => setup(),
        ["services", "up"] => services::up(),
        ["services", "down"] => services::down(),
        ["db", "migrate"] => migrate(),
        ["db", "reset"] => reset_database(),
        ["test", extra @ ..] => test(extra),
        ["tools", extra @ ..] => install_tools(extra),
        ["faults", extra @ ..] => faults(extra),
        ["topology", extra @ ..] => topology(extra),
        ["api-check"] => api_check(),
        ["bench", "storm"] => bench_storm(),
        ["bench", "transfer"] => bench_transfer(),
        ["bench", "sizing", extra @ ..] => bench_sizing(extra),
        ["bench"] => bench_throughput(false),
        ["bench", "--quick"] => bench_throughput(true),
        ["ci"] => ci(),
        ["tidy"] => tidy::check_all(&project_root()),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  setup             check PostgreSQL and Redis, create the development database, migrate
  services up|down  start or stop PostgreSQL and Redis (docker compose, or the local ones)
  db migrate|reset  migrate the development database, or drop and recreate it first
  test [ARGS]       the whole test suite with its services and test Redis servers, after
                    installing the tools it uses (ARGS go to the first `cargo test --workspace`)
  tools [--ci]      find and install what `test` needs (--ci: and what .ci/run needs besides),
                    or name every missing piece and how to install it
  faults [--quick] [--only NAME]
                    users under load while throw-away stores fail; the full run writes
                    its table into docs/reliability.md
  topology [--quick]
                    the release build behind HAProxy (docker/haproxy/haproxy.cfg): two
                    instances restarted one after the other, then one killed, under load
  api-check         schemathesis against the mock service's own OpenAPI document, then the
                    TypeScript client's generated types and tsc
  bench [--quick]   req/s, p50/p99, CPU and memory of each endpoint and store mode against a
                    bare axum route (wrk); the full run (about 10 minutes) writes
                    docs/performance/throughput.md and .svg, --quick a 1-minute smoke run
  bench storm       200 concurrent logins against the release build: peak and settled
                    memory, /me latency during the storm (docs/security.md)
  bench transfer    memory of `sesame sessions import|export` moving 1,000,000 sessions
                    through a throw-away Redis (docs/operations.md)
  bench sizing [--sessions N]
                    Redis and PostgreSQL bytes per session, PostgreSQL writes per 10,000
                    active sessions, /me with 1,000 and N (1,000,000) live sessions
                    (docs/deployment.md)
  ci                runs .ci/run: formatting, lints, the deployment files (hadolint, compose,
                    HAProxy, Kubernetes manifests, checkov), alert rules, tests, the quick
                    fault suite and the topology run (it installs what is missing)
  tidy              the architecture checks";

/// The development database, as .env.development names it.
const DEV_DATABASE: &str = "sesame";
/// The tests' database when `TEST_DATABASE_URL` is unset.
const TEST_DATABASE: &str = "test";
/// Drops the schemas that earlier test runs made (one per test).
const DROP_TEST_SCHEMAS: &str = r"DO $$ DECLARE s text; BEGIN
    FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sesame\_test\_%' LOOP
        EXECUTE format('DROP SCHEMA %I CASCADE', s);
    END LOOP; END $$";

/// The workspace root: the parent of this crate's directory. Read at run time
/// (`cargo run` sets `CARGO_MANIFEST_DIR`): two checkouts sharing one target
/// directory share one `xtask` binary, and the path baked in at build time may
/// be the other checkout's.
fn project_root() -> PathBuf {
    let manifest_dir =
        env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    Path::new(&manifest_dir).parent().expect("xtask lives in the workspace root").to_path_buf()
}

fn setup() -> Result<(), String> {
    for (name, address) in [("PostgreSQL", services::POSTGRES), ("Redis", services::REDIS)] {
        if !services::answers(address) {
            return Err(format!(
                "{name} does not answer on {address}. Run `cargo xtask services up` (Docker, or the local \
                 services), or point DATABASE_URL / REDIS_URL in .env.development at running servers."
            ));
        }
        eprintln!("setup: {name} answers on {address}");
    }
    ensure_database(DEV_DATABASE)?;
    migrate()?;
    ensure_wrk()?;
    eprintln!("setup: done. Start the service with: SESSION_ENVIRONMENT=development cargo run -p sesame-web");
    Ok(())
}

/// `psql` on the local server as `postgres`, running `sql` in `database`.
fn psql(database: &str, sql: &str) -> Command {
    let mut command = Command::new("psql");
    command.args(["-h", "127.0.0.1", "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qAtc", sql]);
    // Not a NOTICE for every table a dropped schema held.
    command.env("PGOPTIONS", "-c client_min_messages=warning");
    command
}

/// Creates `name` on the local server unless it exists.
fn ensure_database(name: &str) -> Result<(), String> {
    let exists = psql("postgres", &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"))
        .output()
        .map_err(|err| format!("cannot run psql: {err}"))?;
    if !exists.status.success() {
        return Err(format!("psql cannot query the local server: {}", String::from_utf8_lossy(&exists.stderr).trim()));
    }
    if String::from_utf8_lossy(&exists.stdout).trim() == "1" {
        return Ok(());
    }
    run(&mut psql("postgres", &format!("CREATE DATABASE {name}")))
}

fn migrate() -> Result<(), String> {
    run(cargo_command(&["run", "-q", "-p", "sesame-web", "--", "migrate"]).env("SESSION_ENVIRONMENT", "development"))
}

fn reset_database() -> Result<(), String> {
    run(&mut psql("postgres", &format!("DROP DATABASE IF EXISTS {DEV_DATABASE} WITH (FORCE)")))?;
    ensure_database(DEV_DATABASE)?;
    migrate()
}

fn test(extra: &[&str]) -> Result<(), String> {
    // Before anything is built: every tool the suite uses, installed or named.
    tools::ensure(&[tools::FOR_TESTS])?;
    let screenshots = browser_prerequisites()?;
    let _lock = services::RunLock::acquire()?;
    services::up()?;
    if env::var_os("TEST_DATABASE_URL").is_none() {
        ensure_database(TEST_DATABASE)?;
    }
    // What an interrupted run left, then (below) what this run made.
    drop_test_data()?;
    let redis = services::TestRedis::start()?;
    let with_servers = |command: &mut Command| {
        command
            .env("TEST_REDIS_CLUSTER_URLS", redis.cluster_urls())
            .env("TEST_REDIS_PASSWORD_URL", redis.password_url())
            .env("TEST_REDIS_TLS_URL", redis.tls_url())
            // rustls reads trusted roots from the system store, which SSL_CERT_FILE replaces.
            .env("SSL_CERT_FILE", redis.tls_ca_file());
    };
    // Both passes run whatever the first finds, each to its end.
    let mut everything = cargo_command(&["test", "--workspace", "--no-fail-fast"]);
    everything.args(extra).env("SESAME_SCREENSHOTS", &screenshots);
    with_servers(&mut everything);
    let mut failed = suite::run("cargo test --workspace", &mut everything)?;
    eprintln!("xtask: the browser tests' screenshots are in {}", screenshots.display());
    // The HTTP flows once more, unchanged, on real PostgreSQL and Redis.
    let mut flows = cargo_command(&["test", "--no-fail-fast", "-p", "sesame-web", "--test", "http", "api::"]);
    flows.env("TEST_SESSION_ENVIRONMENT", "development");
    with_servers(&mut flows);
    failed.extend(suite::run("the HTTP flows on PostgreSQL and Redis", &mut flows)?);
    drop(redis);
    drop_test_data()?;
    suite::summary(&failed)
}

/// The key prefix of every test's Redis keys (`sesame-test:<uuid>:`).
const TEST_KEY_PATTERN: &str = "sesame-test:*";

/// Drops the PostgreSQL schemas and Redis keys that test runs make (one
/// schema and key prefix per test) from the default test database and Redis;
/// a test run pointed elsewhere (`TEST_DATABASE_URL`, `TEST_REDIS_URL`)
/// cleans up after itself there.
fn drop_test_data() -> Result<(), String> {
    if env::var_os("TEST_DATABASE_URL").is_none() {
        run(&mut psql(TEST_DATABASE, DROP_TEST_SCHEMAS))?;
    }
    if env::var_os("TEST_REDIS_URL").is_none() {
        let (host, port) = services::REDIS.split_once(':').expect("host:port");
        let redis_cli = |args: &[&str]| {
            let mut command = Command::new("redis-cli");
            command.args(["-h", host, "-p", port]).args(args);
            command
        };
        let scanned = redis_cli(&["--scan", "--pattern", TEST_KEY_PATTERN])
            .output()
            .map_err(|err| format!("cannot run redis-cli: {err}"))?;
        let keys: Vec<String> = String::from_utf8_lossy(&scanned.stdout).lines().map(str::to_owned).collect();
        for batch in keys.chunks(500) {
            // Not `run`: it would print every key.
            let unlinked = redis_cli(&["unlink"]).args(batch).output().map_err(|err| format!("redis-cli: {err}"))?;
            if !unlinked.status.success() {
                return Err(format!("redis-cli unlink failed: {}", String::from_utf8_lossy(&unlinked.stderr).trim()));
            }
        }
        if !keys.is_empty() {
            eprintln!("xtask: {} test keys removed from Redis ({TEST_KEY_PATTERN})", keys.len());
        }
    }
    Ok(())
}

/// What the browser tests (crates/browser) need besides Chromium and
/// chromedriver ([`tools::FOR_TESTS`]): axe-core, installed from its lock
/// file when missing. Returns where their screenshots go.
fn browser_prerequisites() -> Result<PathBuf, String> {
    let browser = project_root().join("crates/browser");
    if env::var_os("AXE_CORE").is_none() && !browser.join("node_modules/axe-core/axe.min.js").exists() {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&browser))?;
    }
    Ok(env::var_os("SESAME_SCREENSHOTS").map_or_else(|| target_dir().join("screenshots"), PathBuf::from))
}

/// `cargo xtask tools [--ci]`: installs what `test` needs (and, with `--ci`,
/// what `.ci/run` needs besides: the deployment checks' tools and the Python
/// tools' virtual environment), or names what it cannot.
fn install_tools(extra: &[&str]) -> Result<(), String> {
    let ci = match extra {
        [] => false,
        ["--ci"] => true,
        _ => return Err(format!("tools takes --ci or nothing, not {extra:?}")),
    };
    if ci {
        tools::ensure(&[tools::FOR_TESTS, tools::FOR_CI])?;
        tools::ensure_python_tools()?;
    } else {
        tools::ensure(&[tools::FOR_TESTS])?;
    }
    browser_prerequisites()?;
    eprintln!("tools: everything is here");
    Ok(())
}

/// `.ci/run`, so that the two cannot drift apart.
fn ci() -> Result<(), String> {
    let root = project_root();
    let mut command = Command::new(root.join(".ci/run"));
    run(without_cargo_run_variables(command.current_dir(root)))
}

/// Where cargo puts what it builds.
fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map_or_else(|| project_root().join("target"), PathBuf::from)
}

/// The lines of docs/reliability.md between which the full run's table goes.
const FAULTS_BEGIN: &str = "<!-- cargo xtask faults: begin -->";
const FAULTS_END: &str = "<!-- cargo xtask faults: end -->";

/// Builds the service and the fault suite, and runs the suite; the full run
/// (without `--quick`) writes its table, dated, into docs/reliability.md.
fn faults(extra: &[&str]) -> Result<(), String> {
    run(&mut cargo_command(&["build", "-q", "-p", "sesame-web", "-p", "sesame-faults", "--bins"]))?;
    let target = target_dir().join("debug");
    let table = std::env::temp_dir().join(format!("sesame-faults-{}.md", std::process::id()));
    let mut suite = Command::new(target.join("sesame-faults"));
    suite.arg("--sesame").arg(target.join("sesame")).arg("--output").arg(&table).args(extra);
    let result = run(&mut suite);
    let quick = extra.contains(&"--quick") || extra.contains(&"--only");
    if result.is_ok() && !quick {
        let measured = std::fs::read_to_string(&table).map_err(|err| format!("cannot read the table: {err}"))?;
        write_faults_table(&measured)?;
    }
    let _ = std::fs::remove_file(&table);
    result
}

/// The cargo command docker/Dockerfile builds the service with.
const IMAGE_BUILD: [&str; 7] = ["build", "--release", "--locked", "-p", "sesame-web", "--bin", "sesame"];

/// Builds the service as the image does and runs the production topology.
fn topology(extra: &[&str]) -> Result<(), String> {
    require("haproxy", "apt-get install haproxy")?;
    run(&mut cargo_command(&IMAGE_BUILD))?;
    run(&mut cargo_command(&["build", "-q", "-p", "sesame-faults", "--bins"]))?;
    let target = target_dir();
    let mut suite = Command::new(target.join("debug").join("sesame-faults"));
    suite
        .arg("--topology")
        .arg("--proxy-config")
        .arg(project_root().join("docker/haproxy/haproxy.cfg"))
        .arg("--sesame")
        .arg(target.join("release").join("sesame"))
        .args(extra);
    run(&mut suite)
}

/// schemathesis against a mock service, then the TypeScript client's checks.
fn api_check() -> Result<(), String> {
    tools::ensure(&[tools::FOR_TESTS, tools::FOR_CI])?;
    tools::ensure_python_tools()?;
    run(&mut cargo_command(&["build", "-q", "-p", "sesame-web", "--bin", "sesame"]))?;
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = Command::new(target_dir().join("debug").join("sesame"))
        .env("SESSION_ENVIRONMENT", "mock")
        .env("SESAME__HTTP__ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "error")
        // Limits high enough that the run reaches past them; 429 stays declared.
        .env("SESAME__RATE_LIMIT__REGISTER_PER_IP", "100000/1s")
        .env("SESAME__RATE_LIMIT__LOGIN_PER_IP", "100000/1s")
        .env("SESAME__RATE_LIMIT__INVALID_COOKIE_PER_IP", "off")
        .spawn()
        .map_err(|err| format!("cannot start sesame: {err}"))?;
    let checked = schemathesis(&base);
    let _ = service.kill();
    let _ = service.wait();
    checked?;
    let client = project_root().join("clients/typescript");
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&client))?;
    run(Command::new("npm").args(["run", "check"]).current_dir(&client))
}

/// schemathesis's runs: (the user signed in for it, if any; the operations
/// it covers; its phases). A register or login ends the sessions it is sent
/// with, and so do logout, logout-all, a password change and an account
/// deletion: each run keeps the operations that would end its cookie apart,
/// so that the others are exercised signed in rather than as 401s; each
/// operation that ends the cookie when it works has a run and a user of its
/// own, so that its first example (the document's, which works) is sent
/// signed in whatever order schemathesis picks. The stateful run starts
/// signed out and follows the document's links (register or login, then me,
/// sessions, revoke, logout) with the cookies they set.
const SCHEMATHESIS_RUNS: [(Option<&str>, &[&str], &str); 5] = [
    (
        Some("reader"),
        &["me", "list_sessions", "revoke_session", "healthz", "ready", "openapi_json"],
        "examples,coverage,fuzzing",
    ),
    (
        None,
        &["register", "login", "me", "list_sessions", "revoke_session", "logout"],
        "examples,coverage,fuzzing,stateful",
    ),
    (Some("leaver"), &["logout_all"], "examples,coverage,fuzzing"),
    (Some("changer"), &["change_password"], "examples,coverage,fuzzing"),
    (Some("deleter"), &["delete_account"], "examples,coverage,fuzzing"),
];

/// Runs schemathesis at `base`, every check on, run by run ([`SCHEMATHESIS_RUNS`]).
fn schemathesis(base: &str) -> Result<(), String> {
    let readyz = format!("{base}/readyz");
    services::wait_for(&readyz, std::time::Duration::from_secs(10), || {
        Command::new("curl").args(["-sf", &readyz]).output().is_ok_and(|answer| answer.status.success())
    })?;
    for (user, operations, phases) in SCHEMATHESIS_RUNS {
        // From a scratch directory: schemathesis keeps a cache where it runs.
        let mut command = Command::new(tools::python_bin().join("schemathesis"));
        command
            .current_dir(env::temp_dir())
            .arg("--config-file")
            .arg(project_root().join("schemathesis.toml"))
            .args(["run", &format!("{base}/api/openapi.json"), "--checks", "all", "--max-examples", "25"])
            .args(["--generation-deterministic", "--phases", phases]);
        for operation in operations {
            command.args(["--include-operation-id", operation]);
        }
        // The signed-out run presents a value that is no token (so, no session).
        let token = match user {
            Some(user) => signed_up(base, &format!("schemathesis-{user}@example.com"))?,
            None => "none".to_owned(),
        };
        command.env("SESAME_SESSION", token);
        run(&mut command)?;
    }
    Ok(())
}

/// Registers `email` at `base`; its session token.
fn signed_up(base: &str, email: &str) -> Result<String, String> {
    let body = format!(r#"{{"email":"{email}","password":"correct horse battery staple"}}"#);
    let registered = Command::new("curl")
        .args(["-sf", "-D", "-", "-o", "/dev/null", "-H", "content-type: application/json", "-d", &body])
        .arg(format!("{base}/api/auth/register"))
        .output()
        .map_err(|err| format!("curl: {err}"))?;
    let headers = String::from_utf8_lossy(&registered.stdout);
    headers
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: ").or_else(|| line.strip_prefix("Set-Cookie: ")))
        .and_then(|value| value.split(';').next())
        .and_then(|pair| pair.split_once('='))
        .map(|(_, token)| token.to_owned())
        .ok_or_else(|| format!("registering {email} set no cookie"))
}

/// The release `sesame` and `sesame-bench`, built; their directory.
fn release_binaries() -> Result<PathBuf, String> {
    run(&mut cargo_command(&["build", "-q", "--release", "-p", "sesame-web", "-p", "sesame-bench", "--bins"]))?;
    Ok(target_dir().join("release"))
}

/// Builds the release service and the benchmark, and runs the login storm.
fn bench_storm() -> Result<(), String> {
    let target = release_binaries()?;
    run(Command::new(target.join("sesame-bench")).arg("storm").arg("--sesame").arg(target.join("sesame")))
}

/// Builds the release binaries and measures `sesame sessions import|export`
/// moving 1,000,000 sessions (docs/operations.md).
fn bench_transfer() -> Result<(), String> {
    let target = release_binaries()?;
    run(Command::new(target.join("sesame-bench")).arg("transfer").arg("--sesame").arg(target.join("sesame")))
}

/// Builds the release binaries and measures what docs/deployment.md sizes
/// the stores with.
fn bench_sizing(extra: &[&str]) -> Result<(), String> {
    ensure_wrk()?;
    let target = release_binaries()?;
    run(Command::new(target.join("sesame-bench")).arg("sizing").arg("--sesame").arg(target.join("sesame")).args(extra))
}

fn bench_throughput(quick: bool) -> Result<(), String> {
    ensure_wrk()?;
    let target = release_binaries()?;
    let out = if quick { target_dir().join("bench") } else { project_root().join("docs/performance") };
    std::fs::create_dir_all(&out).map_err(|err| format!("cannot create {}: {err}", out.display()))?;
    let mut command = Command::new(target.join("sesame-bench"));
    command.arg("throughput").arg("--sesame").arg(target.join("sesame")).arg("--out").arg(&out);
    if quick {
        command.arg("--quick");
    }
    // The targets decide the exit status; the figures are written either way.
    let result = run(&mut command);
    eprintln!("bench: the table and chart are in {}", out.display());
    if !quick {
        let table = std::fs::read_to_string(out.join("throughput.md")).map_err(|err| format!("no table: {err}"))?;
        let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpu
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map_or("?", |rest| rest.trim_start_matches([' ', '\t', ':']));
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let how = format!(
            "`cargo xtask bench` (release build, {cores} cores of an {model}, shared with wrk, PostgreSQL and Redis)"
        );
        write_between_markers(
            "docs/performance.md",
            BENCH_BEGIN,
            BENCH_END,
            &how,
            &format!("{table}\n![req/s and p99 per endpoint and mode](performance/throughput.svg)\n"),
        )?;
    }
    result
}

/// The lines of docs/performance.md between which the full bench's table goes.
const BENCH_BEGIN: &str = "<!-- cargo xtask bench: begin -->";
const BENCH_END: &str = "<!-- cargo xtask bench: end -->";

/// Fails, saying how to `install` it, when `tool` is not on the `PATH`.
fn require(tool: &str, install: &str) -> Result<(), String> {
    if installed(tool) { Ok(()) } else { Err(format!("{tool} is not installed ({install})")) }
}

/// Whether `tool` can be started (whatever it answers to `--version`).
fn installed(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

/// Installs wrk from Debian's packages when it is missing.
fn ensure_wrk() -> Result<(), String> {
    tools::ensure(&[tools::FOR_BENCH])
}

fn write_faults_table(table: &str) -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let heading = format!("`cargo xtask faults` (debug build, {cores} cores, PostgreSQL and Redis on loopback)");
    write_between_markers("docs/reliability.md", FAULTS_BEGIN, FAULTS_END, &heading, table)
}

/// Replaces what `path` (from the project root) holds between `begin` and
/// `end` with `table`, introduced as measured today with `how`.
fn write_between_markers(path: &str, begin: &str, end: &str, how: &str, table: &str) -> Result<(), String> {
    let path = project_root().join(path);
    let doc = std::fs::read_to_string(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let (Some(at_begin), Some(at_end)) = (doc.find(begin), doc.find(end)) else {
        return Err(format!("{} lacks the {begin} … {end} markers", path.display()));
    };
    let date = Command::new("date").arg("-u").arg("+%Y-%m-%d").output().map_err(|err| err.to_string())?;
    let date = String::from_utf8_lossy(&date.stdout).trim().to_owned();
    let updated = format!("{}{begin}\nMeasured {date} with {how}:\n\n{table}\n{}", &doc[..at_begin], &doc[at_end..]);
    std::fs::write(&path, updated).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    eprintln!("the table is in {}", path.display());
    Ok(())
}

/// `cargo args…` in the project root, without the variables that `cargo run`
/// set for xtask itself: build scripts watch some of them (`ring`'s watches
/// `CARGO_MANIFEST_DIR`), so inheriting them would make every switch between
/// `cargo xtask …` and a plain `cargo build` rebuild a dozen crates.
pub(crate) fn cargo_command(args: &[&str]) -> Command {
    let mut command = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    without_cargo_run_variables(command.args(args).current_dir(project_root()));
    command
}

/// `command` without the variables that `cargo run` set for xtask.
fn without_cargo_run_variables(command: &mut Command) -> &mut Command {
    for (name, _) in env::vars_os() {
        if is_set_by_cargo_run(&name.to_string_lossy()) {
            command.env_remove(name);
        }
    }
    command
}

/// Whether `cargo run` sets `name` for the program it runs (as opposed to a
/// setting such as `CARGO_TARGET_DIR` or `CARGO_HOME` that a user set).
fn is_set_by_cargo_run(name: &str) -> bool {
    const EXACT: [&str; 5] =
        ["CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_CRATE_NAME", "CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE"];
    EXACT.contains(&name) || name.starts_with("CARGO_PKG_")
}

/// Runs `command`; an error unless it exits 0.
pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    eprintln!("$ {shown}");
    let status = command.status().map_err(|err| format!("cannot run `{shown}`: {err}"))?;
    if status.success() { Ok(()) } else { Err(format!("`{shown}` failed ({status})")) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_topology_builds_the_service_with_the_images_cargo_command() {
        let dockerfile = std::fs::read_to_string(super::project_root().join("docker/Dockerfile")).unwrap();
        let command = format!("RUN cargo {}", super::IMAGE_BUILD.join(" "));
        assert!(dockerfile.lines().any(|line| line == command), "docker/Dockerfile runs `{command}`");
    }

    #[test]
    fn the_cargo_that_xtask_starts_does_not_inherit_what_cargo_run_set_for_xtask() {
        // The test harness runs under cargo too, which sets these for it.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let command = super::cargo_command(&["build"]);
        let removed: Vec<String> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        for name in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME"] {
            assert!(removed.iter().any(|removed| removed == name), "{name} is passed on: {removed:?}");
        }
        assert!(!removed.iter().any(|name| name == "CARGO_TARGET_DIR" || name == "CARGO_HOME"), "{removed:?}");
    }
}
