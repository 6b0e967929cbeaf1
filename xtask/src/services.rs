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

fn wait_for(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
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

/// Starts PostgreSQL and Redis unless they already answer, and says how.
pub(crate) fn up() -> Result<(), String> {
    if answers(POSTGRES) && answers(REDIS) {
        eprintln!("services: PostgreSQL ({POSTGRES}) and Redis ({REDIS}) already answer");
        return Ok(());
    }
    if docker_engine_answers() {
        eprintln!("services: starting PostgreSQL and Redis with docker compose");
        run(Command::new("docker").args(["compose", "-f", &compose_file(), "up", "-d", "--wait"]))?;
    } else {
        eprintln!("services: no Docker engine answers; starting the machine's own PostgreSQL and Redis");
        if !answers(POSTGRES) {
            let version = std::fs::read_dir("/etc/postgresql")
                .ok()
                .and_then(|mut entries| entries.next())
                .and_then(|entry| entry.ok())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .ok_or("PostgreSQL is not installed here (no /etc/postgresql); install it or start Docker")?;
            run(Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &version, "main", "start"]))?;
        }
        if !answers(REDIS) {
            std::fs::create_dir_all("/var/lib/redis").map_err(|err| format!("cannot create /var/lib/redis: {err}"))?;
            std::fs::create_dir_all("/var/log/redis").map_err(|err| format!("cannot create /var/log/redis: {err}"))?;
            run(Command::new("redis-server").args([
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/sesame.log",
            ]))?;
        }
    }
    wait_for("PostgreSQL", Duration::from_secs(30), || answers(POSTGRES))?;
    wait_for("Redis", Duration::from_secs(30), || answers(REDIS))
}

/// Stops what `up` started: the compose services, or the machine's own.
pub(crate) fn down() -> Result<(), String> {
    if docker_engine_answers() {
        eprintln!("services: stopping the docker compose services");
        return run(Command::new("docker").args(["compose", "-f", &compose_file(), "down"]));
    }
    eprintln!("services: no Docker engine answers; stopping the machine's own PostgreSQL and Redis");
    if let Some(version) = std::fs::read_dir("/etc/postgresql").ok().and_then(|mut e| e.next()).and_then(Result::ok) {
        let version = version.file_name().to_string_lossy().into_owned();
        run(Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &version, "main", "stop"]))?;
    }
    let _ = Command::new("redis-cli").args(["-p", "6379", "shutdown", "nosave"]).status();
    Ok(())
}

/// The test Redis servers — a 3-master Cluster, a password-protected server and a
/// TLS server — on loopback, stopped when dropped.
pub(crate) struct TestRedis {
    dir: PathBuf,
}

impl TestRedis {
    /// Starts three cluster-enabled servers, joins them into one cluster, and
    /// starts the password-protected server.
    pub(crate) fn start() -> Result<Self, String> {
        let dir = std::env::temp_dir().join("sesame-test-redis");
        let cluster = Self { dir };
        cluster.stop(); // A cluster left behind by an interrupted run.
        let _ = std::fs::remove_dir_all(&cluster.dir);
        std::fs::create_dir_all(&cluster.dir)
            .map_err(|err| format!("cannot create {}: {err}", cluster.dir.display()))?;
        for port in CLUSTER_PORTS {
            let port = port.to_string();
            let dir = cluster.dir.display().to_string();
            run(Command::new("redis-server").args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &format!("{dir}/nodes-{port}.conf"),
                "--dir",
                &dir,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--logfile",
                &format!("{dir}/{port}.log"),
            ]))?;
        }
        for port in CLUSTER_PORTS {
            wait_for("a cluster node", Duration::from_secs(10), || answers(&format!("127.0.0.1:{port}")))?;
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
        let port = PROTECTED_PORT.to_string();
        run(Command::new("redis-server").args([
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--requirepass",
            PROTECTED_PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            &cluster.dir.display().to_string(),
            "--logfile",
            &format!("{}/{port}.log", cluster.dir.display()),
        ]))?;
        wait_for("the password-protected Redis", Duration::from_secs(10), || answers(&format!("127.0.0.1:{port}")))?;
        eprintln!("services: password-protected Redis up on 127.0.0.1:{port}");
        cluster.start_tls()?;
        Ok(cluster)
    }

    /// A certificate authority and a server certificate for 127.0.0.1 (openssl), and
    /// a Redis that speaks only TLS with it.
    fn start_tls(&self) -> Result<(), String> {
        let dir = self.dir.display().to_string();
        let file = |name: &str| format!("{dir}/{name}");
        let quiet = |command: &mut Command| run(command.stdout(Stdio::null()).stderr(Stdio::null()));
        quiet(Command::new("openssl").args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]).args([
            "-subj",
            "/CN=sesame-test-ca",
            "-keyout",
            &file("ca.key"),
            "-out",
            &file("ca.pem"),
        ]))?;
        quiet(
            Command::new("openssl").args(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"]).args([
                "-keyout",
                &file("server.key"),
                "-out",
                &file("server.csr"),
            ]),
        )?;
        std::fs::write(file("san.cnf"), "subjectAltName=IP:127.0.0.1\n").map_err(|err| err.to_string())?;
        quiet(Command::new("openssl").args(["x509", "-req", "-days", "1", "-CAcreateserial"]).args([
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
        ]))?;
        let port = TLS_PORT.to_string();
        run(Command::new("redis-server").args([
            "--port",
            "0",
            "--tls-port",
            &port,
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            &file("server.pem"),
            "--tls-key-file",
            &file("server.key"),
            "--tls-ca-cert-file",
            &file("ca.pem"),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            &dir,
            "--logfile",
            &file(&format!("{port}.log")),
        ]))?;
        wait_for("the TLS Redis", Duration::from_secs(10), || answers(&format!("127.0.0.1:{port}")))?;
        eprintln!("services: TLS Redis up on 127.0.0.1:{port}");
        Ok(())
    }

    /// `rediss://…` of the TLS server, as `TEST_REDIS_TLS_URL` takes it.
    pub(crate) fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{TLS_PORT}")
    }

    /// The CA that signed the TLS server's certificate, for `SSL_CERT_FILE`.
    pub(crate) fn tls_ca_file(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// `redis://:password@…` of the protected server, as `TEST_REDIS_PASSWORD_URL` takes it.
    pub(crate) fn password_url(&self) -> String {
        format!("redis://:{PROTECTED_PASSWORD}@127.0.0.1:{PROTECTED_PORT}")
    }

    /// The Cluster's node URLs, comma-separated, as `TEST_REDIS_CLUSTER_URLS` takes them.
    pub(crate) fn cluster_urls(&self) -> String {
        CLUSTER_PORTS.iter().map(|port| format!("redis://127.0.0.1:{port}")).collect::<Vec<_>>().join(",")
    }

    fn stop(&self) {
        let protected = ["-a", PROTECTED_PASSWORD, "--no-auth-warning"];
        let tls_ca = self.tls_ca_file();
        let tls = ["--tls", "--cacert", tls_ca.as_str()];
        let servers =
            CLUSTER_PORTS.iter().map(|p| (*p, &[][..])).chain([(PROTECTED_PORT, &protected[..]), (TLS_PORT, &tls[..])]);
        for (port, options) in servers {
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
