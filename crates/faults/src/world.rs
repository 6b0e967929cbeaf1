//! One fault's world: a throw-away PostgreSQL, a throw-away Redis (or Redis
//! Cluster with a replica per master), and two `sesame` instances in tiered
//! mode over them, on loopback.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sesame_testbed::{Postgres, Redis, RedisCluster};

/// Where the sessions' Redis runs.
pub(crate) enum Cache {
    Single(Redis),
    Cluster(RedisCluster),
}

impl Cache {
    fn url(&self) -> String {
        match self {
            Self::Single(redis) => redis.url(),
            Self::Cluster(cluster) => cluster.urls(),
        }
    }

    /// The single Redis; the faults on one server need it.
    pub(crate) fn single(&mut self) -> &mut Redis {
        match self {
            Self::Single(redis) => redis,
            Self::Cluster(_) => panic!("this fault needs a single Redis"),
        }
    }

    /// The Cluster; the failover fault needs it.
    pub(crate) fn cluster(&mut self) -> &mut RedisCluster {
        match self {
            Self::Cluster(cluster) => cluster,
            Self::Single(_) => panic!("this fault needs a Redis Cluster"),
        }
    }
}

/// A running `sesame serve`, its log lines collected.
pub(crate) struct Instance {
    child: Option<Child>,
    pub(crate) base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    fn start(binary: &Path, vars: &[(String, String)]) -> Self {
        let mut child = Command::new(binary)
            .arg("serve")
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(line);
                }
            });
        }
        let mut instance = Self { child: Some(child), base: String::new(), lines };
        instance.base = instance.wait_listening();
        instance
    }

    fn wait_listening(&self) -> String {
        let started = Instant::now();
        loop {
            let found = self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().find_map(|line| {
                let event: serde_json::Value = serde_json::from_str(line).ok()?;
                (event["message"] == "listening").then(|| event["address"].as_str().map(str::to_owned)).flatten()
            });
            if let Some(address) = found {
                return format!("http://{address}");
            }
            assert!(started.elapsed() < Duration::from_secs(20), "sesame did not listen:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every log line so far.
    pub(crate) fn logs(&self) -> String {
        self.lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).join("\n")
    }

    /// Sends SIGTERM.
    pub(crate) fn terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
    }

    /// Waits for the process to exit; whether it exited 0 within `deadline`.
    pub(crate) fn wait_exit(&mut self, deadline: Duration) -> bool {
        let Some(child) = self.child.as_mut() else { return true };
        let started = Instant::now();
        while started.elapsed() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The stores and two instances over them.
pub(crate) struct World {
    pub(crate) postgres: Postgres,
    pub(crate) cache: Cache,
    pub(crate) instances: Vec<Instance>,
}

impl World {
    /// Starts PostgreSQL, Redis (a Cluster when `cluster`, with `redis_options`
    /// otherwise) and two instances of `binary`.
    pub(crate) fn start(binary: &Path, cluster: bool, redis_options: &[&str]) -> Self {
        let postgres = Postgres::start();
        let cache = if cluster {
            Cache::Cluster(RedisCluster::start(3))
        } else {
            Cache::Single(Redis::start_with(redis_options))
        };
        let vars: Vec<(String, String)> = [
            ("SESSION_ENVIRONMENT", "development".to_owned()),
            ("DATABASE_URL", postgres.url()),
            ("REDIS_URL", cache.url()),
            ("SESAME__REDIS__CLUSTER", cluster.to_string()),
            ("SESAME__HTTP__ADDR", "127.0.0.1:0".to_owned()),
            ("SESAME__HTTP__DRAIN_SECONDS", "2".to_owned()),
            ("SESAME__LOG__FORMAT", "json".to_owned()),
            ("SESAME__LOG__FILTER", "info,sesame::access=off".to_owned()),
            // Uses are recorded often, so touches happen during each fault.
            ("SESAME__SESSION__TOUCH_INTERVAL_SECONDS", "2".to_owned()),
            ("SESAME__PASSWORD__MAX_CONCURRENT_HASHES", "2".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let instances = (0..2).map(|_| Instance::start(binary, &vars)).collect();
        Self { postgres, cache, instances }
    }

    /// The instances' base URLs.
    pub(crate) fn bases(&self) -> Vec<String> {
        self.instances.iter().map(|instance| instance.base.clone()).collect()
    }

    /// Every instance's log, for a failing fault's report.
    pub(crate) fn logs(&self) -> String {
        self.instances.iter().map(Instance::logs).collect::<Vec<_>>().join("\n---\n")
    }
}
