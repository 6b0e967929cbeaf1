//! The services the tests and the development environment need: PostgreSQL and
//! Redis (through Docker when an engine answers, else the machine's own), and
//! throw-away Redis servers on loopback for the tests: a 3-master Cluster, a
//! password-protected server and a TLS server with a certificate of its own CA.

use std::{
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{project_root, run};

/// Where the local services listen.
pub(crate) const POSTGRES: &str = "127.0.0.1:5432";
pub(crate) const REDIS: &str = "127.0.0.1:6379";

/// The loopback ports of the test cluster's three masters (their bus ports are +10000).
const CLUSTER_PORTS: [u16; 3] = [7101, 7102, 7103];
/// The loopback port of the password-protected test server, and its password.
const PROTECTED_PORT: u16 = 7110;
const PROTECTED_PASSWORD: &str = "sesame-test-secret";
/// The loopback port of the TLS test server.
const TLS_PORT: u16 = 7111;

pub(crate) fn answers(address: &str) -> bool {
    let address: SocketAddr = address.parse().expect("a socket address");
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
}

/// Waits until `ready`, checking every 200 ms; fails after `deadline`.
pub(crate) fn wait_for(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let started = Instant::now();
    while !ready() {
        if started.elapsed() > deadline {
            return Err(format!("{what} did not come up within {deadline:?}"));
        }
        thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn docker_engine_answers() -> bool {
    Command::new("docker")
        .args(["info"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn compose_file() -> String {
    project_root().join("docker/docker-compose.yml").display().to_string()
}

/// The version of the machine's PostgreSQL cluster (Debian's /etc/postgresql/VERSION).
fn postgres_version() -> Option<String> {
    let entry = std::fs::read_dir("/etc/postgresql").ok()?.next()?.ok()?;
    Some(entry.file_name().to_string_lossy().into_owned())
}

/// Where `up` records what it started, so that `down` stops only that.
fn started_file() -> PathBuf {
    std::env::temp_dir().join("sesame-services-started")
}

/// What `up` started and `down` may stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Started {
    Compose,
    Postgres,
    Redis,
}

impl Started {
    const ALL: [Self; 3] = [Self::Compose, Self::Postgres, Self::Redis];

    fn name(self) -> &'static str {
        match self {
            Self::Compose => "compose",
            Self::Postgres => "postgres",
            Self::Redis => "redis",
        }
    }
}

fn record_started(what: Started) -> Result<(), String> {
    use std::io::Write as _;
    let path = started_file();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    writeln!(file, "{}", what.name()).map_err(|err| err.to_string())
}

fn recorded() -> Vec<Started> {
    let text = std::fs::read_to_string(started_file()).unwrap_or_default();
    Started::ALL.into_iter().filter(|what| text.lines().any(|line| line.trim() == what.name())).collect()
}

/// Starts PostgreSQL and Redis unless they already answer, says how, and
/// records what it started.
pub(crate) fn up() -> Result<(), String> {
    if answers(POSTGRES) && answers(REDIS) {
        eprintln!("services: PostgreSQL ({POSTGRES}) and Redis ({REDIS}) already answer");
        return Ok(());
    }
    if docker_engine_answers() {
        eprintln!("services: starting PostgreSQL and Redis with docker compose");
        run(Command::new("docker").args(["compose", "-f", &compose_file(), "up", "-d", "--wait"]))?;
        record_started(Started::Compose)?;
    } else {
        eprintln!("services: no Docker engine answers; starting the machine's own PostgreSQL and Redis");
        if !answers(POSTGRES) {
            let version = postgres_version()
                .ok_or("PostgreSQL is not installed here (no /etc/postgresql); install it or start Docker")?;
            run(Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &version, "main", "start"]))?;
            record_started(Started::Postgres)?;
        }
        if !answers(REDIS) {
            std::fs::create_dir_all("/var/lib/redis").map_err(|err| format!("cannot create /var/lib/redis: {err}"))?;
            redis_server("/var/lib/redis", 6379, 6379, &[])?;
            record_started(Started::Redis)?;
        }
    }
    wait_for("PostgreSQL", Duration::from_secs(30), || answers(POSTGRES))?;
    wait_for("Redis", Duration::from_secs(30), || answers(REDIS))
}

/// Stops what `up` started — and nothing else: servers that were running
/// before (the machine's own, or someone else's) are left alone.
pub(crate) fn down() -> Result<(), String> {
    let started = recorded();
    if started.is_empty() {
        eprintln!("services: `services up` started nothing here; leaving the running services alone");
        return Ok(());
    }
    for what in started {
        match what {
            Started::Compose => {
                eprintln!("services: stopping the docker compose services");
                run(Command::new("docker").args(["compose", "-f", &compose_file(), "down"]))?;
            }
            Started::Postgres => {
                eprintln!("services: stopping the PostgreSQL that `services up` started");
                if let Some(version) = postgres_version() {
                    run(Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &version, "main", "stop"]))?;
                }
            }
            Started::Redis => {
                eprintln!("services: stopping the Redis that `services up` started");
                let _ = Command::new("redis-cli").args(["-p", "6379", "shutdown", "nosave"]).status();
            }
        }
    }
    std::fs::remove_file(started_file()).map_err(|err| format!("cannot remove {}: {err}", started_file().display()))
}

/// Starts a Redis server in the background on loopback `port` (0 for none, as a
/// TLS-only server has), keeping nothing on disk, with `options` on top, and
/// waits until `answer_port` accepts connections.
fn redis_server(dir: &str, port: u16, answer_port: u16, options: &[&str]) -> Result<(), String> {
    if answers(&format!("127.0.0.1:{answer_port}")) {
        return Err(format!("port {answer_port} is taken by another program; free it and run again"));
    }
    let logfile = format!("{dir}/redis-{answer_port}.log");
    let port = port.to_string();
    run(Command::new("redis-server")
        .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes"])
        .args(["--dir", dir, "--logfile", &logfile])
        .args(options))?;
    wait_for(&format!("Redis on port {answer_port}"), Duration::from_secs(10), || {
        answers(&format!("127.0.0.1:{answer_port}"))
    })
}

/// Held while `cargo xtask test` runs, so that two runs on one machine do not
/// stop each other's servers: a file naming the holder's process id.
pub(crate) struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock, or says which run holds it. A lock left by a process that
    /// no longer exists is taken over.
    pub(crate) fn acquire() -> Result<Self, String> {
        let path = std::env::temp_dir().join("sesame-xtask-test.lock");
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    use std::io::Write as _;
                    writeln!(file, "{}", std::process::id()).map_err(|err| err.to_string())?;
                    return Ok(Self { path });
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default().trim().to_owned();
                    if !holder.is_empty() && PathBuf::from(format!("/proc/{holder}")).exists() {
                        return Err(format!("another `cargo xtask test` (process {holder}) is running; wait for it"));
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(err) => return Err(format!("cannot create {}: {err}", path.display())),
            }
        }
        Err(format!("cannot take {}", path.display()))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The test Redis servers — a 3-master Cluster, a password-protected server and a
/// TLS server — on loopback, stopped when dropped.
pub(crate) struct TestRedis {
    dir: PathBuf,
}

impl TestRedis {
    /// Starts every test server; servers left by an interrupted run are stopped first.
    pub(crate) fn start() -> Result<Self, String> {
        let servers = Self { dir: std::env::temp_dir().join("sesame-test-redis") };
        servers.stop();
        let _ = std::fs::remove_dir_all(&servers.dir);
        std::fs::create_dir_all(&servers.dir)
            .map_err(|err| format!("cannot create {}: {err}", servers.dir.display()))?;
        servers.start_cluster()?;
        redis_server(&servers.dir(), PROTECTED_PORT, PROTECTED_PORT, &["--requirepass", PROTECTED_PASSWORD])?;
        eprintln!("services: password-protected Redis up on 127.0.0.1:{PROTECTED_PORT}");
        servers.start_tls()?;
        Ok(servers)
    }

    fn dir(&self) -> String {
        self.dir.display().to_string()
    }

    /// Three cluster-enabled servers joined into one cluster.
    fn start_cluster(&self) -> Result<(), String> {
        for port in CLUSTER_PORTS {
            let config = format!("{}/nodes-{port}.conf", self.dir());
            redis_server(&self.dir(), port, port, &["--cluster-enabled", "yes", "--cluster-config-file", &config])?;
        }
        let nodes: Vec<String> = CLUSTER_PORTS.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        let mut create = Command::new("redis-cli");
        create.args(["--cluster", "create"]).args(&nodes).args(["--cluster-replicas", "0", "--cluster-yes"]);
        run(create.stdout(Stdio::null()))?;
        wait_for("the Redis Cluster", Duration::from_secs(20), || {
            CLUSTER_PORTS.iter().all(|port| {
                Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
            })
        })?;
        eprintln!("services: Redis Cluster up on {}", nodes.join(", "));
        Ok(())
    }

    /// A certificate authority and a server certificate for 127.0.0.1 (openssl),
    /// and a Redis that speaks only TLS with it.
    fn start_tls(&self) -> Result<(), String> {
        let file = |name: &str| format!("{}/{name}", self.dir());
        let openssl =
            |args: &[&str]| run(Command::new("openssl").args(args).stdout(Stdio::null()).stderr(Stdio::null()));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=sesame-test-ca",
            "-keyout",
            &file("ca.key"),
            "-out",
            &file("ca.pem"),
        ])?;
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &file("server.key"),
            "-out",
            &file("server.csr"),
        ])?;
        std::fs::write(file("san.cnf"), "subjectAltName=IP:127.0.0.1\n").map_err(|err| err.to_string())?;
        openssl(&[
            "x509",
            "-req",
            "-days",
            "1",
            "-CAcreateserial",
            "-in",
            &file("server.csr"),
            "-CA",
            &file("ca.pem"),
            "-CAkey",
            &file("ca.key"),
            "-out",
            &file("server.pem"),
            "-extfile",
            &file("san.cnf"),
        ])?;
        let port = TLS_PORT.to_string();
        redis_server(
            &self.dir(),
            0,
            TLS_PORT,
            &[
                "--tls-port",
                &port,
                "--tls-cert-file",
                &file("server.pem"),
                "--tls-key-file",
                &file("server.key"),
                "--tls-ca-cert-file",
                &file("ca.pem"),
                "--tls-auth-clients",
                "no",
            ],
        )?;
        eprintln!("services: TLS Redis up on 127.0.0.1:{TLS_PORT}");
        Ok(())
    }

    /// The Cluster's node URLs, comma-separated, as `TEST_REDIS_CLUSTER_URLS` takes them.
    pub(crate) fn cluster_urls(&self) -> String {
        CLUSTER_PORTS.iter().map(|port| format!("redis://127.0.0.1:{port}")).collect::<Vec<_>>().join(",")
    }

    /// `redis://:password@…` of the protected server, as `TEST_REDIS_PASSWORD_URL` takes it.
    pub(crate) fn password_url(&self) -> String {
        format!("redis://:{PROTECTED_PASSWORD}@127.0.0.1:{PROTECTED_PORT}")
    }

    /// `rediss://…` of the TLS server, as `TEST_REDIS_TLS_URL` takes it.
    pub(crate) fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{TLS_PORT}")
    }

    /// The CA that signed the TLS server's certificate, for `SSL_CERT_FILE`.
    pub(crate) fn tls_ca_file(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    fn stop(&self) {
        let tls_ca = self.tls_ca_file();
        let protected = ["-a", PROTECTED_PASSWORD, "--no-auth-warning"];
        let tls = ["--tls", "--cacert", tls_ca.as_str()];
        let cluster = CLUSTER_PORTS.iter().map(|port| (*port, &[][..]));
        for (port, options) in cluster.chain([(PROTECTED_PORT, &protected[..]), (TLS_PORT, &tls[..])]) {
            let _ = Command::new("redis-cli")
                .args(["-p", &port.to_string()])
                .args(options)
                .args(["shutdown", "nosave"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        eprintln!("services: test Redis servers stopped");
    }
}
