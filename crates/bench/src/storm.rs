//! The login storm: resident memory before, during and after 200 concurrent
//! logins, and `/me`'s latency at a fixed rate with and without the storm.

use std::{
    path::Path,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode};
use serde_json::json;
use sesame_testbed::Service;

use crate::rate::{Latencies, fixed_rate};
use crate::throughput::resident;

const USERS: usize = 200;
const PASSWORD: &str = "correct horse battery staple";
/// sesame's default `SESAME__PASSWORD__MAX_CONCURRENT_HASHES`: half the cores, at least 1.
fn max_concurrent_hashes() -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    u64::try_from(cores / 2).unwrap_or(1).max(1)
}
/// argon2id's memory per hash (m = 19456 KiB).
const HASH_MIB: u64 = 19;
const ME_PER_SECOND: u32 = 500;
const ME_FOR: Duration = Duration::from_secs(5);
/// Rounds of quiet and stormy `/me` load; the median p99 of each counts (the
/// machine is shared, and one round's p99 rests on its 25 slowest requests).
const ROUNDS: usize = 3;
const SETTLE_WITHIN: Duration = Duration::from_secs(10);
const MIB: u64 = 1024 * 1024;

/// What one run measured.
pub(crate) struct Report {
    fresh: u64,
    idle: u64,
    peak: u64,
    settled: u64,
    settled_after: Option<Duration>,
    login_failures: usize,
    storm_took: Duration,
    quiet: Vec<Latencies>,
    stormy: Vec<Latencies>,
}

/// The median over rounds of the `q` quantile.
fn median(rounds: &[Latencies], q: f64) -> Duration {
    let mut values: Vec<Duration> = rounds.iter().map(|round| round.quantile(q)).collect();
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Requests and failures over rounds.
fn totals(rounds: &[Latencies]) -> (usize, usize) {
    rounds.iter().fold((0, 0), |(count, failed), round| (count + round.count(), failed + round.failures))
}

impl Report {
    fn peak_allowed(&self) -> u64 {
        (max_concurrent_hashes() * HASH_MIB + 64) * MIB
    }

    fn p99_ratio(&self) -> f64 {
        median(&self.stormy, 0.99).as_secs_f64() / median(&self.quiet, 0.99).as_secs_f64().max(1e-6)
    }

    /// Whether every target holds.
    pub(crate) fn holds(&self) -> bool {
        self.settled_after.is_some()
            && self.peak <= self.peak_allowed()
            && self.p99_ratio() <= 5.0
            && self.login_failures == 0
            && totals(&self.quiet).1 + totals(&self.stormy).1 == 0
    }

    /// The figures as a Markdown table, each with its target.
    pub(crate) fn table(&self) -> String {
        let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / MIB as f64);
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
        let verdict = |ok: bool| if ok { "holds" } else { "**fails**" };
        let settled_when =
            self.settled_after.map_or("not within 10 s".to_owned(), |d| format!("{:.1} s", d.as_secs_f64()));
        let rows = [
            ("resident memory, fresh process (no hash yet)", mib(self.fresh), String::new()),
            ("resident memory, idle (200 users registered one after another)", mib(self.idle), String::new()),
            (
                "resident memory, peak during 200 concurrent logins",
                mib(self.peak),
                format!(
                    "≤ {} × {HASH_MIB} MiB + 64 MiB = {}: {}",
                    max_concurrent_hashes(),
                    mib(self.peak_allowed()),
                    verdict(self.peak <= self.peak_allowed())
                ),
            ),
            (
                "resident memory 10 s after the storm",
                mib(self.settled),
                format!("back within idle + 64 MiB after {settled_when}: {}", verdict(self.settled_after.is_some())),
            ),
            (
                "the longest storm (200 logins) took",
                format!("{:.2} s", self.storm_took.as_secs_f64()),
                format!("{} of {} logins failed", self.login_failures, ROUNDS * USERS),
            ),
            (
                "`GET /api/auth/me` p50 / p99 at 500/s, no storm (median of 3 rounds)",
                format!("{} / {}", ms(median(&self.quiet, 0.5)), ms(median(&self.quiet, 0.99))),
                format!("{} requests, {} failed", totals(&self.quiet).0, totals(&self.quiet).1),
            ),
            (
                "`GET /api/auth/me` p50 / p99 at 500/s, during the storm (median of 3 rounds)",
                format!("{} / {}", ms(median(&self.stormy, 0.5)), ms(median(&self.stormy, 0.99))),
                format!(
                    "p99 {:.1}× the quiet one (≤ 5×): {}; {} requests, {} failed",
                    self.p99_ratio(),
                    verdict(self.p99_ratio() <= 5.0),
                    totals(&self.stormy).0,
                    totals(&self.stormy).1
                ),
            ),
        ];
        let mut table = "| measure | value | target |\n|---|---|---|\n".to_owned();
        for (measure, value, target) in rows {
            table.push_str(&format!("| {measure} | {value} | {target} |\n"));
        }
        table
    }
}

/// What one storm measured.
struct Storm {
    me: Latencies,
    login_failures: usize,
    took: Duration,
}

/// 200 concurrent logins while `/me` runs at a fixed rate; resident memory is
/// sampled every 10 ms into `peak`.
async fn storm(client: &Client, base: &str, me: &str, cookie: &str, pid: u32, peak: &Arc<AtomicU64>) -> Storm {
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (sampling, peak) = (Arc::clone(&sampling), Arc::clone(peak));
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(resident(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let load = {
        let (client, me, cookie) = (client.clone(), me.to_owned(), cookie.to_owned());
        tokio::spawn(async move { fixed_rate(&client, &me, &cookie, ME_PER_SECOND, ME_FOR).await })
    };
    // The logins start once the /me load runs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let logins: Vec<_> = (0..USERS)
        .map(|n| {
            let (client, url) = (client.clone(), format!("{base}/api/auth/login"));
            tokio::spawn(async move {
                let body = json!({"email": format!("storm-{n}@example.com"), "password": PASSWORD});
                let answer = client.post(url).json(&body).send().await;
                answer.is_ok_and(|answer| answer.status() == StatusCode::OK)
            })
        })
        .collect();
    let mut login_failures = 0;
    for login in logins {
        login_failures += usize::from(!login.await.expect("a login task"));
    }
    let took = started.elapsed();
    let me = load.await.expect("the /me load");
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("the sampler");
    Storm { me, login_failures, took }
}

/// Runs the storm against `binary`.
pub(crate) async fn run(binary: &Path) -> Report {
    let mut command = Command::new(binary);
    command
        .env("SESSION_ENVIRONMENT", "mock")
        .env("SESAME__HTTP__ADDR", "127.0.0.1:0")
        .env("SESAME__LOG__FORMAT", "json")
        .env("SESAME__LOG__FILTER", "warn,sesame_web::startup=info")
        .env("SESAME__RATE_LIMIT__LOGIN_PER_IP", "off")
        .env("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "off")
        .env("SESAME__RATE_LIMIT__REGISTER_PER_IP", "off");
    let service = Service::start(&mut command);
    let base = service.listening_on(Duration::from_secs(30));
    let pid = service.id().expect("running");
    let client = Client::builder().pool_max_idle_per_host(64).build().expect("a client");
    let fresh = resident(pid);

    eprintln!("storm: registering {USERS} users");
    let mut cookie = String::new();
    for n in 0..USERS {
        let answer = client
            .post(format!("{base}/api/auth/register"))
            .json(&json!({"email": format!("storm-{n}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .expect("register");
        assert_eq!(answer.status(), StatusCode::CREATED, "registering user {n}");
        if n == 0 {
            let set = answer.headers().get("set-cookie").expect("a cookie").to_str().expect("ascii");
            cookie = set.split(';').next().expect("name=value").to_owned();
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = resident(pid);
    let me = format!("{base}/api/auth/me");

    let peak = Arc::new(AtomicU64::new(idle));
    let (mut quiet, mut stormy, mut login_failures, mut storm_took) = (Vec::new(), Vec::new(), 0, Duration::ZERO);
    for round in 1..=ROUNDS {
        eprintln!(
            "storm: round {round}/{ROUNDS}: /me at {ME_PER_SECOND}/s, then again during {USERS} concurrent logins"
        );
        quiet.push(fixed_rate(&client, &me, &cookie, ME_PER_SECOND, ME_FOR).await);
        let storm = storm(&client, &base, &me, &cookie, pid, &peak).await;
        stormy.push(storm.me);
        login_failures += storm.login_failures;
        storm_took = storm_took.max(storm.took);
    }

    eprintln!("storm: watching memory settle");
    let settling = Instant::now();
    let mut settled_after = None;
    let mut settled = resident(pid);
    while settling.elapsed() < SETTLE_WITHIN {
        settled = resident(pid);
        if settled_after.is_none() && settled <= idle + 64 * MIB {
            settled_after = Some(settling.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(service);
    Report {
        fresh,
        idle,
        peak: peak.load(Ordering::Relaxed),
        settled,
        settled_after,
        login_failures,
        storm_took,
        quiet,
        stormy,
    }
}
