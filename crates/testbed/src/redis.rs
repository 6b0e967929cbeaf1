//! Throw-away Redis servers: one, or a Cluster with a replica per master.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::{free_port, listening, run, scratch_dir, wait_until};

/// A Redis server of its own on loopback, keeping nothing on disk unless told
/// to, stopped when dropped.
pub struct Redis {
    port: u16,
    dir: PathBuf,
    options: Vec<String>,
    child: Option<Child>,
}

impl Redis {
    /// A server without persistence.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A server without persistence, with `options` (`redis-server` flags,
    /// e.g. `["--maxmemory", "2mb"]`) on top.
    pub fn start_with(options: &[&str]) -> Self {
        Self::start_on(free_port(), options)
    }

    /// A server on `port` (one a test reserved, say for a service that should
    /// find Redis there later), without persistence, with `options` on top.
    pub fn start_on(port: u16, options: &[&str]) -> Self {
        let mut redis = Self {
            port,
            dir: scratch_dir("redis", port),
            options: options.iter().map(|option| (*option).to_owned()).collect(),
            child: None,
        };
        redis.launch();
        redis
    }

    fn launch(&mut self) {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.options)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start redis-server: {err} (is Redis installed?)"));
        self.child = Some(child);
        let port = self.port;
        wait_until(&format!("Redis on port {port}"), Duration::from_secs(10), || {
            self.try_cli(&["ping"]).is_some_and(|answer| answer.trim() == "PONG")
        });
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against it; its answer, or a panic.
    pub fn cli(&self, args: &[&str]) -> String {
        run(Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args))
    }

    fn try_cli(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli").args(["-p", &self.port.to_string()]).args(args).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Kills it at once (a crash): without persistence its data is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let port = self.port;
        wait_until(&format!("Redis on port {port} to go"), Duration::from_secs(10), || !listening(port));
    }

    /// Starts it again on the same port with the same options.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "Redis on port {} is already running", self.port);
        self.launch();
    }

    /// Kills and starts it again: a restart without persistence.
    pub fn restart(&mut self) {
        self.kill();
        self.start_again();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of `masters` masters with one replica each, on loopback.
pub struct RedisCluster {
    nodes: Vec<Redis>,
    masters: usize,
}

impl RedisCluster {
    /// Starts the nodes and joins them; the first `masters` nodes are masters.
    pub fn start(masters: usize) -> Self {
        let nodes: Vec<Redis> = (0..masters * 2)
            .map(|_| {
                let port = free_port();
                let config =
                    std::env::temp_dir().join(format!("sesame-testbed-nodes-{port}-{}.conf", std::process::id()));
                let _ = std::fs::remove_file(&config);
                let config = config.display().to_string();
                Redis::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &config,
                    "--cluster-node-timeout",
                    "1000",
                ])
            })
            .collect();
        let addresses: Vec<String> = nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        run(Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null()));
        let cluster = Self { nodes, masters };
        wait_until("the Redis Cluster", Duration::from_secs(30), || cluster.is_healthy());
        cluster
    }

    /// Whether every node says the cluster is up and every master has a replica.
    pub fn is_healthy(&self) -> bool {
        let up = self
            .nodes
            .iter()
            .filter(|node| node.child.is_some())
            .all(|node| node.try_cli(&["cluster", "info"]).is_some_and(|info| info.contains("cluster_state:ok")));
        up && self.replicas_online() >= self.masters
    }

    fn replicas_online(&self) -> usize {
        self.nodes
            .iter()
            .filter(|node| node.child.is_some())
            .filter_map(|node| node.try_cli(&["info", "replication"]))
            .filter(|info| info.contains("role:slave") && info.contains("master_link_status:up"))
            .count()
    }

    /// The node URLs, comma-separated, as `REDIS_URL` takes them.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(Redis::url).collect::<Vec<_>>().join(",")
    }

    /// The nodes that are masters now.
    pub fn masters(&mut self) -> Vec<&mut Redis> {
        self.nodes
            .iter_mut()
            .filter(|node| node.child.is_some())
            .filter(|node| node.try_cli(&["info", "replication"]).is_some_and(|info| info.contains("role:master")))
            .collect()
    }

    /// Kills one master and waits until its replica has taken over; the
    /// killed master's port.
    pub fn fail_over_one_master(&mut self) -> u16 {
        let master = self.masters().into_iter().next().expect("a master");
        let port = master.port;
        master.kill();
        let nodes = &self.nodes;
        wait_until(&format!("a replica to take over from {port}"), Duration::from_secs(30), || {
            nodes
                .iter()
                .filter(|node| node.child.is_some())
                .all(|node| node.try_cli(&["cluster", "info"]).is_some_and(|info| info.contains("cluster_state:ok")))
        });
        port
    }
}
