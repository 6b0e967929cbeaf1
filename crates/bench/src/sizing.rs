//! `sesame-bench sizing --sesame PATH [--sessions N]`: the figures
//! docs/deployment.md sizes the stores with, each measured on throw-away
//! servers and seeded through `sesame sessions import`:
//!
//! - Redis memory per session after importing 100,000 sessions into Redis
//!   alone: `MEMORY USAGE` of every key (sessions and user indexes) summed, and
//!   how much `used_memory` grew (which also counts the keyspace's tables);
//! - PostgreSQL bytes per session (table and indexes after 100,000 rows,
//!   vacuumed);
//! - PostgreSQL row updates and commits a second for 10,000 active sessions at
//!   the default touch interval (60 s), in tiered mode, each session used
//!   every 20 s;
//! - `GET /api/auth/me` requests a second with 1,000 and with N (1,000,000 by
//!   default) live sessions in tiered mode, against the bare axum route in the
//!   same run.

use std::{
    collections::HashMap,
    fmt::Write as _,
    fs::File,
    io::{BufWriter, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use sesame_core::{SessionToken, ports::UserId};
use sesame_testbed::{Postgres, Redis, free_port};
use time::OffsetDateTime;

use crate::{
    seed::SessionLine,
    throughput::{Process, loopback, wait_until_ok},
    wrk,
};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Sessions a line each in sesame's export format, with the cookies of some.
struct Seed {
    file: PathBuf,
    cookies: Vec<String>,
}

/// Writes `count` live sessions of 1,000 users, last used over the past
/// minute (so that uses fall due for a touch one after another), keeping the
/// cookies of the first `keep`.
fn seed(path: &Path, count: usize, keep: usize) -> Seed {
    let now = OffsetDateTime::now_utc();
    let at = |time: OffsetDateTime| time.format(&time::format_description::well_known::Rfc3339).expect("a timestamp");
    let users: Vec<UserId> = (0..1000).map(|_| UserId::random()).collect();
    let mut out = BufWriter::new(File::create(path).expect("the sessions file"));
    let mut cookies = Vec::with_capacity(keep);
    for n in 0..count {
        let token = SessionToken::generate().expect("randomness");
        let user = users[n % users.len()];
        let seen = now - time::Duration::seconds(i64::try_from(n % 60).unwrap_or(0));
        let (created, idle, absolute) = (
            at(now - time::Duration::minutes(2)),
            at(seen + time::Duration::minutes(30)),
            at(now + time::Duration::hours(11)),
        );
        let (token_hash, last_seen) = (token.hash().to_hex(), at(seen));
        SessionLine {
            token_hash: &token_hash,
            user,
            created: &created,
            last_seen: &last_seen,
            idle_expires: &idle,
            absolute_expires: &absolute,
        }
        .write(&mut out);
        if cookies.len() < keep {
            cookies.push(format!("sessionId={}", token.expose()));
        }
    }
    out.flush().expect("the sessions file");
    Seed { file: path.to_owned(), cookies }
}

/// The variables of a development deployment over `stores` with sessions in `mode`.
fn vars(mode: &str, postgres: Option<&Postgres>, redis: Option<&Redis>) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = [
        ("SESSION_ENVIRONMENT", "development"),
        ("SESAME__STORE__SESSIONS", mode),
        ("SESAME__STORE__USERS", if postgres.is_some() { "postgres" } else { "memory" }),
        ("RUST_LOG", "warn"),
        ("SESAME__LOG__FILTER", "warn"),
        ("SESAME__RATE_LIMIT__INVALID_COOKIE_PER_IP", "off"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    if let Some(postgres) = postgres {
        vars.insert("DATABASE_URL".into(), postgres.url());
    }
    if let Some(redis) = redis {
        vars.insert("REDIS_URL".into(), redis.url());
    }
    vars
}

/// `sesame args…` with `vars`; panics, with what it said, when it fails.
fn sesame(binary: &Path, vars: &HashMap<String, String>, args: &[&str]) {
    let output = Command::new(binary)
        .args(args)
        .env_clear()
        .envs(vars)
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .output()
        .expect("run sesame");
    assert!(output.status.success(), "sesame {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn import(binary: &Path, vars: &HashMap<String, String>, seed: &Seed) {
    sesame(binary, vars, &["sessions", "import", "--input", &seed.file.display().to_string()]);
}

/// A number a query printed (`psql -At`).
fn number(postgres: &Postgres, sql: &str) -> f64 {
    let text = postgres.psql(sql);
    text.trim().parse().unwrap_or_else(|_| panic!("{sql} printed {text:?}"))
}

fn redis_used_memory(redis: &Redis) -> f64 {
    let info = redis.cli(&["info", "memory"]);
    let line = info.lines().find_map(|line| line.strip_prefix("used_memory:")).expect("used_memory");
    line.trim().parse().expect("a number")
}

/// `MEMORY USAGE` of every key, summed, and the number of keys: one script
/// that walks the keyspace with `SCAN`.
fn memory_usage_of_every_key(redis: &Redis) -> (f64, f64) {
    const SCRIPT: &str = "local cursor, bytes, keys = '0', 0, 0 \
        repeat local page = redis.call('SCAN', cursor, 'COUNT', 1000); cursor = page[1] \
        for _, key in ipairs(page[2]) do bytes = bytes + redis.call('MEMORY', 'USAGE', key, 'SAMPLES', 0); keys = keys + 1 end \
        until cursor == '0' return {bytes, keys}";
    let answer = redis.cli(&["eval", SCRIPT, "0"]);
    let mut numbers = answer.split_whitespace().map(|n| n.parse::<f64>().expect("a number"));
    (numbers.next().expect("bytes"), numbers.next().expect("keys"))
}

/// What the run measured, as docs/deployment.md's table.
pub(crate) struct Report {
    lines: Vec<(String, String)>,
}

impl Report {
    pub(crate) fn table(&self) -> String {
        let mut text = String::from("| figure | measured |\n|---|---|\n");
        for (what, value) in &self.lines {
            let _ = writeln!(text, "| {what} | {value} |");
        }
        text
    }

    fn add(&mut self, what: &str, value: String) {
        eprintln!("sizing: {what}: {value}");
        self.lines.push((what.to_owned(), value));
    }
}

pub(crate) fn run(binary: &Path, sessions: usize, scratch: &Path) -> Report {
    std::fs::create_dir_all(scratch).expect("a scratch directory");
    wrk::write_scripts(scratch).expect("the wrk scripts");
    let mut report = Report { lines: Vec::new() };
    let hundred_k = seed(&scratch.join("100k.jsonl"), 100_000, 0);

    // Redis alone.
    let redis = Redis::start();
    let before = redis_used_memory(&redis);
    import(binary, &vars("redis", None, Some(&redis)), &hundred_k);
    let per_session = (redis_used_memory(&redis) - before) / 100_000.0;
    let (keys_bytes, keys) = memory_usage_of_every_key(&redis);
    report.add(
        "Redis memory per session (100,000 sessions, Redis alone, user indexes included)",
        format!(
            "`MEMORY USAGE` summed over its {keys:.0} keys: {:.0} bytes a session; `used_memory` grew {per_session:.0} \
             bytes a session: {:.1} million sessions per GiB",
            keys_bytes / 100_000.0,
            GIB / per_session / 1e6
        ),
    );
    drop(redis);

    // PostgreSQL alone.
    let postgres = Postgres::start();
    let pg_vars = vars("postgres", Some(&postgres), None);
    sesame(binary, &pg_vars, &["migrate"]);
    import(binary, &pg_vars, &hundred_k);
    postgres.psql("VACUUM ANALYZE sessions");
    let table = number(&postgres, "SELECT pg_table_size('sessions')") / 100_000.0;
    let indexes = number(&postgres, "SELECT pg_indexes_size('sessions')") / 100_000.0;
    report.add(
        "PostgreSQL bytes per session (100,000 rows, vacuumed)",
        format!(
            "{:.0} bytes: table {table:.0}, indexes {indexes:.0}; {:.1} million sessions per GiB",
            table + indexes,
            GIB / (table + indexes) / 1e6
        ),
    );
    drop(postgres);

    writes_per_active_sessions(binary, scratch, &mut report);
    me_throughput(binary, sessions, scratch, &mut report);
    let _ = std::fs::remove_dir_all(scratch);
    report
}

/// A tiered deployment: its stores and one instance.
struct Tiered {
    postgres: Postgres,
    _redis: Redis,
    vars: HashMap<String, String>,
    service: Process,
}

impl Tiered {
    fn start(binary: &Path, scratch: &Path) -> Self {
        let (postgres, redis) = (Postgres::start(), Redis::start());
        let mut vars = vars("tiered", Some(&postgres), Some(&redis));
        sesame(binary, &vars, &["migrate"]);
        let address = loopback(free_port());
        vars.insert("SESAME__HTTP__ADDR".into(), address.to_string());
        let service = Process::start(
            Command::new(binary).env_clear().envs(&vars).current_dir(scratch),
            &scratch.join("sizing-sesame.log"),
        );
        wait_until_ok(&format!("http://{address}/readyz"));
        Self { postgres, _redis: redis, vars, service }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.service.address)
    }

    /// PostgreSQL's count of updated session rows and of commits.
    fn writes(&self) -> (f64, f64) {
        let rows = number(&self.postgres, "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'sessions'");
        let commits =
            number(&self.postgres, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        (rows, commits)
    }
}

/// 10,000 sessions each used every 20 s for two minutes: the touches that
/// reach PostgreSQL, written behind in batches.
fn writes_per_active_sessions(binary: &Path, scratch: &Path, report: &mut Report) {
    const ACTIVE: usize = 10_000;
    const EVERY: Duration = Duration::from_secs(20);
    const WINDOW: Duration = Duration::from_secs(120);
    let seeded = seed(&scratch.join("10k.jsonl"), ACTIVE, ACTIVE);
    let tiered = Tiered::start(binary, scratch);
    import(binary, &tiered.vars, &seeded);
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let (rows, commits) = runtime.block_on(async {
        // Pending statistics reach pg_stat_* within a few seconds of each
        // transaction: read them after a pause on both sides of the window.
        tokio::time::sleep(Duration::from_secs(12)).await;
        let before = tiered.writes();
        pace(&tiered.url("/api/auth/me"), &seeded.cookies, EVERY, WINDOW).await;
        tokio::time::sleep(Duration::from_secs(12)).await;
        let after = tiered.writes();
        (after.0 - before.0, after.1 - before.1)
    });
    let seconds = WINDOW.as_secs_f64() + 12.0;
    report.add(
        "PostgreSQL writes for 10,000 active sessions (each used every 20 s, touch interval 60 s, tiered)",
        format!(
            "{:.0} session rows updated a second, in {:.1} commits a second (readiness probes included)",
            rows / seconds,
            commits / seconds
        ),
    );
}

/// Sends `GET url` with each cookie once every `every`, spread evenly, for `window`.
async fn pace(url: &str, cookies: &[String], every: Duration, window: Duration) {
    let client = reqwest::Client::new();
    let gap = every.div_f64(cookies.len() as f64);
    let started = Instant::now();
    let mut next = 0;
    let mut tasks = tokio::task::JoinSet::new();
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    while started.elapsed() < window {
        let due = gap.mul_f64(next as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let (client, url, cookie) = (client.clone(), url.to_owned(), cookies[next % cookies.len()].clone());
        let failed = Arc::clone(&failed);
        tasks.spawn(async move {
            let ok = client.get(&url).header("cookie", cookie).send().await.is_ok_and(|r| r.status().is_success());
            if !ok {
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        next += 1;
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let failed = failed.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(failed, 0, "{failed} of {next} paced requests failed");
}

/// `/me` with 1,000 live sessions, then with `sessions`, against the bare route.
fn me_throughput(binary: &Path, sessions: usize, scratch: &Path, report: &mut Report) {
    const CONNECTIONS: u32 = 32;
    const DURATION: Duration = Duration::from_secs(15);
    let bare = Process::start(
        Command::new(std::env::current_exe().expect("this program")).arg("bare").arg(loopback(free_port()).to_string()),
        &scratch.join("sizing-bare.log"),
    );
    let bare_url = format!("http://{}/", bare.address);
    wait_until_ok(&bare_url);
    let tiered = Tiered::start(binary, scratch);
    let small = seed(&scratch.join("1k.jsonl"), 1_000, 1_000);
    import(binary, &tiered.vars, &small);
    let cookies = scratch.join("sizing-cookies.txt");
    let measure = |label: &str, cookie_lines: &[String]| {
        std::fs::write(&cookies, cookie_lines.join("\n")).expect("the cookies");
        let load = wrk::Load::Get { cookies: &cookies };
        let bare = wrk::run(&bare_url, &load, CONNECTIONS, DURATION, scratch);
        let me = wrk::run(&tiered.url("/api/auth/me"), &load, CONNECTIONS, DURATION, scratch);
        assert_eq!(me.failed, 0, "/me answered {} requests with an error", me.failed);
        format!(
            "{label}: {:.0} req/s, p99 {:.1} ms ({:.2}× the bare route's {:.0} req/s)",
            me.per_second,
            me.p99.as_secs_f64() * 1e3,
            me.per_second / bare.per_second,
            bare.per_second
        )
    };
    let with_small = measure("1,000 live sessions", &small.cookies);
    let large = seed(&scratch.join("large.jsonl"), sessions - 1_000, 10_000);
    let started = Instant::now();
    import(binary, &tiered.vars, &large);
    eprintln!("sizing: {} sessions imported into tiered stores in {:.0?}", sessions - 1_000, started.elapsed());
    let with_large = measure(&format!("{sessions} live sessions (10,000 of them asked)"), &large.cookies);
    report.add(
        &format!("`GET /api/auth/me`, tiered, {CONNECTIONS} connections, {} s", DURATION.as_secs()),
        format!("{with_small}; {with_large}"),
    );
}
