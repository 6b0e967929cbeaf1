//! `sesame-faults`: logged-in users send authenticated requests to two
//! `sesame` instances in tiered mode while a fault happens to a throw-away
//! store — a Redis restart without persistence, `FLUSHALL`, a crash and time
//! down, `CLIENT PAUSE`, `CLIENT KILL`, eviction, PostgreSQL backends
//! terminated, a PostgreSQL restart, PostgreSQL down, SIGTERM to an instance,
//! and a Redis Cluster master failing over to its replica; then sessions
//! moved live from one store to another ([`moves`]). For each it reports
//! requests by status, the slowest request, and sessions lost (users who got a
//! 401 and would have to log in again), checks them against
//! docs/reliability.md's promises, and exits non-zero when one is broken.
//!
//! Loopback only, on servers it starts itself (never the shared ones); bounded
//! in time. Run it with `cargo xtask faults [--quick]`.
//!
//! With `--topology --proxy-config FILE`, it runs the production topology
//! instead ([`topology`]): two instances behind HAProxy, restarted and crashed.
//!
//! Usage: `sesame-faults --sesame PATH [--quick] [--users N] [--output FILE]
//! [--only NAME | --topology --proxy-config FILE]`

mod load;
mod moves;
mod topology;
mod world;

use std::{
    fmt::Write as _,
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use load::{Load, Tally};
use world::World;

/// How long a fault lasts, and how many users see it.
#[derive(Debug, Clone, Copy)]
struct Scale {
    users: usize,
    /// Between a user's requests.
    pause: Duration,
    /// Load before the fault.
    before: Duration,
    /// How long a store stays down in the faults that take one down.
    down: Duration,
    /// Load after the fault.
    after: Duration,
}

/// What a fault is allowed to cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Promise {
    /// No session lost, no failed request, none slower than the Redis timeout + 1 s.
    Flawless,
    /// No session lost and no failed request; PostgreSQL-bound latency allowed
    /// (the PostgreSQL timeout + 1 s).
    NoFailures,
}

struct Fault {
    name: &'static str,
    what: &'static str,
    cluster: bool,
    redis_options: &'static [&'static str],
    promise: Promise,
    /// Whether the instances must log that Redis lost its data (`Some(true)`),
    /// must not (`Some(false)`: eviction is no data loss), or either.
    data_loss_alarm: Option<bool>,
    /// Does the fault; says what it saw happen.
    act: fn(&mut World, &Scale) -> String,
}

const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
const POSTGRES_TIMEOUT: Duration = Duration::from_millis(2000);

fn faults() -> Vec<Fault> {
    vec![
        Fault {
            name: "redis-restart",
            what: "Redis restarted without persistence",
            cluster: false,
            redis_options: &[],
            promise: Promise::Flawless,
            data_loss_alarm: Some(true),
            act: |world, _| {
                world.cache.single().restart();
                format!("keys after the restart: {}", world.cache.single().cli(&["dbsize"]).trim())
            },
        },
        Fault {
            name: "redis-flushall",
            what: "`FLUSHALL`",
            cluster: false,
            redis_options: &[],
            promise: Promise::Flawless,
            data_loss_alarm: Some(true),
            act: |world, _| {
                world.cache.single().cli(&["flushall"]);
                "every key flushed".to_owned()
            },
        },
        Fault {
            name: "redis-down",
            what: "Redis crashed (SIGKILL), down, then back empty",
            cluster: false,
            redis_options: &[],
            promise: Promise::Flawless,
            data_loss_alarm: Some(true),
            act: |world, scale| {
                world.cache.single().kill();
                std::thread::sleep(scale.down);
                world.cache.single().start_again();
                format!("down {} s", scale.down.as_secs())
            },
        },
        Fault {
            name: "redis-pause",
            what: "`CLIENT PAUSE` 2 s (over the 500 ms timeout)",
            cluster: false,
            redis_options: &[],
            promise: Promise::Flawless,
            data_loss_alarm: Some(false),
            act: |world, _| {
                world.cache.single().cli(&["client", "pause", "2000", "ALL"]);
                std::thread::sleep(Duration::from_millis(2000));
                "paused 2 s".to_owned()
            },
        },
        Fault {
            name: "redis-client-kill",
            what: "`CLIENT KILL TYPE normal` (every connection)",
            cluster: false,
            redis_options: &[],
            promise: Promise::Flawless,
            data_loss_alarm: Some(false),
            act: |world, _| {
                let killed = world.cache.single().cli(&["client", "kill", "type", "normal"]);
                format!("{} connections killed", killed.trim())
            },
        },
        Fault {
            name: "redis-eviction",
            what: "eviction under `allkeys-lru` (junk keys push sessions out)",
            cluster: false,
            redis_options: &[
                "--maxmemory",
                "4mb",
                "--maxmemory-policy",
                "allkeys-lru",
                "--enable-debug-command",
                "yes",
            ],
            promise: Promise::Flawless,
            data_loss_alarm: Some(false),
            act: |world, _| {
                world.cache.single().cli(&["debug", "populate", "200000", "junk", "64"]);
                let stats = world.cache.single().cli(&["info", "stats"]);
                let evicted = stats.lines().find_map(|line| line.strip_prefix("evicted_keys:")).unwrap_or("?");
                format!("{} keys evicted", evicted.trim())
            },
        },
        Fault {
            name: "postgres-terminate",
            what: "PostgreSQL backends terminated (`pg_terminate_backend`)",
            cluster: false,
            redis_options: &[],
            promise: Promise::NoFailures,
            data_loss_alarm: None,
            act: |world, _| {
                let terminated = world.postgres.terminate_backends();
                format!("{terminated} backends terminated")
            },
        },
        Fault {
            name: "postgres-restart",
            what: "PostgreSQL restarted (immediate stop, start)",
            cluster: false,
            redis_options: &[],
            promise: Promise::NoFailures,
            data_loss_alarm: None,
            act: |world, _| {
                world.postgres.restart();
                "restarted".to_owned()
            },
        },
        Fault {
            name: "postgres-down",
            what: "PostgreSQL stopped, down, started",
            cluster: false,
            redis_options: &[],
            promise: Promise::NoFailures,
            data_loss_alarm: None,
            act: |world, scale| {
                world.postgres.stop();
                std::thread::sleep(scale.down);
                world.postgres.start_again();
                format!("down {} s", scale.down.as_secs())
            },
        },
        Fault {
            name: "sesame-sigterm",
            what: "SIGTERM to one of the two instances under load",
            cluster: false,
            redis_options: &[],
            promise: Promise::Flawless,
            data_loss_alarm: None,
            act: |world, _| {
                let instance = &mut world.instances[0];
                instance.terminate();
                let clean = instance.wait_exit(Duration::from_secs(20));
                assert!(clean, "the instance did not exit 0 after SIGTERM");
                "one instance drained and exited 0".to_owned()
            },
        },
        Fault {
            name: "cluster-failover",
            what: "Redis Cluster (3 masters, 1 replica each): a master killed, its replica promoted",
            cluster: true,
            redis_options: &[],
            promise: Promise::NoFailures,
            data_loss_alarm: None,
            act: |world, _| {
                let port = world.cache.cluster().fail_over_one_master();
                format!("master on port {port} killed; its replica took over")
            },
        },
    ]
}

/// One fault's results.
struct Outcome {
    fault: &'static str,
    what: &'static str,
    saw: String,
    tally: Tally,
    took: Duration,
    broken: Vec<String>,
}

async fn run(fault: &Fault, binary: &std::path::Path, scale: Scale) -> Outcome {
    let started = Instant::now();
    let (binary, cluster, options) = (binary.to_owned(), fault.cluster, fault.redis_options);
    let world = tokio::task::spawn_blocking(move || World::start(&binary, cluster, options)).await.expect("world");
    let bases = world.bases();
    let client = load::client();
    load::wait_ready(&client, &bases).await;
    let users = load::register(&client, &bases, scale.users).await;
    let load = Load::start(&client, &bases, &users, scale.pause);
    tokio::time::sleep(scale.before).await;
    let act = fault.act;
    let (world, saw) = tokio::task::spawn_blocking(move || {
        let mut world = world;
        let saw = act(&mut world, &scale);
        (world, saw)
    })
    .await
    .expect("the fault");
    tokio::time::sleep(scale.after).await;
    let tally = load.stop().await;

    let limit = match fault.promise {
        Promise::Flawless => REDIS_TIMEOUT + Duration::from_secs(1),
        Promise::NoFailures => POSTGRES_TIMEOUT + Duration::from_secs(1),
    };
    let mut broken = tally.broken();
    if tally.slowest > limit {
        broken.push(format!("slowest request {:?} > {limit:?}", tally.slowest));
    }
    let alarms = world.instances.iter().filter(|instance| instance.logs().contains("redis lost its data")).count();
    match fault.data_loss_alarm {
        Some(true) if alarms == 0 => broken.push("no instance noticed that Redis lost its data".to_owned()),
        Some(false) if alarms > 0 => broken.push(format!("{alarms} instance(s) raised a false data-loss alarm")),
        _ => {}
    }
    if !broken.is_empty() {
        eprintln!(
            "faults: {} broke its promise ({}); the instances' logs:\n{}",
            fault.name,
            broken.join(", "),
            world.logs()
        );
    }
    tokio::task::spawn_blocking(move || drop(world)).await.expect("teardown");
    let saw = match fault.data_loss_alarm {
        Some(true) => format!("{saw}; data loss logged by {alarms} of 2 instances"),
        _ => saw,
    };
    Outcome { fault: fault.name, what: fault.what, saw, tally, took: started.elapsed(), broken }
}

fn table(outcomes: &[Outcome], scale: &Scale, topology: bool) -> String {
    let mut text = if topology {
        format!(
            "{} users, one `GET /api/auth/me` each every {} ms, and four logging in and using each new cookie, \
             through HAProxy (HTTPS) to two instances; no retry but the proxy's.\n\n",
            scale.users,
            scale.pause.as_millis()
        )
    } else {
        format!(
            "{} users, one `GET /api/auth/me` each every {} ms, over two instances; stores down for {} s where a fault takes one down.\n\n",
            scale.users,
            scale.pause.as_millis(),
            scale.down.as_secs()
        )
    };
    text.push_str(
        "| fault | what happened | requests | 200 | 401 | 5xx or no answer | slowest | sessions lost | verdict |\n",
    );
    text.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for outcome in outcomes {
        let tally = &outcome.tally;
        let verdict = if outcome.broken.is_empty() { "ok".to_owned() } else { outcome.broken.join("; ") };
        let _ = writeln!(
            text,
            "| {} — {} | {} | {} | {} | {} | {} | {} ms | {} | {} |",
            outcome.fault,
            outcome.what,
            outcome.saw,
            tally.total(),
            tally.count(200),
            tally.count(401),
            tally.failed(),
            tally.slowest.as_millis(),
            tally.lost,
            verdict
        );
    }
    text
}

/// One line on standard error when a fault or move is done.
fn report(outcome: &Outcome) {
    eprintln!(
        "faults: {} done in {:.1} s: {:?}, slowest {} ms, {} sessions lost",
        outcome.fault,
        outcome.took.as_secs_f64(),
        outcome.tally.statuses,
        outcome.tally.slowest.as_millis(),
        outcome.tally.lost
    );
}

struct Args {
    sesame: PathBuf,
    /// The HAProxy configuration, for `--topology`.
    topology: Option<PathBuf>,
    scale: Scale,
    output: Option<PathBuf>,
    only: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut sesame, mut output, mut only, mut quick, mut users) = (None, None, None, false, None);
    let (mut topology, mut proxy_config) = (false, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sesame" => sesame = args.next().map(PathBuf::from),
            "--output" => output = args.next().map(PathBuf::from),
            "--only" => only = args.next(),
            "--users" => users = args.next().and_then(|n| n.parse().ok()),
            "--quick" => quick = true,
            "--topology" => topology = true,
            "--proxy-config" => proxy_config = args.next().map(PathBuf::from),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let scale = if quick {
        Scale {
            users: 50,
            pause: Duration::from_millis(100),
            before: Duration::from_secs(2),
            down: Duration::from_secs(3),
            after: Duration::from_secs(4),
        }
    } else {
        Scale {
            users: 200,
            pause: Duration::from_millis(100),
            before: Duration::from_secs(3),
            down: Duration::from_secs(10),
            after: Duration::from_secs(8),
        }
    };
    let scale = Scale { users: users.unwrap_or(scale.users), ..scale };
    let topology = match (topology, proxy_config) {
        (true, None) => return Err("--topology needs --proxy-config FILE (docker/haproxy/haproxy.cfg)".to_owned()),
        (true, Some(_)) if only.is_some() => return Err("--only picks a fault; --topology runs no faults".to_owned()),
        (true, config) => config,
        (false, _) => None,
    };
    let sesame = sesame.ok_or("--sesame PATH (the sesame binary) is required")?;
    Ok(Args { sesame, topology, scale, output, only })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("sesame-faults: {message}");
            return ExitCode::from(2);
        }
    };
    let mut outcomes = Vec::new();
    if let Some(proxy_config) = &args.topology {
        eprintln!("faults: the production topology behind HAProxy");
        outcomes = topology::run(&args.sesame, proxy_config, args.scale).await;
        outcomes.iter().for_each(report);
    }
    let suite = if args.topology.is_some() { Vec::new() } else { faults() };
    let moves = if args.topology.is_some() { Vec::new() } else { moves::moves() };
    for fault in suite.iter().filter(|fault| args.only.as_deref().is_none_or(|only| only == fault.name)) {
        eprintln!("faults: {} — {}", fault.name, fault.what);
        let outcome = run(fault, &args.sesame, args.scale).await;
        report(&outcome);
        outcomes.push(outcome);
    }
    for one in moves.iter().filter(|one| args.only.as_deref().is_none_or(|only| only == one.name)) {
        eprintln!("faults: {} — {}", one.name, one.what);
        let outcome = moves::run(one, &args.sesame, args.scale).await;
        report(&outcome);
        outcomes.push(outcome);
    }
    let table = table(&outcomes, &args.scale, args.topology.is_some());
    #[allow(clippy::print_stdout)]
    {
        println!("{table}");
    }
    if let Some(path) = &args.output
        && let Err(err) = std::fs::write(path, &table)
    {
        eprintln!("sesame-faults: cannot write {}: {err}", path.display());
        return ExitCode::FAILURE;
    }
    if outcomes.iter().any(|outcome| !outcome.broken.is_empty()) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
