//! `sesame-bench throughput`: requests a second, latency, server CPU per request
//! and resident memory for each endpoint and store mode, each speed quoted as a
//! ratio to the bare axum route measured in the same run (`cargo xtask bench`).
//!
//! For each mode it starts the release `sesame` on loopback — on throw-away
//! PostgreSQL and Redis servers for the store modes, in the production
//! environment with its default logging — seeds sessions, then runs `wrk`
//! against the bare route, `GET /healthz`, `GET /api/auth/me` with valid
//! cookies and with cookies that open nothing, in alternation, for each round
//! and connection count; resident memory is read after that authenticated load,
//! and login runs last (argon2's memory is the login storm's business).
//!
//! Rate limits are off, so that each endpoint's own work is measured rather
//! than its refusals.

use std::{
    collections::HashMap,
    fs::File,
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use sesame_core::SessionToken;
use sesame_factory::Environment;
use sesame_testbed::{Postgres, Redis, free_port};

use crate::wrk::{self, Load};

/// How much to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) rounds: usize,
    pub(crate) duration: Duration,
    pub(crate) connections: Vec<u32>,
    /// Users seeded through the ports, and sessions per user.
    pub(crate) users: usize,
    pub(crate) sessions_per_user: usize,
}

impl Plan {
    /// Three rounds of 5 s at 32 and 128 connections over 10,000 sessions; or,
    /// `quick`, one round of 1 s at 32 connections over 1,000.
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Self {
                rounds: 1,
                duration: Duration::from_secs(1),
                connections: vec![32],
                users: 100,
                sessions_per_user: 10,
            }
        } else {
            Self {
                rounds: 3,
                duration: Duration::from_secs(5),
                connections: vec![32, 128],
                users: 1_000,
                sessions_per_user: 10,
            }
        }
    }
}

/// A store mode the service runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The zero-configuration default: in-memory stores.
    Mock,
    /// Production's default: users in PostgreSQL, sessions tiered over
    /// PostgreSQL and Redis.
    Tiered,
    /// The same with the local session cache on.
    TieredCached,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Mock => "mock (in memory)",
            Self::Tiered => "production (tiered)",
            Self::TieredCached => "production, local cache",
        }
    }
}

/// The endpoints, in the order each round runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Bare,
    Healthz,
    Me,
    MeInvalid,
    Login,
}

impl Endpoint {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Bare => "bare axum route",
            Self::Healthz => "`GET /healthz`",
            Self::Me => "`GET /api/auth/me`",
            Self::MeInvalid => "`GET /api/auth/me`, cookie opens nothing",
            Self::Login => "`POST /api/auth/login`",
        }
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) mode: Mode,
    pub(crate) endpoint: Endpoint,
    pub(crate) connections: u32,
    pub(crate) report: wrk::Report,
    /// Server CPU time per request.
    pub(crate) cpu: Duration,
    /// The server's resident memory after the run, bytes.
    pub(crate) resident: u64,
}

/// Everything measured, and what the bench read it on.
pub(crate) struct Results {
    pub(crate) samples: Vec<Sample>,
    /// Resident memory of each mode's service after its authenticated load.
    pub(crate) after_load: Vec<(Mode, u64)>,
    pub(crate) plan: Plan,
}

/// Users registered over HTTP in the mock mode, one session each.
const MOCK_USERS: usize = 64;

/// The user the login phase logs in as (the first seeded one), and every
/// seeded user's password.
const LOGIN_EMAIL: &str = "seeded-0@example.com";
pub(crate) const PASSWORD: &str = "bench password that is long enough";

/// Runs the plan against `binary` (the release `sesame`); `scratch` holds the
/// scripts, cookie files and logs.
pub(crate) fn run(binary: &Path, plan: &Plan, scratch: &Path) -> Results {
    std::fs::create_dir_all(scratch).expect("a scratch directory");
    wrk::write_scripts(scratch).expect("the wrk scripts");
    let bare = Process::start(
        Command::new(std::env::current_exe().expect("this program")).arg("bare").arg(loopback(free_port()).to_string()),
        &scratch.join("bare.log"),
    );
    let bare_url = format!("http://{}/", bare.address);
    wait_until_ok(&bare_url);

    let invalid = scratch.join("invalid-cookies.txt");
    let made_up: Vec<String> =
        (0..1_000).map(|_| format!("sessionId={}", SessionToken::generate().expect("randomness").expose())).collect();
    std::fs::write(&invalid, made_up.join("\n")).expect("the invalid cookies");

    let mut results = Results { samples: Vec::new(), after_load: Vec::new(), plan: plan.clone() };
    for mode in [Mode::Mock, Mode::Tiered, Mode::TieredCached] {
        eprintln!("bench: {}", mode.name());
        let service = ServiceUnderTest::start(binary, mode, plan, scratch);
        let valid = scratch.join("cookies.txt");
        std::fs::write(&valid, service.cookies.join("\n")).expect("the cookies");
        for round in 1..=plan.rounds {
            for &connections in &plan.connections {
                eprintln!("bench: {}: round {round}/{}, {connections} connections", mode.name(), plan.rounds);
                let runs = [
                    (Endpoint::Bare, &bare, bare_url.clone(), &valid),
                    (Endpoint::Healthz, &service.process, service.url("/healthz"), &valid),
                    (Endpoint::Me, &service.process, service.url("/api/auth/me"), &valid),
                    (Endpoint::MeInvalid, &service.process, service.url("/api/auth/me"), &invalid),
                ];
                for (endpoint, process, url, cookies) in runs {
                    let sample = measure(process, || {
                        wrk::run(&url, &Load::Get { cookies }, connections, plan.duration, scratch)
                    });
                    results.samples.push(Sample { mode, endpoint, connections, ..sample });
                }
            }
        }
        results.after_load.push((mode, resident(service.process.pid())));
        for &connections in &plan.connections {
            let load = Load::Login { email: LOGIN_EMAIL, password: PASSWORD };
            let url = service.url("/api/auth/login");
            let sample = measure(&service.process, || wrk::run(&url, &load, connections, plan.duration, scratch));
            results.samples.push(Sample { mode, endpoint: Endpoint::Login, connections, ..sample });
        }
    }
    results
}

/// Runs `load` against `process`, reading its CPU time and memory around it.
fn measure(process: &Process, load: impl FnOnce() -> wrk::Report) -> Sample {
    let before = cpu_time(process.pid());
    let report = load();
    let spent = cpu_time(process.pid()).saturating_sub(before);
    let cpu = spent.checked_div(u32::try_from(report.requests.max(1)).unwrap_or(u32::MAX)).unwrap_or_default();
    Sample {
        mode: Mode::Mock,
        endpoint: Endpoint::Bare,
        connections: 0,
        report,
        cpu,
        resident: resident(process.pid()),
    }
}

/// A sesame instance, its stores and its seeded cookies.
struct ServiceUnderTest {
    process: Process,
    cookies: Vec<String>,
    // Dropped after the process: the stores outlive the service.
    _stores: Option<(Postgres, Redis)>,
}

impl ServiceUnderTest {
    fn start(binary: &Path, mode: Mode, plan: &Plan, scratch: &Path) -> Self {
        let address = loopback(free_port());
        let mut vars: HashMap<String, String> = [
            ("SESAME__HTTP__ADDR", address.to_string()),
            ("SESAME__RATE_LIMIT__LOGIN_PER_IP", "off".into()),
            ("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "off".into()),
            ("SESAME__RATE_LIMIT__REGISTER_PER_IP", "off".into()),
            ("SESAME__RATE_LIMIT__INVALID_COOKIE_PER_IP", "off".into()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        let (environment, stores) = match mode {
            Mode::Mock => (Environment::Mock, None),
            Mode::Tiered | Mode::TieredCached => {
                if mode == Mode::TieredCached {
                    vars.insert("SESAME__REDIS__LOCAL_CACHE_SESSIONS".into(), "100000".into());
                }
                let (postgres, redis) = (Postgres::start(), Redis::start());
                vars.insert("DATABASE_URL".into(), postgres.url());
                vars.insert("REDIS_URL".into(), redis.url());
                (Environment::Production, Some((postgres, redis)))
            }
        };
        vars.insert("SESSION_ENVIRONMENT".into(), environment.name().into());
        let command = || {
            let mut command = Command::new(binary);
            command.env_clear().envs(&vars).current_dir(scratch);
            command
        };
        if stores.is_some() {
            let status = command().arg("migrate").stdout(Stdio::null()).status().expect("sesame migrate");
            assert!(status.success(), "sesame migrate failed");
        }
        let process = Process::start(&mut command(), &scratch.join(format!("sesame-{}.log", environment.name())));
        let mut service = Self { process, cookies: Vec::new(), _stores: stores };
        wait_until_ok(&service.url("/readyz"));
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let register = |email: &str| runtime.block_on(register(&service.url("/api/auth/register"), email));
        service.cookies = if mode == Mode::Mock {
            // The in-memory stores live inside the process: their sessions come
            // from registrations over HTTP, one argon2 hash each.
            (0..MOCK_USERS).map(|n| register(&format!("seeded-{n}@example.com"))).collect()
        } else {
            // Seeded from outside: the service hashes no password (and holds
            // no argon2 memory) before the login phase.
            runtime.block_on(crate::seed::sessions(environment, vars, plan.users, plan.sessions_per_user))
        };
        service
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.process.address)
    }
}

/// Registers `email` at `url`; the session cookie (`name=value`).
async fn register(url: &str, email: &str) -> String {
    let body = serde_json::json!({"email": email, "password": PASSWORD});
    let answer = reqwest::Client::new().post(url).json(&body).send().await.expect("register");
    assert_eq!(answer.status(), reqwest::StatusCode::CREATED, "registering {email}");
    let set = answer.headers().get("set-cookie").expect("a cookie").to_str().expect("ascii");
    set.split(';').next().expect("name=value").to_owned()
}

/// Waits until `GET url` answers 200, for at most a minute.
pub(crate) fn wait_until_ok(url: &str) {
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let client = reqwest::Client::new();
    while !runtime.block_on(async { client.get(url).send().await.is_ok_and(|answer| answer.status().is_success()) }) {
        assert!(started.elapsed() < Duration::from_secs(60), "{url} did not answer 200 within a minute");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A server process, its output in a file; killed when dropped.
pub(crate) struct Process {
    child: Child,
    pub(crate) address: SocketAddr,
}

impl Process {
    /// Starts `command`, which serves on the address its `SESAME__HTTP__ADDR`
    /// or last argument names, writing its output to `log`.
    pub(crate) fn start(command: &mut Command, log: &Path) -> Self {
        let address = command
            .get_envs()
            .find(|(name, _)| *name == "SESAME__HTTP__ADDR")
            .and_then(|(_, value)| value?.to_str()?.parse().ok())
            .or_else(|| command.get_args().last()?.to_str()?.parse().ok())
            .expect("an address to serve on");
        let output = File::create(log).expect("a log file");
        let child = command
            .stdout(output.try_clone().expect("a log file"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
        Self { child, address }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clock ticks a second, as `/proc` counts CPU time (Linux's `USER_HZ`).
const TICKS_PER_SECOND: u64 = 100;

/// The CPU time (user and system) process `pid` has used.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process's stat");
    // Fields after the command name (which may hold spaces): state is the first;
    // utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..].split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// The resident set of process `pid`, in bytes.
pub(crate) fn resident(pid: u32) -> u64 {
    resident_if_running(pid).expect("the process's VmRSS")
}

/// The resident set of process `pid`, in bytes; `None` once it has exited.
pub(crate) fn resident_if_running(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
