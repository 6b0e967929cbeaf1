//! The production topology of docker/docker-compose.prod.yml, natively: a
//! throw-away PostgreSQL, a Redis configured as the compose file configures it
//! (password, AOF, `maxmemory` with `allkeys-lru`), `sesame migrate`, two
//! release `sesame` instances in production mode reading their store URLs from
//! secret files, and Debian's HAProxy on **the same `haproxy.cfg` the compose
//! file mounts**, its addresses from the environment, terminating TLS.
//!
//! Users go through the proxy only (HTTPS, trusting the throw-away
//! certificate), with no retry of their own: what the proxy does not save
//! fails. First, the account page's forms as a browser posts them through
//! the proxy (its `Origin`, the `Secure` cookie over TLS, the forwarded
//! scheme the Origin rule compares with); then two scenarios:
//! - **rolling restart**: instance A, then B, is sent SIGTERM, drains, exits
//!   and starts again, the next stopped only once the proxy's checks see the
//!   last one up, as an orchestrator waits for readiness; promise: no failed
//!   request, no logout;
//! - **a crash**: one instance is killed (SIGKILL); the requests in flight on
//!   it are counted, and every request that starts once the proxy's checks
//!   have taken it out (2 checks, 1 s apart) must succeed; no logout.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use reqwest::Client;
use sesame_testbed::{Postgres, Redis, Service, free_port};

use crate::{
    Outcome, Scale,
    load::{self, Load, Tally},
    moves::{Logins, restart},
    world::{Instance, test_instance},
};

/// How long the proxy takes to take a dead instance out: `fall 2` checks,
/// `inter 1s` apart (haproxy.cfg), plus one check's timeout.
const CHECKS_TAKE_OUT: Duration = Duration::from_secs(3);

const REDIS_PASSWORD: &str = "topology-redis-password";

/// Everything running, and where.
struct Topology {
    _postgres: Postgres,
    _redis: Redis,
    instances: Vec<Instance>,
    proxy: Service,
    /// `https://127.0.0.1:PORT`, the proxy.
    base: String,
    /// The instances' variables (the same for both but the address).
    vars: [Vec<(String, String)>; 2],
    dir: PathBuf,
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes `contents` to `dir/name`, readable by its owner only; its path.
fn secret_file(dir: &Path, name: &str, contents: &str) -> String {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).expect(name);
    std::io::Write::write_all(&mut file, contents.as_bytes()).expect(name);
    path.display().to_string()
}

/// A self-signed certificate for 127.0.0.1: (the PEM HAProxy serves, the certificate alone).
fn certificate(dir: &Path) -> (String, Vec<u8>) {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
    let cert = std::fs::read(&cert).expect("the certificate");
    let pem = [cert.clone(), std::fs::read(&key).expect("the key")].concat();
    (secret_file(dir, "sesame.pem", &String::from_utf8(pem).expect("PEM is text")), cert)
}

impl Topology {
    fn start(binary: &Path, proxy_config: &Path) -> (Self, Vec<u8>) {
        let proxy_config = std::fs::canonicalize(proxy_config).expect("the proxy configuration");
        let dir = std::env::temp_dir().join(format!("sesame-topology-{}", free_port()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let (pem, cert) = certificate(&dir);
        let postgres = Postgres::start();
        let redis =
            Redis::start_with(&["--appendonly", "yes", "--maxmemory", "512mb", "--maxmemory-policy", "allkeys-lru"]);
        // Set once it answers (the test bed's readiness check has no password).
        redis.cli(&["config", "set", "requirepass", REDIS_PASSWORD]);
        let database_url = secret_file(&dir, "database_url", &postgres.url());
        let redis_url =
            secret_file(&dir, "redis_url", &format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}", redis.port()));
        // Production mode, as the compose file runs it, with its own logs and
        // production's 5 s drain.
        let mut common: Vec<(String, String)> = test_instance(5)
            .into_iter()
            .filter(|(name, _)| !name.starts_with("SESAME__LOG__") && name != "SESSION_ENVIRONMENT")
            .collect();
        common.extend(
            [
                ("SESSION_ENVIRONMENT", "production"),
                ("DATABASE_URL_FILE", database_url.as_str()),
                ("REDIS_URL_FILE", redis_url.as_str()),
                ("SESAME__HTTP__TRUSTED_PROXIES", "127.0.0.1/32"),
                ("SESAME__HTTP__TLS_IN_FRONT", "true"),
                ("SESAME__COOKIE__NAME", "__Host-sessionId"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        let migrated = Command::new(binary)
            .arg("migrate")
            .current_dir(&dir)
            .env_clear()
            .envs(common.iter().cloned())
            .output()
            .expect("sesame migrate runs");
        assert!(migrated.status.success(), "sesame migrate: {}", String::from_utf8_lossy(&migrated.stderr));

        let ports = [free_port(), free_port()];
        let vars = ports.map(|port| {
            let mut vars = common.clone();
            vars.push(("SESAME__HTTP__ADDR".to_owned(), format!("127.0.0.1:{port}")));
            vars
        });
        let instances: Vec<Instance> = vars.iter().map(|vars| Instance::start(binary, vars)).collect();
        let proxy_port = free_port();
        let proxy = Service::start(
            Command::new("haproxy")
                .args(["-db", "-f"])
                .arg(&proxy_config)
                .current_dir(&dir)
                .env("PROXY_HTTPS_BIND", format!("127.0.0.1:{proxy_port}"))
                .env("PROXY_HTTP_BIND", format!("127.0.0.1:{}", free_port()))
                .env("PROXY_CERT", &pem)
                .env("SESAME_A", format!("127.0.0.1:{}", ports[0]))
                .env("SESAME_B", format!("127.0.0.1:{}", ports[1])),
        );
        let started = Instant::now();
        while !sesame_testbed::listening(proxy_port) {
            assert!(started.elapsed() < Duration::from_secs(10), "HAProxy did not start:\n{}", proxy.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
        let base = format!("https://127.0.0.1:{proxy_port}");
        (Self { _postgres: postgres, _redis: redis, instances, proxy, base, vars, dir }, cert)
    }
}

/// Users, through the proxy: the `/me` load and four users logging in and
/// using each new cookie at once.
struct Users {
    load: Load,
    logins: Logins,
}

impl Users {
    async fn start(client: &Client, base: &str, users: &[load::User], scale: Scale) -> Self {
        let bases = [base.to_owned()];
        let logins = Logins::start(client, &bases, 4, scale.pause * 2).await;
        Self { load: Load::start(client, &bases, users, scale.pause), logins }
    }

    async fn stop(self) -> Tally {
        let mut tally = self.load.stop().await;
        self.logins.stop_into(&mut tally).await;
        tally
    }
}

pub(crate) async fn run(binary: &Path, proxy_config: &Path, scale: Scale) -> Vec<Outcome> {
    let started = Instant::now();
    let (binary, proxy_config) = (binary.to_owned(), proxy_config.to_owned());
    let (topology, cert) = tokio::task::spawn_blocking({
        let binary = binary.clone();
        move || Topology::start(&binary, &proxy_config)
    })
    .await
    .expect("the topology");
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .tls_certs_only([reqwest::Certificate::from_pem(&cert).expect("the certificate")])
        .build()
        .expect("a client");
    load::wait_ready(&client, std::slice::from_ref(&topology.base)).await;
    let users = load::register(&client, std::slice::from_ref(&topology.base), scale.users).await;
    let page = account_page(&topology.base, &cert).await;

    // A rolling restart: A, then B.
    let running = Users::start(&client, &topology.base, &users, scale).await;
    tokio::time::sleep(scale.before).await;
    let mut topology = tokio::task::spawn_blocking(move || {
        let mut topology = topology;
        for (index, server) in ["a", "b"].into_iter().enumerate() {
            let up = format!("Server sesame/{server} is UP");
            let seen = topology.proxy.logs().matches(&up).count();
            let vars = topology.vars[index].clone();
            restart(&mut topology.instances, index, &binary, &vars);
            // As an orchestrator waits for a replica to be ready before it
            // stops the next: here, ready as the proxy sees it (2 checks).
            let started = Instant::now();
            while topology.proxy.logs().matches(&up).count() == seen {
                assert!(started.elapsed() < Duration::from_secs(20), "HAProxy never saw {server} up again");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        topology
    })
    .await
    .expect("the rolling restart");
    tokio::time::sleep(scale.after).await;
    let tally = running.stop().await;
    let broken = tally.broken();
    let rolling = Outcome {
        fault: "proxy-rolling-restart",
        what: "two production instances behind HAProxy (docker/haproxy/haproxy.cfg), restarted one after the other",
        saw: "A then B: SIGTERM, drained, exited 0, started, up in HAProxy again".to_owned(),
        tally,
        took: started.elapsed(),
        broken,
    };

    // A crash: A killed.
    let started = Instant::now();
    let running = Users::start(&client, &topology.base, &users, scale).await;
    tokio::time::sleep(scale.before).await;
    let killed_at = Instant::now();
    topology.instances[0].kill();
    tokio::time::sleep(scale.after.max(CHECKS_TAKE_OUT * 2)).await;
    let tally = running.stop().await;
    let taken_out = killed_at + CHECKS_TAKE_OUT;
    let (in_flight, later): (Vec<Instant>, Vec<Instant>) = tally.failed_at.iter().partition(|at| **at < taken_out);
    let proxy_log = topology.proxy.logs();
    let marked_down = proxy_log.contains("sesame/a is DOWN");
    let mut broken = Vec::new();
    if !later.is_empty() {
        broken.push(format!("{} requests failed after the checks took the instance out", later.len()));
    }
    if tally.lost > 0 {
        broken.push(format!("{} logouts", tally.lost));
    }
    if !marked_down {
        broken.push("HAProxy never marked the killed instance DOWN".to_owned());
    }
    if !rolling.broken.is_empty() || !broken.is_empty() {
        let logs = topology.instances.iter().map(Instance::logs).collect::<Vec<_>>().join("\n---\n");
        eprintln!("faults: the topology broke a promise; HAProxy's log:\n{proxy_log}\nthe instances':\n{logs}");
    }
    let crash = Outcome {
        fault: "proxy-crash",
        what: "the same, one instance killed (SIGKILL)",
        saw: format!(
            "{} requests failed while the checks took it out ({} s), none after; HAProxy marked it DOWN: {}",
            in_flight.len(),
            CHECKS_TAKE_OUT.as_secs(),
            if marked_down { "yes" } else { "no" }
        ),
        tally,
        took: started.elapsed(),
        broken,
    };
    tokio::task::spawn_blocking(move || drop(topology)).await.expect("teardown");
    vec![page, rolling, crash]
}

/// The account page through the proxy, as a browser uses it: a sign-up
/// posted from the page's own HTTPS origin is answered with a redirect and a
/// `Secure` cookie that opens the page; one posted from another origin is refused.
async fn account_page(base: &str, cert: &[u8]) -> Outcome {
    let started = Instant::now();
    let browser = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([reqwest::Certificate::from_pem(cert).expect("the certificate")])
        .build()
        .expect("a client");
    let sign_up = |origin: &str| {
        browser
            .post(format!("{base}/account/register"))
            .header(reqwest::header::ORIGIN, origin)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("email=page%40example.com&password=correct+horse+battery+staple")
            .send()
    };
    let mut tally = Tally::default();
    let mut broken = Vec::new();
    let mut saw = Vec::new();
    let sent = Instant::now();
    let foreign = sign_up("https://elsewhere.example").await.map(|response| response.status().as_u16());
    tally.record(*foreign.as_ref().unwrap_or(&0), sent);
    saw.push(format!("another origin: {}", foreign.as_ref().map_or(0, |status| *status)));
    if foreign.ok() != Some(403) {
        broken.push("a sign-up from another origin was not refused with 403".to_owned());
    }
    let sent = Instant::now();
    match sign_up(base).await {
        Ok(response) => {
            tally.record(response.status().as_u16(), sent);
            let cookie = response.headers().get(reqwest::header::SET_COOKIE).and_then(|v| v.to_str().ok());
            let cookie = cookie.unwrap_or_default().to_owned();
            saw.push(format!("its own origin: {}", response.status().as_u16()));
            if response.status() != reqwest::StatusCode::SEE_OTHER || !cookie.contains("; Secure") {
                // The cookie's attributes, never its token.
                let attributes = cookie.split_once(';').map_or("", |(_, attributes)| attributes);
                broken
                    .push(format!("a sign-up from the page's origin got {} (cookie:{attributes})", response.status()));
            }
            let token = cookie.split(';').next().unwrap_or_default().to_owned();
            let page = browser.get(format!("{base}/account")).header(reqwest::header::COOKIE, token).send().await;
            let shown = match page {
                Ok(page) => page.text().await.unwrap_or_default().contains("page@example.com"),
                Err(_) => false,
            };
            saw.push(format!("the page shows the account: {}", if shown { "yes" } else { "no" }));
            if !shown {
                broken.push("the new cookie did not open the account page".to_owned());
            }
        }
        Err(err) => broken.push(format!("the sign-up got no answer: {err}")),
    }
    Outcome {
        fault: "proxy-account-page",
        what: "the account page's forms through HAProxy over HTTPS, posted as a browser posts them",
        saw: saw.join("; "),
        tally,
        took: started.elapsed(),
        broken,
    }
}
