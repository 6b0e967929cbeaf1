//! The `sesame` operator commands as an operator runs them, against the
//! local PostgreSQL (`TEST_DATABASE_URL`) and Redis (`TEST_REDIS_URL`): records
//! moved between deployments and store kinds (`users|sessions
//! export|import`, `sessions copy`, the in-memory snapshot), and users and
//! sessions looked at and ended (`users list|show|disable|enable|delete`,
//! `sessions list|revoke|stats|purge`).

use std::{
    collections::HashMap,
    process::{Command, Output},
    sync::Arc,
};

use sesame_core::ports::{
    Email, PasswordHash, Session, SessionId, SessionMetadata, SessionTokenHash, SystemClock, User, UserId, UserSnapshot,
};
use sesame_factory::{Adapters, Environment, Settings};
use time::{Duration, OffsetDateTime};

/// A deployment of its own: a PostgreSQL schema and a Redis key prefix.
struct Deployment {
    vars: HashMap<String, String>,
}

impl Deployment {
    fn new(sessions: &str) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let vars = HashMap::from([
            ("SESSION_ENVIRONMENT".to_owned(), "development".to_owned()),
            ("DATABASE_URL".to_owned(), sesame_testbed::test_database_url()),
            ("REDIS_URL".to_owned(), sesame_testbed::test_redis_url()),
            ("SESAME__POSTGRES__SCHEMA".to_owned(), format!("sesame_test_{unique}")),
            ("SESAME__REDIS__KEY_PREFIX".to_owned(), format!("sesame-test:{unique}:")),
            ("SESAME__STORE__SESSIONS".to_owned(), sessions.to_owned()),
            ("SESAME__STORE__CONNECT_ATTEMPTS".to_owned(), "1".to_owned()),
            ("RUST_LOG".to_owned(), "warn".to_owned()),
        ]);
        Self { vars }
    }

    async fn stores(&self) -> Adapters {
        let settings = Settings::from_vars(Environment::Development, self.vars.clone()).expect("settings");
        sesame_factory::build(&settings, Arc::new(SystemClock)).await.unwrap_or_else(|err| {
            panic!("{err}: these tests need PostgreSQL and Redis; set TEST_DATABASE_URL and TEST_REDIS_URL")
        })
    }

    /// `sesame args…` against this deployment, with `stdin` as its input.
    fn sesame(&self, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_sesame"))
            .args(args)
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&self.vars)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run sesame");
        child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
        child.wait_with_output().expect("sesame's output")
    }
}

fn user(tag: &str) -> User {
    User {
        id: UserId::random(),
        email: Email::parse(&format!("{tag}-{}@example.com", UserId::random())).unwrap(),
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
        is_verified: true,
        is_disabled: false,
        created_at: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - Duration::days(3),
    }
}

fn session(user: &User, idle: Duration) -> Session {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    Session {
        id: SessionId::random(),
        token_hash: token_hash(),
        user_id: user.id,
        created_at: now - Duration::minutes(10),
        last_seen_at: now - Duration::minutes(1),
        idle_expires_at: now - Duration::minutes(1) + idle,
        absolute_expires_at: now + Duration::hours(11),
        metadata: SessionMetadata::new(Some("203.0.113.7".parse().unwrap()), Some("Firefox/140")),
        user: Some(UserSnapshot { email: user.email.clone(), is_verified: true, created_at: user.created_at }),
    }
}

/// 32 random bytes from two UUIDs: a token hash no other test uses.
fn token_hash() -> SessionTokenHash {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    SessionTokenHash::from_bytes(bytes)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_sessions_move_to_another_deployment_and_a_second_run_changes_nothing() {
    let from = Deployment::new("tiered");
    let stores = from.stores().await;
    let users = [user("moved"), user("moved")];
    let mut live = Vec::new();
    for user in &users {
        stores.users.import(user).await.expect("seed a user");
        for _ in 0..30 {
            let session = session(user, Duration::minutes(30));
            stores.sessions.create(&session).await.expect("seed a session");
            live.push(session);
        }
    }
    let expired = session(&users[0], Duration::seconds(30));
    stores.sessions.create(&expired).await.expect("seed an expired session");

    let exported_users = from.sesame(&["users", "export"], b"");
    assert!(exported_users.status.success(), "{}", stderr(&exported_users));
    let exported_sessions = from.sesame(&["sessions", "export"], b"");
    assert!(exported_sessions.status.success(), "{}", stderr(&exported_sessions));
    let lines = String::from_utf8(exported_sessions.stdout.clone()).unwrap();
    assert_eq!(lines.lines().count(), live.len(), "every live session, and not the expired one");
    assert!(stderr(&exported_sessions).contains("60 records written"), "{}", stderr(&exported_sessions));
    for session in &live {
        assert!(lines.contains(&session.token_hash.to_hex()));
    }

    let to = Deployment::new("redis");
    let imported = to.sesame(&["users", "import"], &exported_users.stdout);
    assert!(stderr(&imported).contains("2 created, 0 updated, 0 skipped, 0 failed"), "{}", stderr(&imported));
    let imported = to.sesame(&["sessions", "import"], &exported_sessions.stdout);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(stderr(&imported).contains("60 created, 0 updated, 0 skipped, 0 failed"), "{}", stderr(&imported));

    let again = to.sesame(&["sessions", "import"], &exported_sessions.stdout);
    assert!(stderr(&again).contains("0 created, 0 updated, 60 skipped, 0 failed"), "{}", stderr(&again));

    let moved = to.stores().await;
    for user in &users {
        assert_eq!(moved.users.find_by_id(user.id).await.unwrap().as_ref(), Some(user), "the user, hash and all");
        assert_eq!(moved.sessions.list_for_user(user.id).await.unwrap().len(), 30, "listed as the user's");
    }
    for session in &live {
        assert_eq!(moved.sessions.get(&session.token_hash).await.unwrap().as_ref(), Some(session));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_fail_alone_named_by_number_and_the_exit_says_so() {
    let to = Deployment::new("redis");
    let secret = "hunter2-in-a-bad-line";
    let good = serde_json::to_string(&sesame_core::ports::PortableRecord::User((&user("good")).into())).unwrap();
    let input = format!("{{\"kind\":\"user\",\"password\":\"{secret}\"}}\n{good}\n\nnot json {secret}\n");

    let checked = to.sesame(&["users", "import", "--dry-run"], input.as_bytes());
    assert!(!checked.status.success());
    assert!(stderr(&checked).contains("1 valid, 2 failed (dry run: nothing written)"), "{}", stderr(&checked));

    let imported = to.sesame(&["users", "import"], input.as_bytes());
    assert!(!imported.status.success(), "a failed record fails the run");
    let said = stderr(&imported);
    assert!(said.contains("line 1:") && said.contains("line 4:"), "{said}");
    assert!(said.contains("1 created, 0 updated, 0 skipped, 2 failed"), "{said}");
    assert!(!said.contains(secret), "a bad line is named by number, never shown: {said}");

    let sessions = to.sesame(&["sessions", "import"], good.as_bytes());
    assert!(
        stderr(&sessions).contains("not a session") || stderr(&sessions).contains("line 1:"),
        "{}",
        stderr(&sessions)
    );
    assert!(!sessions.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_sessions_from_redis_to_postgresql_to_a_cluster_and_a_second_run_changes_nothing() {
    let cluster = std::env::var("TEST_REDIS_CLUSTER_URLS").unwrap_or_else(|_| {
        panic!("a Redis Cluster is needed: set TEST_REDIS_CLUSTER_URLS to its node URLs, or run `cargo xtask test`")
    });
    let redis = Deployment::new("redis");
    let mut postgres = Deployment::new("postgres");
    let mut on_cluster = Deployment::new("redis");
    on_cluster.vars.insert("REDIS_URL".into(), cluster.clone());
    postgres.vars.insert("COPY_PASSWORDLESS_URL".into(), postgres.vars["DATABASE_URL"].clone());

    let seeded = redis.stores().await;
    let owner = user("copied");
    let mut live = Vec::new();
    for _ in 0..20 {
        let session = session(&owner, Duration::minutes(30));
        seeded.sessions.create(&session).await.expect("seed a session");
        live.push(session);
    }
    seeded.sessions.create(&session(&owner, Duration::seconds(30))).await.expect("seed an expired session");
    drop(postgres.stores().await); // migrates its schema

    let var = |deployment: &Deployment, name: &str| deployment.vars[name].clone();
    let to_postgres = [
        "sessions",
        "copy",
        "--from",
        &var(&redis, "REDIS_URL"),
        "--from-prefix",
        &var(&redis, "SESAME__REDIS__KEY_PREFIX"),
        "--to",
        "env:COPY_PASSWORDLESS_URL",
        "--to-schema",
        &var(&postgres, "SESAME__POSTGRES__SCHEMA"),
    ];
    let args: Vec<&str> = to_postgres.to_vec();
    let dry = postgres.sesame(&[args.as_slice(), &["--dry-run"]].concat(), b"");
    assert!(stderr(&dry).contains("20 valid, 0 failed (dry run: nothing written)"), "{}", stderr(&dry));
    let copied = postgres.sesame(&args, b"");
    assert!(copied.status.success(), "{}", stderr(&copied));
    assert!(stderr(&copied).contains("20 created, 0 updated, 0 skipped, 0 failed"), "{}", stderr(&copied));
    let again = postgres.sesame(&args, b"");
    assert!(stderr(&again).contains("0 created, 0 updated, 20 skipped, 0 failed"), "{}", stderr(&again));

    let to_cluster = [
        "sessions",
        "copy",
        "--from",
        "env:COPY_PASSWORDLESS_URL",
        "--from-schema",
        &var(&postgres, "SESAME__POSTGRES__SCHEMA"),
        "--to",
        &cluster,
        "--to-prefix",
        &var(&on_cluster, "SESAME__REDIS__KEY_PREFIX"),
    ];
    let copied = postgres.sesame(&to_cluster, b"");
    assert!(stderr(&copied).contains("20 created, 0 updated, 0 skipped, 0 failed"), "{}", stderr(&copied));

    let moved = on_cluster.stores().await;
    for session in &live {
        assert_eq!(moved.sessions.get(&session.token_hash).await.unwrap().as_ref(), Some(session));
    }
    assert_eq!(moved.sessions.list_for_user(owner.id).await.unwrap().len(), 20);

    let unset = postgres.sesame(&["sessions", "copy", "--from", "env:NOT_SET_ANYWHERE", "--to", &cluster], b"");
    assert!(!unset.status.success());
    assert!(stderr(&unset).contains("NOT_SET_ANYWHERE is not set"), "{}", stderr(&unset));
}

/// `sesame` serving on a free port with JSON logs and these variables only.
fn service(vars: &HashMap<String, String>) -> sesame_testbed::Service {
    sesame_testbed::Service::start(
        Command::new(env!("CARGO_BIN_EXE_sesame"))
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(vars)
            .env("RUST_LOG", "info")
            .env("SESAME__HTTP__ADDR", "127.0.0.1:0")
            .env("SESAME__LOG__FORMAT", "json"),
    )
}

/// The base URL of `service` once it answers ready (its stores connected).
async fn ready(service: &sesame_testbed::Service) -> String {
    let base = service.listening_on(std::time::Duration::from_secs(30));
    let started = std::time::Instant::now();
    while !reqwest::get(format!("{base}/readyz")).await.is_ok_and(|answer| answer.status() == reqwest::StatusCode::OK) {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "never ready:\n{}", service.logs());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    base
}

async fn me(base: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}/api/auth/me"))
        .header("cookie", format!("sessionId={token}"))
        .send()
        .await
        .unwrap()
}

fn stop(mut service: sesame_testbed::Service) {
    service.terminate();
    let status = service.wait_exit(std::time::Duration::from_secs(30)).expect("it stops on SIGTERM");
    assert!(status.success(), "{status:?}:\n{}", service.logs());
}

/// `sesame args…` with the audit log on standard error; (exit code, stdout, stderr).
fn operate(deployment: &Deployment, args: &[&str]) -> (i32, String, String) {
    let mut audited = Deployment { vars: deployment.vars.clone() };
    audited.vars.insert("RUST_LOG".into(), "warn,sesame::audit=info".into());
    let output = audited.sesame(args, b"");
    let code = output.status.code().expect("an exit code");
    (code, String::from_utf8_lossy(&output.stdout).into_owned(), stderr(&output))
}

/// `POST /api/auth/{action}` (`register`, `login`) with these credentials.
async fn credentials(base: &str, action: &str, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}/api/auth/{action}"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn login(base: &str, email: &str, password: &str) -> reqwest::Response {
    credentials(base, "login", email, password).await
}

fn token_of(answer: &reqwest::Response) -> String {
    let cookie = answer.headers()["set-cookie"].to_str().unwrap();
    cookie.strip_prefix("sessionId=").and_then(|rest| rest.split(';').next()).expect("the cookie").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_default_keeps_its_sessions_over_a_restart_and_its_snapshot_moves_them_into_real_stores() {
    let dir = std::env::temp_dir().join(format!("sesame-snapshot-{}", uuid::Uuid::new_v4().simple()));
    let mock = HashMap::from([("SESAME__STORE__MEMORY_SNAPSHOT_DIR".to_owned(), dir.display().to_string())]);
    let (email, password) = ("snapshot@example.com", "correct horse battery staple");

    let first = service(&mock);
    let base = ready(&first).await;
    let registered = credentials(&base, "register", email, password).await;
    assert_eq!(registered.status(), 201);
    let cookie = registered.headers()["set-cookie"].to_str().unwrap().to_owned();
    let token =
        cookie.strip_prefix("sessionId=").and_then(|rest| rest.split(';').next()).expect("the cookie").to_owned();
    stop(first);
    let users_file = dir.join("users.jsonl");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&users_file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the users file holds password hashes");
    assert!(!std::fs::read_to_string(dir.join("sessions.jsonl")).unwrap().contains(&token), "never the token");

    let second = service(&mock);
    let base = ready(&second).await;
    let answer = me(&base, &token).await;
    assert_eq!(answer.status(), 200, "the session outlived the restart");
    stop(second);

    // Into real stores: the team's move from the mock to production.
    let real = Deployment::new("tiered");
    drop(real.stores().await); // migrates its schema
    let users = real.sesame(&["users", "import", "--input", &users_file.display().to_string()], b"");
    assert!(stderr(&users).contains("1 created"), "{}", stderr(&users));
    let sessions_file = dir.join("sessions.jsonl").display().to_string();
    let sessions = real.sesame(&["sessions", "import", "--input", &sessions_file], b"");
    assert!(stderr(&sessions).contains("1 created"), "{}", stderr(&sessions));
    let served = service(&real.vars);
    let base = ready(&served).await;
    let answer = me(&base, &token).await;
    assert_eq!(answer.status(), 200, "the mock's cookie works on the real stores");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["user"]["email"], email);
    assert_eq!(login(&base, email, password).await.status(), 200, "the password hash came along");
    stop(served);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_ends_disables_enables_and_deletes_and_each_change_is_audited() {
    let real = Deployment::new("tiered");
    let served = service(&real.vars);
    let base = ready(&served).await;
    let (email, password) = ("operated@example.com", "correct horse battery staple");
    let registered = credentials(&base, "register", email, password).await;
    assert_eq!(registered.status(), 201);
    let first = token_of(&registered);
    let second = token_of(&login(&base, email, password).await);

    let (code, listed, _) = operate(&real, &["users", "list", "--json"]);
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(listed[0]["email"], email, "{listed}");
    assert!(!listed.to_string().contains("argon2"), "never a password hash: {listed}");

    let (code, shown, _) = operate(&real, &["users", "show", email, "--json"]);
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("JSON");
    assert_eq!(shown["sessions"].as_array().map(Vec::len), Some(2), "{shown}");

    let (code, sessions, _) = operate(&real, &["sessions", "list", "--user", email, "--json"]);
    assert_eq!(code, 0);
    let sessions: serde_json::Value = serde_json::from_str(&sessions).expect("JSON");
    let oldest = sessions[0]["id"].as_str().expect("a session id").to_owned();
    let (code, _, said) = operate(&real, &["sessions", "revoke", "--user", email, "--session", &oldest]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("sessions_ended_by_operator") && said.contains("operator"), "audited: {said}");
    assert_eq!(me(&base, &first).await.status(), 401, "the revoked session ended");
    assert_eq!(me(&base, &second).await.status(), 200, "the other did not");

    let (code, _, said) = operate(&real, &["users", "disable", email]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("user_disabled") && said.contains("1 session ended"), "{said}");
    assert_eq!(me(&base, &second).await.status(), 401, "disabling ends every session");
    let refused = login(&base, email, password).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.json::<serde_json::Value>().await.unwrap()["code"], "account_disabled");
    assert_eq!(login(&base, email, "a wrong password entirely").await.status(), 401, "said only to who knows it");

    let (code, _, said) = operate(&real, &["users", "enable", email]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("user_enabled"), "{said}");
    assert_eq!(login(&base, email, password).await.status(), 200);

    let (code, stats, _) = operate(&real, &["sessions", "stats", "--json"]);
    assert_eq!(code, 0);
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("JSON");
    assert_eq!(stats["live"], 1, "{stats}");
    let (code, _, said) = operate(&real, &["sessions", "purge"]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("expired sessions removed"), "{said}");

    let (code, _, said) = operate(&real, &["users", "delete", email]);
    assert_eq!(code, 2, "a deletion needs --yes: {said}");
    let (code, _, said) = operate(&real, &["users", "delete", email, "--yes"]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("user_deleted"), "{said}");
    assert_eq!(login(&base, email, password).await.status(), 401);

    let (code, _, said) = operate(&real, &["users", "disable", "nobody@example.com"]);
    assert_eq!(code, 3, "an unknown user is its own exit code: {said}");
    assert!(said.contains("sesame users list"), "says what to do next: {said}");
    stop(served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_terminal_progress_is_a_live_line_and_in_a_log_a_plain_one() {
    let deployment = Deployment::new("redis");
    let users = deployment.stores().await.users;
    for _ in 0..3 {
        users.import(&user("progress")).await.expect("seed a user");
    }
    // `script` runs the command on a pseudo-terminal and copies what it shows.
    let command = format!("{} users export --output /dev/null", env!("CARGO_BIN_EXE_sesame"));
    let shown = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(&deployment.vars)
        .env("TERM", "xterm")
        .output()
        .expect("script (util-linux) runs");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("users export: 3 records, ") && shown.contains("/s"), "a live line: {shown}");

    let logged = deployment.sesame(&["users", "export", "--output", "/dev/null"], b"");
    let logged = stderr(&logged);
    assert!(logged.contains("users export: 3 records written") && !logged.contains("/s"), "no live line: {logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mocks_legacy_users_import_with_their_hashes_and_new_ids_and_log_in() {
    let real = Deployment::new("tiered");
    drop(real.stores().await); // migrates its schema
    // PBKDF2-SHA256 of "password" (Python's hashlib), as another system stored it.
    let hash = "$pbkdf2-sha256$i=1000,l=32$c2FsdHNhbHRzYWx0c2FsdA$8nX7hwFEzIB8aPajJTYK8weHQc5Ngz0pFVAKvSu4jQA";
    let uuid = uuid::Uuid::new_v4().to_string();
    let legacy = serde_json::json!([
        {"id": uuid, "email": "legacy-uuid@example.com", "passwordHash": hash, "sessionId": "abcdefghijklmnop1234", "plan": "pro"},
        {"id": 42, "email": "legacy-number@example.com", "passwordHash": hash, "isVerified": true},
        {"id": "x", "email": "not an email", "passwordHash": hash},
    ]);
    let file = std::env::temp_dir().join(format!("sesame-legacy-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, legacy.to_string()).unwrap();
    let file = file.display().to_string();

    let (code, mapping, said) = operate(&real, &["users", "import", "--legacy", &file]);
    assert_eq!(code, 1, "one record failed: {said}");
    assert!(said.contains("2 created, 0 updated, 0 skipped, 1 failed") && said.contains("record 3:"), "{said}");
    assert!(said.contains("1 sessions opened under their legacy sessionId"), "{said}");
    assert!(mapping.starts_with("42 -> ") && mapping.lines().count() == 1, "the new id is printed: {mapping}");
    let (_, again, said) = operate(&real, &["users", "import", "--legacy", &file]);
    assert!(said.contains("0 created, 0 updated, 2 skipped, 1 failed"), "idempotent: {said}");
    assert!(!said.contains("sessions opened"), "no session for a user that was there: {said}");
    assert_eq!(again, mapping, "the same ids every run");

    let served = service(&real.vars);
    let base = ready(&served).await;
    for email in ["legacy-uuid@example.com", "legacy-number@example.com"] {
        assert_eq!(login(&base, email, "password").await.status(), 200, "{email} logs in with the kept hash");
        assert_eq!(login(&base, email, "passwore").await.status(), 401);
    }
    let (_, shown, _) = operate(&real, &["users", "show", "legacy-uuid@example.com", "--json"]);
    assert!(shown.contains(&uuid), "a UUID id is kept: {shown}");
    stop(served);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_cookie_keeps_working_and_is_rotated_at_its_first_use() {
    let real = Deployment::new("tiered");
    drop(real.stores().await); // migrates its schema
    let legacy_token = "legacy-cookie-0b6f3c1e-6a3f";
    let email = format!("legacy-{}@example.com", uuid::Uuid::new_v4().simple());
    let hash = bcrypt::hash("password", 4).unwrap();
    let record = serde_json::json!([{"id": "u-1", "email": email, "passwordHash": hash, "sessionId": legacy_token}]);
    let file = std::env::temp_dir().join(format!("sesame-legacy-{}.json", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, record.to_string()).unwrap();
    let file = file.display().to_string();
    let (code, _, said) = operate(&real, &["users", "import", "--legacy", &file]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("1 sessions opened under their legacy sessionId"), "{said}");

    let served = service(&real.vars);
    let base = ready(&served).await;
    assert_eq!(me(&base, legacy_token).await.status(), 401, "legacy tokens are read only when configured");
    stop(served);

    let mut vars = real.vars.clone();
    vars.insert("SESAME__COOKIE__LEGACY_TOKENS".into(), "true".into());
    vars.insert("SESAME__COOKIE__PREVIOUS_NAMES".into(), "legacySid".into());
    let served = service(&vars);
    let base = ready(&served).await;
    let first = me(&base, legacy_token).await;
    assert_eq!(first.status(), 200, "the old system's cookie keeps working");
    let new_token = token_of(&first);
    assert_eq!(new_token.len(), 43, "rotated to a sesame token: {new_token}");
    assert_eq!(first.json::<serde_json::Value>().await.unwrap()["user"]["email"], email.as_str());

    let again = me(&base, &new_token).await;
    assert_eq!(again.status(), 200, "the new token opens the session");
    assert!(again.headers().get("set-cookie").is_none());
    let in_flight = me(&base, legacy_token).await;
    assert_eq!(in_flight.status(), 200, "the legacy token works for 60 s after the rotation");
    assert!(in_flight.headers().get("set-cookie").is_none(), "and is not rotated twice");
    let renamed = reqwest::Client::new()
        .get(format!("{base}/api/auth/me"))
        .header("cookie", format!("legacySid={legacy_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    assert!(
        renamed.headers().get("set-cookie").is_none(),
        "under a previous name too, the rotated legacy token is not re-issued over its successor"
    );
    assert_eq!(me(&base, "legacy-cookie-made-up-000000").await.status(), 401, "only imported sessions open");
    assert_eq!(login(&base, &email, "password").await.status(), 200, "the bcrypt hash verifies");
    let rotations = served.logs().matches("legacy_token_rotated").count();
    assert_eq!(rotations, 1, "one audit event:\n{}", served.logs());
    stop(served);

    let (_, _, said) = operate(&real, &["users", "import", "--legacy", &file]);
    assert!(said.contains("1 skipped") && !said.contains("sessions opened"), "a rerun reopens nothing: {said}");
    let _ = std::fs::remove_file(&file);
}
