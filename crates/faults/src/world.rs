//! One fault's world: a throw-away PostgreSQL, a throw-away Redis (or Redis
//! Cluster with a replica per master), and two `sesame` instances in tiered
//! mode over them, on loopback.

use std::{path::Path, process::Command, time::Duration};

use sesame_testbed::{Postgres, Redis, RedisCluster, Service};

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

/// A running `sesame serve`.
pub(crate) struct Instance {
    service: Service,
    pub(crate) base: String,
}

impl Instance {
    pub(crate) fn start(binary: &Path, vars: &[(String, String)]) -> Self {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(vars.iter().map(|(k, v)| (k, v)));
        let service = Service::start(&mut command);
        let base = service.listening_on(Duration::from_secs(20));
        Self { service, base }
    }

    /// Every log line so far.
    pub(crate) fn logs(&self) -> String {
        self.service.logs()
    }

    /// Sends SIGTERM.
    pub(crate) fn terminate(&self) {
        self.service.terminate();
    }

    /// Sends SIGKILL.
    pub(crate) fn kill(&mut self) {
        self.service.kill();
    }

    /// Whether the process exited 0 within `deadline`.
    pub(crate) fn wait_exit(&mut self, deadline: Duration) -> bool {
        self.service.wait_exit(deadline).is_some_and(|status| status.success())
    }
}

/// The variables every instance the suite starts has: development mode, JSON
/// logs (the test bed reads the `listening` line), uses recorded every 2 s
/// (so that touches happen during each fault), a drain of `drain_seconds`, and
/// rate limits raised out of the way (all users come from one address, and a
/// 429 counts as a failure).
pub(crate) fn test_instance(drain_seconds: u32) -> Vec<(String, String)> {
    [
        ("SESSION_ENVIRONMENT", "development".to_owned()),
        ("SESAME__HTTP__DRAIN_SECONDS", drain_seconds.to_string()),
        ("SESAME__LOG__FORMAT", "json".to_owned()),
        ("SESAME__LOG__FILTER", "info,sesame::access=off".to_owned()),
        ("SESAME__SESSION__TOUCH_INTERVAL_SECONDS", "2".to_owned()),
        ("SESAME__PASSWORD__MAX_CONCURRENT_HASHES", "2".to_owned()),
        ("SESAME__RATE_LIMIT__REGISTER_PER_IP", "100000/1s".to_owned()),
        ("SESAME__RATE_LIMIT__LOGIN_PER_IP", "100000/1s".to_owned()),
        ("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "100000/1s".to_owned()),
        ("SESAME__RATE_LIMIT__INVALID_COOKIE_PER_IP", "100000/1s".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
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
        let mut vars = test_instance(2);
        vars.extend([
            ("DATABASE_URL".to_owned(), postgres.url()),
            ("REDIS_URL".to_owned(), cache.url()),
            ("SESAME__REDIS__CLUSTER".to_owned(), cluster.to_string()),
            ("SESAME__HTTP__ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ]);
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
