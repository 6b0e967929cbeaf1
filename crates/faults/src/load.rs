//! Logged-in users sending authenticated requests, and what became of them.
//!
//! Each user holds a session cookie and asks `GET /api/auth/me` every
//! `pause`, spread over the instances like a load balancer would: a request
//! whose connection is refused or reset is tried once on the other instance
//! (what HAProxy's `retry-on conn-failure` does), and an instance that refused
//! is avoided for a health-check interval, then tried again. A user who gets a
//! 401 has been logged out: their session was lost.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode, header};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// How long an instance that refused a connection is left out, as a proxy's
/// health check would leave it out between two checks.
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// One logged-in user.
#[derive(Clone)]
pub(crate) struct User {
    cookie: String,
}

/// What the load saw.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    /// Requests by status; 0 for a request that got no answer at all.
    pub(crate) statuses: BTreeMap<u16, u64>,
    /// The slowest request.
    pub(crate) slowest: Duration,
    /// Users who got a 401: logged out.
    pub(crate) lost: usize,
    /// When each failed request started.
    pub(crate) failed_at: Vec<Instant>,
}

impl Tally {
    pub(crate) fn total(&self) -> u64 {
        self.statuses.values().sum()
    }

    pub(crate) fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Requests that failed: 5xx, 429 (a rate limit), or no answer.
    pub(crate) fn failed(&self) -> u64 {
        self.statuses.iter().filter(|(status, _)| is_failure(**status)).map(|(_, n)| n).sum()
    }

    /// The promises every run keeps that this tally broke: no session lost
    /// (a 401 for a live session), no failed request.
    pub(crate) fn broken(&self) -> Vec<String> {
        let mut broken = Vec::new();
        if self.lost > 0 {
            broken.push(format!("{} sessions lost (401)", self.lost));
        }
        if self.failed() > 0 {
            broken.push(format!("{} failed requests", self.failed()));
        }
        broken
    }

    /// Counts one request that started at `started` and ended with `status`.
    pub(crate) fn record(&mut self, status: u16, started: Instant) {
        *self.statuses.entry(status).or_default() += 1;
        self.slowest = self.slowest.max(started.elapsed());
        if is_failure(status) {
            self.failed_at.push(started);
        }
    }

    /// Adds what `other` saw.
    pub(crate) fn add(&mut self, other: &Self) {
        for (status, count) in &other.statuses {
            *self.statuses.entry(*status).or_default() += count;
        }
        self.slowest = self.slowest.max(other.slowest);
        self.lost += other.lost;
        self.failed_at.extend(&other.failed_at);
    }
}

/// A failed request: 5xx, 429 (a rate limit), or no answer (0).
fn is_failure(status: u16) -> bool {
    status == 0 || status == 429 || status >= 500
}

/// Waits until every instance's `/readyz` answers 200 (its stores are built).
pub(crate) async fn wait_ready(client: &Client, bases: &[String]) {
    let started = Instant::now();
    for base in bases {
        loop {
            let answer = client.get(format!("{base}/readyz")).send().await;
            if answer.as_ref().is_ok_and(|r| r.status() == StatusCode::OK) {
                break;
            }
            let last = answer.map(|r| r.status().to_string()).unwrap_or_else(|err| format!("{err:?}"));
            assert!(started.elapsed() < Duration::from_secs(30), "{base} never became ready; last: {last}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The client the users share: no cookie store (each user sends its own),
/// a 30 s timeout.
pub(crate) fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(30)).build().expect("client")
}

/// Registers `count` users, spread over `bases`; their session cookies.
pub(crate) async fn register(client: &Client, bases: &[String], count: usize) -> Vec<User> {
    let mut users = Vec::with_capacity(count);
    let run = format!("{:x}", Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let (client, base) = (client.clone(), bases[i % bases.len()].clone());
        let email = format!("user{i}-{run}@example.com");
        tasks.spawn(async move {
            let response = client
                .post(format!("{base}/api/auth/register"))
                .json(&serde_json::json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .expect("registration answers");
            assert_eq!(response.status(), StatusCode::CREATED, "registering {email}");
            let cookie = response.headers().get(header::SET_COOKIE).expect("a session cookie").to_str().unwrap();
            User { cookie: cookie.split(';').next().unwrap().to_owned() }
        });
    }
    while let Some(user) = tasks.join_next().await {
        users.push(user.expect("registration task"));
    }
    users
}

/// The load, running until [`Load::stop`].
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    tasks: tokio::task::JoinSet<()>,
}

impl Load {
    /// Starts every user asking `/api/auth/me` every `pause`.
    pub(crate) fn start(client: &Client, bases: &[String], users: &[User], pause: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let down = Arc::new(Avoided::new(bases.len()));
        let next = Arc::new(AtomicUsize::new(0));
        let bases = Arc::new(bases.to_vec());
        let mut tasks = tokio::task::JoinSet::new();
        for user in users {
            let (client, stop, tally) = (client.clone(), Arc::clone(&stop), Arc::clone(&tally));
            let (down, next, bases, user) = (Arc::clone(&down), Arc::clone(&next), Arc::clone(&bases), user.clone());
            tasks.spawn(async move {
                let mut logged_out = false;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let status = request(&client, &bases, &down, &next, &user).await;
                    {
                        let mut tally = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        tally.record(status, started);
                        if status == 401 && !logged_out {
                            logged_out = true;
                            tally.lost += 1;
                        }
                    }
                    tokio::time::sleep(pause).await;
                }
            });
        }
        Self { stop, tally, tasks }
    }

    /// Stops the users and returns what they saw.
    pub(crate) async fn stop(mut self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        self.tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// When each instance may be asked again: milliseconds since the load
/// started; 0 for one that is up.
pub(crate) struct Avoided {
    since: Instant,
    until: Vec<AtomicU64>,
}

impl Avoided {
    pub(crate) fn new(instances: usize) -> Self {
        Self { since: Instant::now(), until: (0..instances).map(|_| AtomicU64::new(0)).collect() }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether `index` takes requests: it is not left out, or it was and its
    /// health check (`/readyz`, as a proxy asks it) now answers 200.
    async fn is_up(&self, client: &Client, base: &str, index: usize) -> bool {
        match self.until[index].load(Ordering::Relaxed) {
            0 => true,
            until if until > self.now() => false,
            _ => {
                let ready =
                    client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK);
                self.mark(index, !ready);
                ready
            }
        }
    }

    fn mark(&self, index: usize, down: bool) {
        let until = if down { self.now() + u64::try_from(HEALTH_CHECK_INTERVAL.as_millis()).unwrap_or(0) } else { 0 };
        self.until[index].store(until, Ordering::Relaxed);
    }
}

/// What an instance answered: the status and the session cookie it set.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) cookie: Option<String>,
}

/// One request through the "load balancer": to the next instance that is
/// not left out; on a refused or reset connection, or a 503 from an instance
/// still starting (which its health check would have kept out), once more on
/// another (HAProxy's `retry-on conn-failure 503`). With one base (a real
/// proxy in front), one try: the proxy retries or the request fails. The
/// answer, or `None` when nothing answered.
pub(crate) async fn send(
    client: &Client,
    bases: &[String],
    down: &Avoided,
    next: &AtomicUsize,
    build: impl Fn(&str) -> reqwest::RequestBuilder,
) -> Option<Answer> {
    let (mut tried, attempts) = (0, bases.len().min(2));
    let mut last = None;
    while tried < attempts {
        let mut up = Vec::with_capacity(bases.len());
        for (index, base) in bases.iter().enumerate() {
            if down.is_up(client, base, index).await {
                up.push(index);
            }
        }
        let candidates = if up.is_empty() { (0..bases.len()).collect() } else { up };
        let index = candidates[next.fetch_add(1, Ordering::Relaxed) % candidates.len()];
        match build(&bases[index]).send().await {
            Ok(response) => {
                // An instance that drains closes every connection after its
                // answer: a load balancer's health check would take it out too.
                let closing = response.headers().get(header::CONNECTION).is_some_and(|value| value == "close");
                let status = response.status().as_u16();
                let cookie = response
                    .headers()
                    .get(header::SET_COOKIE)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.split(';').next())
                    .map(str::to_owned);
                let body = response.bytes().await.unwrap_or_default();
                let starting = status == 503 && body.windows(16).any(|part| part == b"service_starting");
                down.mark(index, closing || starting);
                last = Some(Answer { status, cookie });
                if !starting {
                    return last;
                }
                tried += 1;
            }
            Err(err) if err.is_connect() || err.is_request() => {
                down.mark(index, true);
                tried += 1;
            }
            Err(_) => return None,
        }
    }
    last
}

/// One `/me`: its status, or 0 when nothing answered.
async fn request(client: &Client, bases: &[String], down: &Avoided, next: &AtomicUsize, user: &User) -> u16 {
    let me = |base: &str| client.get(format!("{base}/api/auth/me")).header(header::COOKIE, &user.cookie);
    send(client, bases, down, next, me).await.map_or(0, |answer| answer.status)
}
