//! `spawn_app`: a world of its own for each test — the app on port 0 over adapters
//! built by the factory with a fake clock — and a typed client for it.
//!
//! `TEST_SESSION_ENVIRONMENT` picks the environment the flows run in: `mock` (the
//! default) or `development`, where each test gets its own PostgreSQL schema and
//! Redis key prefix on the servers at `TEST_DATABASE_URL` and `TEST_REDIS_URL`
//! (defaults: the local ones). `cargo xtask test` runs the flows in both.

use std::{collections::HashMap, sync::Arc, time::Duration};

use reqwest::{Client, Response, StatusCode, header};
use serde_json::{Value, json};
use sesame_core::ports::{Email, ManualClock, UserRepository};
use sesame_factory::{Environment, Guard, GuardSettings, Settings};
use sesame_web::Application;
use time::OffsetDateTime;

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A running app and handles on its stores and clock.
pub(crate) struct TestApp {
    pub(crate) base: String,
    /// `http://` and `/metrics`' own address, when it has one.
    #[allow(dead_code)]
    pub(crate) metrics_base: Option<String>,
    /// The settings the app runs with (the stores tests read its schema and key prefix).
    #[allow(dead_code)]
    pub(crate) settings: Settings,
    pub(crate) clock: ManualClock,
    pub(crate) users: Arc<dyn UserRepository>,
    /// The backend names under which this app's stores count their calls:
    /// its own, since tests in one process share the metrics recorder.
    counted: (&'static str, &'static str),
}

/// A guard that only counts, under `backend`: no breaker, and a timeout no
/// test reaches.
fn counted(backend: &'static str) -> Arc<Guard> {
    Guard::new(GuardSettings { failures_to_open: u32::MAX, ..GuardSettings::new(backend, Duration::from_secs(600)) })
}

/// Spawns the app on the mock environment with default settings.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns the app with these variables on top of the defaults, in the environment
/// `TEST_SESSION_ENVIRONMENT` names; the listener always gets port 0.
pub(crate) async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let environment = std::env::var("TEST_SESSION_ENVIRONMENT").unwrap_or_default();
    let environment = Environment::from_variable(Some(&environment)).expect("TEST_SESSION_ENVIRONMENT");
    spawn_app_in(environment, vars).await
}

/// The variables that point an app at the test PostgreSQL and Redis, in a schema
/// and under a key prefix of its own.
pub(crate) fn isolated_store_vars() -> HashMap<String, String> {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    HashMap::from([
        ("DATABASE_URL".into(), sesame_testbed::test_database_url()),
        ("REDIS_URL".into(), sesame_testbed::test_redis_url()),
        ("SESAME__POSTGRES__SCHEMA".into(), format!("sesame_test_{unique}")),
        ("SESAME__REDIS__KEY_PREFIX".into(), format!("sesame-test:{unique}:")),
        ("SESAME__STORE__CONNECT_ATTEMPTS".into(), "1".into()),
    ])
}

/// Spawns the app in `environment` with these variables on top of the defaults.
pub(crate) async fn spawn_app_in(environment: Environment, vars: &[(&str, &str)]) -> TestApp {
    let mut map = if environment == Environment::Mock { HashMap::new() } else { isolated_store_vars() };
    // Many users from one address: the rate-limit tests set the limits they test.
    for limit in ["LOGIN_PER_IP", "LOGIN_PER_EMAIL", "REGISTER_PER_IP", "INVALID_COOKIE_PER_IP"] {
        map.insert(format!("SESAME__RATE_LIMIT__{limit}"), "off".into());
    }
    map.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    map.insert("SESAME__HTTP__ADDR".into(), "127.0.0.1:0".into());
    let settings = Settings::from_vars(environment, map).expect("test settings are valid");
    let clock = ManualClock::new(OffsetDateTime::now_utc().replace_nanosecond(0).expect("valid"));
    let mut adapters = sesame_factory::build(&settings, Arc::new(clock.clone())).await.unwrap_or_else(|err| {
        panic!("{err}. The {environment} environment needs PostgreSQL and Redis: start them (`cargo xtask services up`) or set TEST_DATABASE_URL and TEST_REDIS_URL")
    });
    // The guard every production store goes through counts the calls
    // (`sesame_store_call_duration_seconds_count`) under these backend names.
    let unique = uuid::Uuid::new_v4().simple().to_string();
    // Leaked: a few bytes per test app, for a label the guard keeps as 'static.
    let counted_as = |store: &str| -> &'static str { Box::leak(format!("counted-{store}-{unique}").into_boxed_str()) };
    let counted_names = (counted_as("users"), counted_as("sessions"));
    adapters.users = Arc::new(counted(counted_names.0).wrap(Arc::clone(&adapters.users)));
    adapters.sessions = Arc::new(counted(counted_names.1).wrap(Arc::clone(&adapters.sessions)));
    let users = Arc::clone(&adapters.users);
    let app = Application::build(&settings, adapters).await.expect("bind");
    let base = format!("http://{}", app.address());
    let metrics_base = app.metrics_address().map(|address| format!("http://{address}"));
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp { base, metrics_base, settings, clock, users, counted: counted_names }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: it keeps cookies and sends them back.
    pub(crate) fn browser(&self) -> Client {
        Client::builder().cookie_store(true).user_agent("sesame-tests/1.0").build().expect("client")
    }

    /// A client without a cookie jar, for requests with hand-made headers.
    pub(crate) fn raw(&self) -> Client {
        Client::new()
    }

    pub(crate) async fn register(&self, client: &Client, email: &str, password: &str) -> Response {
        self.post_json(client, "/api/auth/register", json!({"email": email, "password": password})).await
    }

    pub(crate) async fn login(&self, client: &Client, email: &str, password: &str) -> Response {
        self.post_json(client, "/api/auth/login", json!({"email": email, "password": password})).await
    }

    pub(crate) async fn post_json(&self, client: &Client, path: &str, body: Value) -> Response {
        client.post(self.url(path)).json(&body).send().await.expect("request")
    }

    pub(crate) async fn post(&self, client: &Client, path: &str) -> Response {
        client.post(self.url(path)).send().await.expect("request")
    }

    pub(crate) async fn get(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.expect("request")
    }

    /// `GET /api/auth/me` presenting `token` by hand.
    pub(crate) async fn me_with_token(&self, token: &str) -> Response {
        self.raw()
            .get(self.url("/api/auth/me"))
            .header(header::COOKIE, format!("sessionId={token}"))
            .send()
            .await
            .expect("request")
    }

    /// A new browser registered as a new user; returns the client, the email and the token.
    pub(crate) async fn signed_up(&self, email: &str) -> (Client, String) {
        let client = self.browser();
        let response = self.register(&client, email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let token = session_token(&response).expect("register sets the cookie");
        (client, token)
    }

    /// How many sessions the app has been asked to create so far.
    pub(crate) async fn sessions_created(&self) -> usize {
        self.creations(self.counted.1).await
    }

    /// How many users the app has been asked to create so far.
    pub(crate) async fn users_created(&self) -> usize {
        self.creations(self.counted.0).await
    }

    /// The `create` calls counted on the store `backend`, read from `/metrics`.
    async fn creations(&self, backend: &str) -> usize {
        let base = self.metrics_base.as_deref().unwrap_or(&self.base);
        let metrics = self.raw().get(format!("{base}/metrics")).send().await.expect("/metrics");
        let metrics = metrics.text().await.expect("/metrics text");
        let series = format!("sesame_store_call_duration_seconds_count{{backend=\"{backend}\",operation=\"create\"}}");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series.as_str()))
            .map_or(0, |count| count.trim().parse().unwrap_or_else(|_| panic!("a count: {count:?}")))
    }

    pub(crate) async fn user_exists(&self, email: &str) -> bool {
        let Ok(email) = Email::parse(email) else { return false };
        self.users.find_by_email(&email).await.expect("find").is_some()
    }
}

/// The token in a response's `Set-Cookie: sessionId=…`, if it sets a non-empty one.
pub(crate) fn session_token(response: &Response) -> Option<String> {
    set_cookie(response).and_then(|cookie| {
        let value = cookie.split(';').next()?.strip_prefix("sessionId=")?;
        (!value.is_empty()).then(|| value.to_owned())
    })
}

pub(crate) fn set_cookie(response: &Response) -> Option<String> {
    response.headers().get(header::SET_COOKIE).map(|value| value.to_str().expect("ascii").to_owned())
}

/// The body as JSON, checked never to contain `token`.
pub(crate) async fn json_without(response: Response, token: &str) -> Value {
    let text = response.text().await.expect("body");
    assert!(!text.contains(token), "a response body contains the session token: {text}");
    serde_json::from_str(&text).expect("a JSON body")
}

/// Asserts a problem answer: its status, content type and stable code.
pub(crate) async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "for code {code}");
    let content_type = response.headers().get(header::CONTENT_TYPE).expect("content type").to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    body
}
