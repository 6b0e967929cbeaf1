//! Live moves: logged-in users keep working while their sessions move from
//! one Redis to another, or from Redis alone to the tiered mode, the way
//! docs/operations.md ("Moving a live system") tells an operator to do it:
//!
//! 1. restart the two instances one after the other onto the new store, with
//!    `SESAME__MIGRATE_FROM__URL` naming the old one;
//! 2. `sesame sessions copy --from OLD --to NEW`;
//! 3. restart them one after the other without `SESAME__MIGRATE_FROM__URL`;
//! 4. stop the old Redis: nothing needs it any more.
//!
//! Meanwhile users ask `GET /api/auth/me` and others log in and use their new
//! cookie at once. Every 401 is unexpected (nobody logs out) and counts as a
//! session lost; every 5xx, 429 or request without an answer as a failure.

use std::{
    path::Path,
    process::Command,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode, header};
use sesame_testbed::{Postgres, Redis, free_port};

use crate::{
    Outcome, Scale,
    load::{self, Avoided, Load, Tally},
    world::{Instance, test_instance},
};

/// Where the sessions move to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// Another Redis, alone.
    Redis,
    /// PostgreSQL behind another Redis.
    Tiered,
}

/// One move.
pub(crate) struct Move {
    pub(crate) name: &'static str,
    pub(crate) what: &'static str,
    pub(crate) target: Target,
}

pub(crate) fn moves() -> Vec<Move> {
    vec![
        Move {
            name: "move-redis-to-redis",
            what: "sessions moved from one Redis to another, instances restarted one by one, twice",
            target: Target::Redis,
        },
        Move {
            name: "move-redis-to-tiered",
            what: "sessions moved from Redis alone to PostgreSQL + Redis (tiered), instances restarted one by one, twice",
            target: Target::Tiered,
        },
    ]
}

/// The stores of a move, and the two instances' ports.
struct Stores {
    postgres: Postgres,
    old: Redis,
    new: Redis,
    ports: [u16; 2],
}

impl Stores {
    fn start() -> Self {
        Self {
            postgres: Postgres::start(),
            old: Redis::start(),
            new: Redis::start(),
            ports: [free_port(), free_port()],
        }
    }

    /// An instance's variables: sessions where `phase` keeps them.
    fn vars(&self, port: u16, target: Target, phase: Phase) -> Vec<(String, String)> {
        let mut vars = test_instance(1);
        vars.extend([
            ("DATABASE_URL".to_owned(), self.postgres.url()),
            ("SESAME__HTTP__ADDR".to_owned(), format!("127.0.0.1:{port}")),
        ]);
        let new_mode = match target {
            Target::Redis => "redis",
            Target::Tiered => "tiered",
        };
        let stores: Vec<(&str, String)> = match phase {
            Phase::Old => vec![("SESAME__STORE__SESSIONS", "redis".to_owned()), ("REDIS_URL", self.old.url())],
            Phase::Migrating => vec![
                ("SESAME__STORE__SESSIONS", new_mode.to_owned()),
                ("REDIS_URL", self.new.url()),
                ("SESAME__MIGRATE_FROM__URL", self.old.url()),
            ],
            Phase::New => vec![("SESAME__STORE__SESSIONS", new_mode.to_owned()), ("REDIS_URL", self.new.url())],
        };
        vars.extend(stores.into_iter().map(|(name, value)| (name.to_owned(), value)));
        vars
    }

    /// Where `sesame sessions copy` writes: the new Redis, or the tiered
    /// mode's durable tier (sessions reach its Redis at their first use).
    fn copy_target(&self, target: Target) -> String {
        match target {
            Target::Redis => self.new.url(),
            Target::Tiered => self.postgres.url(),
        }
    }
}

/// Where an instance keeps sessions.
#[derive(Debug, Clone, Copy)]
enum Phase {
    Old,
    Migrating,
    New,
}

/// Stops `instances[index]` (SIGTERM, drain, exit 0) and starts it again with
/// `vars`, returning once it is ready, as a rolling restart waits before it
/// moves on to the next instance. Blocks: run it off the runtime's workers.
pub(crate) fn restart(instances: &mut [Instance], index: usize, binary: &Path, vars: &[(String, String)]) {
    let instance = &mut instances[index];
    instance.terminate();
    assert!(instance.wait_exit(Duration::from_secs(20)), "instance {index} did not exit 0 after SIGTERM");
    instances[index] = Instance::start(binary, vars);
    let base = instances[index].base.clone();
    tokio::runtime::Handle::current().block_on(load::wait_ready(&load::client(), &[base]));
}

/// `sesame sessions copy --from OLD --to NEW`; what it said.
fn copy(binary: &Path, stores: &Stores, target: Target) -> String {
    let output = Command::new(binary)
        .args(["sessions", "copy", "--from", &stores.old.url(), "--to", &stores.copy_target(target)])
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SESSION_ENVIRONMENT", "development")
        .output()
        .expect("sesame sessions copy runs");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "sesame sessions copy failed:\n{said}");
    said.lines().last().unwrap_or_default().to_owned()
}

pub(crate) async fn run(one: &Move, binary: &Path, scale: Scale) -> Outcome {
    let started = Instant::now();
    let (binary, target) = (binary.to_owned(), one.target);
    let (stores, instances) = tokio::task::spawn_blocking({
        let binary = binary.clone();
        move || {
            let stores = Stores::start();
            let instances: Vec<Instance> = stores
                .ports
                .iter()
                .map(|port| Instance::start(&binary, &stores.vars(*port, target, Phase::Old)))
                .collect();
            (stores, instances)
        }
    })
    .await
    .expect("the stores and instances");
    let bases: Vec<String> = stores.ports.iter().map(|port| format!("http://127.0.0.1:{port}")).collect();
    let client = load::client();
    load::wait_ready(&client, &bases).await;
    let users = load::register(&client, &bases, scale.users).await;
    let logins = Logins::start(&client, &bases, 4, scale.pause * 2).await;
    let load = Load::start(&client, &bases, &users, scale.pause);
    tokio::time::sleep(scale.before).await;

    let (stores, instances, copied) = tokio::task::spawn_blocking(move || {
        let (stores, mut instances, mut copied) = (stores, instances, None);
        for phase in [Phase::Migrating, Phase::New] {
            for index in 0..instances.len() {
                restart(&mut instances, index, &binary, &stores.vars(stores.ports[index], target, phase));
            }
            if matches!(phase, Phase::Migrating) {
                copied = Some(copy(&binary, &stores, target));
            }
        }
        (stores, instances, copied)
    })
    .await
    .expect("the move");
    let mut stores = stores;
    let old_keys = stores.old.cli(&["dbsize"]).trim().to_owned();
    stores.old.kill();
    tokio::time::sleep(scale.after).await;
    let mut tally = load.stop().await;
    logins.stop_into(&mut tally).await;

    let broken = tally.broken();
    let logs = instances.iter().map(Instance::logs).collect::<Vec<_>>().join("\n---\n");
    if !broken.is_empty() {
        eprintln!("faults: {} broke its promise ({}); the instances' logs:\n{logs}", one.name, broken.join(", "));
    }
    tokio::task::spawn_blocking(move || drop((instances, stores))).await.expect("teardown");
    let saw = format!(
        "{}; the old Redis held {old_keys} keys and was then stopped",
        copied.unwrap_or_else(|| "no copy".to_owned())
    );
    Outcome { fault: one.name, what: one.what, saw, tally, took: started.elapsed(), broken }
}

/// Users logging in again and again during the move, each new cookie used at
/// once on whichever instance the balancer picks next: a session made by an
/// instance in one phase must work on an instance in another.
pub(crate) struct Logins {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    tasks: tokio::task::JoinSet<()>,
}

impl Logins {
    /// Registers `count` users and starts each logging in every `pause`.
    pub(crate) async fn start(client: &Client, bases: &[String], count: usize, pause: Duration) -> Self {
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let run = format!("{:x}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
        let emails: Vec<String> = (0..count).map(|i| format!("login{i}-{run}@example.com")).collect();
        for email in &emails {
            let response = client
                .post(format!("{}/api/auth/register", bases[0]))
                .json(&serde_json::json!({"email": email, "password": load::PASSWORD}))
                .send()
                .await
                .expect("registration answers");
            assert_eq!(response.status(), StatusCode::CREATED, "registering {email}");
        }
        let (stop, tally) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Tally::default())));
        let (down, next, bases) = (Arc::new(Avoided::new(bases.len())), Arc::new(AtomicUsize::new(0)), bases.to_vec());
        let mut tasks = tokio::task::JoinSet::new();
        for email in emails {
            let (client, stop, tally) = (client.clone(), Arc::clone(&stop), Arc::clone(&tally));
            let (down, next, bases) = (Arc::clone(&down), Arc::clone(&next), bases.clone());
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let statuses = log_in_and_use(&client, &bases, &down, &next, &email).await;
                    {
                        let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
                        for status in statuses {
                            tally.record(status, started);
                            if status == 401 {
                                tally.lost += 1;
                            }
                        }
                    }
                    tokio::time::sleep(pause).await;
                }
            });
        }
        Self { stop, tally, tasks }
    }

    /// Stops the logins and adds what they saw to `tally`.
    pub(crate) async fn stop_into(mut self, tally: &mut Tally) {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        tally.add(&self.tally.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// A login, then `GET /api/auth/me` with its cookie: their statuses (0 for
/// no answer; no `/me` when the login failed).
async fn log_in_and_use(
    client: &Client,
    bases: &[String],
    down: &Avoided,
    next: &AtomicUsize,
    email: &str,
) -> Vec<u16> {
    let body = serde_json::json!({"email": email, "password": load::PASSWORD});
    let login = |base: &str| client.post(format!("{base}/api/auth/login")).json(&body);
    let Some(login) = load::send(client, bases, down, next, login).await else { return vec![0] };
    let Some(cookie) = login.cookie.filter(|_| login.status == 200) else { return vec![login.status] };
    let me = |base: &str| client.get(format!("{base}/api/auth/me")).header(header::COOKIE, &cookie);
    let me = load::send(client, bases, down, next, me).await.map_or(0, |answer| answer.status);
    vec![login.status, me]
}
