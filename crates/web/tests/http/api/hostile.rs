//! The hostile-input suite: well over a hundred requests an attacker would
//! send — malformed, oversized, truncated and slow bodies, deep nesting,
//! duplicate keys, wrong types, NUL and odd Unicode, injection strings, CR/LF
//! in headers, forged and duplicate cookies, foreign origins, wrong methods
//! and paths. Each must answer its 4xx with a stable `code` (malformed HTTP
//! framing is refused by hyper with a bare 400 before sesame sees it), never a
//! 5xx, and change nothing: no user, no session, the victim's session and
//! password still good.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

use crate::support::{PASSWORD, TestApp, spawn_app_with};

const VICTIM: &str = "victim@example.com";

/// One hostile request and what it must get.
struct Case {
    name: String,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    status: StatusCode,
    code: &'static str,
}

impl Case {
    fn new(name: impl Into<String>, method: Method, path: &str, status: StatusCode, code: &'static str) -> Self {
        Self { name: name.into(), method, path: path.to_owned(), headers: Vec::new(), body: None, status, code }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.body_as("application/json", body)
    }

    fn body_as(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        if !content_type.is_empty() {
            self.headers.push(("content-type".into(), content_type.to_owned()));
        }
        self
    }
}

fn bad_request(name: &str, method: Method, path: &str) -> Case {
    Case::new(name, method, path, StatusCode::BAD_REQUEST, "malformed_json")
}

fn invalid_body(name: &str, path: &str) -> Case {
    Case::new(name, Method::POST, path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
}

/// Bodies no JSON route accepts, with what each gets; `fields` are the
/// route's own (`email`, `password`), so that a broken value lands in one it
/// reads.
fn bad_bodies(method: &Method, path: &str, fields: &[&str]) -> Vec<Case> {
    let m = || method.clone();
    // Every field, the first one holding `first` (raw JSON text).
    let object = |first: &str| {
        let rest: Vec<String> = fields[1..].iter().map(|field| format!(r#""{field}": "x""#)).collect();
        format!(r#"{{"{}": {first}, {}}}"#, fields[0], rest.join(", ")).into_bytes()
    };
    let with_bytes = |bytes: &[u8]| {
        let text = object("\"PLACEHOLDER\"");
        let at = text.windows(11).position(|w| w == b"PLACEHOLDER").expect("placeholder");
        [&text[..at], bytes, &text[at + 11..]].concat()
    };
    let nested = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(1000), "}".repeat(1000));
    let mut cases = vec![
        bad_request("an unclosed object", m(), path).json("{"),
        bad_request("an empty body", m(), path).json(""),
        bad_request("a trailing comma", m(), path).json(r#"{"email": "a@b.co",}"#),
        bad_request("trailing garbage", m(), path).json([object("\"x\""), b"x".to_vec()].concat()),
        bad_request("a misspelt literal", m(), path).json("nul"),
        // serde stops at the first value of the wrong type, before any depth.
        Case::new("2000 nested arrays in a field", m(), path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
            .json(object(&nested)),
        Case::new("1000 nested objects in a field", m(), path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
            .json(object(&deep_object)),
        Case::new("2000 nested arrays for a body", m(), path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
            .json(nested.clone()),
        bad_request("a lone surrogate escape", m(), path).json(object(r#""\ud800@example.com""#)),
        bad_request("invalid UTF-8", m(), path).json(with_bytes(b"\xff\xfe")),
        bad_request("an unescaped control character", m(), path).json(with_bytes(b"a\x01b")),
        bad_request("a UTF-16 byte-order mark", m(), path).json(b"\xff\xfe{\x00}\x00".to_vec()),
        bad_request("a NUL byte outside strings", m(), path).json(b"{\x00}".to_vec()),
        bad_request("single quotes", m(), path).json("{'email': 'a@b.co'}"),
        Case::new("a string for a body", m(), path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").json(r#""text""#),
        Case::new("a number for a body", m(), path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").json("123"),
        Case::new("null for a body", m(), path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").json("null"),
        Case::new("an array for a body", m(), path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").json("[]"),
        Case::new("an empty object", m(), path, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").json("{}"),
        Case::new("17 KiB", m(), path, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            .json(format!(r#"{{"email": "{}"}}"#, "a".repeat(17 * 1024))),
        Case::new("text/plain", m(), path, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            .body_as("text/plain", "{}"),
        Case::new("no content type", m(), path, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            .body_as("", "{}"),
        Case::new("a form", m(), path, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            .body_as("application/x-www-form-urlencoded", "email=a%40b.co&password=x"),
        Case::new("multipart", m(), path, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            .body_as("multipart/form-data; boundary=x", "--x--"),
        Case::new("an XML body", m(), path, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            .body_as("application/xml", "<email/>"),
    ];
    for case in &mut cases {
        case.name = format!("{} {path}: {}", case.method, case.name);
    }
    cases
}

/// Register's fields, broken one way at a time.
fn bad_registrations() -> Vec<Case> {
    let register = "/api/auth/register";
    let field = |name: &str, email: Value, password: Value, code: &'static str| {
        Case::new(format!("register: {name}"), Method::POST, register, StatusCode::UNPROCESSABLE_ENTITY, code)
            .json(serde_json::to_vec(&json!({"email": email, "password": password})).unwrap())
    };
    let good = || json!("a long enough passphrase");
    let mail = |text: &str| json!(text);
    vec![
        field("an empty email", mail(""), good(), "validation_failed"),
        field("only spaces", mail("     "), good(), "validation_failed"),
        field("no @", mail("victim.example.com"), good(), "validation_failed"),
        field("two @", mail("a@b@example.com"), good(), "validation_failed"),
        field("a NUL in the email", mail("vic\u{0}tim@example.com"), good(), "validation_failed"),
        field("a CR/LF in the email", mail("victim@example.com\r\nBcc: x@y.z"), good(), "validation_failed"),
        field("an RTL override", mail("moc.elpmaxe@\u{202e}victim"), good(), "validation_failed"),
        field("a 255-byte email", mail(&format!("{}@example.com", "a".repeat(243))), good(), "validation_failed"),
        field("an SQL injection", mail("' OR 1=1 --"), good(), "validation_failed"),
        field("a script tag", mail("<script>alert(1)</script>"), good(), "validation_failed"),
        field("a 7-character password", mail("new@example.com"), json!("1234567"), "validation_failed"),
        field("a 129-character password", mail("new@example.com"), json!("é".repeat(129)), "validation_failed"),
        field("a common password", mail("new@example.com"), json!("Password123"), "validation_failed"),
        field("a padded common password", mail("new@example.com"), json!("  password  "), "validation_failed"),
        field("whitespace only", mail("new@example.com"), json!("          "), "validation_failed"),
        field("one character repeated", mail("new@example.com"), json!("zzzzzzzzzzzz"), "validation_failed"),
        field("a number for the email", json!(42), good(), "invalid_body"),
        field("an object for the email", json!({"$ne": null}), good(), "invalid_body"),
        field("an array for the password", mail("new@example.com"), json!(["a", "b"]), "invalid_body"),
        field("null for the password", mail("new@example.com"), Value::Null, "invalid_body"),
        field("true for the email", json!(true), good(), "invalid_body"),
        invalid_body("register: duplicate keys", register).json(
            r#"{"email": "new@example.com", "email": "other@example.com", "password": "a long enough passphrase"}"#,
        ),
        invalid_body("register: a missing password", register).json(r#"{"email": "new@example.com"}"#),
    ]
}

/// Logins that must not let anyone in, nor say why beyond "invalid".
fn bad_logins() -> Vec<Case> {
    let login = |name: &str, email: &str, password: &str| {
        Case::new(
            format!("login: {name}"),
            Method::POST,
            "/api/auth/login",
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .json(serde_json::to_vec(&json!({"email": email, "password": password})).unwrap())
    };
    vec![
        login("an SQL injection email", "' OR '1'='1' --@example.com", "x"),
        login("an SQL injection password", VICTIM, "' OR '1'='1"),
        login("a LIKE wildcard email", "%@example.com", PASSWORD),
        login("a regex email", ".*@example.com", PASSWORD),
        login("the victim in capitals with a wrong password", "VICTIM@EXAMPLE.COM", "wrong"),
        login("a NUL-truncated password", VICTIM, &format!("{PASSWORD}\u{0}extra")),
        login("the password's prefix", VICTIM, &PASSWORD[..10]),
        login("a 10 000-character password", VICTIM, &"a".repeat(10_000)),
        login("an empty password", VICTIM, ""),
        login("a zero-width space in the email", "vic\u{200b}tim@example.com", PASSWORD),
        login("a homoglyph email", "vіctim@example.com", PASSWORD),
        login("a Redis glob email", "*", PASSWORD),
        Case::new("login: extra fields", Method::POST, "/api/auth/login", StatusCode::UNAUTHORIZED, "invalid_credentials")
            .json(r#"{"email": "victim@example.com", "password": "wrong", "isAdmin": true, "userId": "00000000-0000-0000-0000-000000000000"}"#),
    ]
}

/// Session cookies that open nothing.
fn forged_cookies(victim: &str) -> Vec<Case> {
    let me = |name: &str, cookie: String| {
        Case::new(format!("me: {name}"), Method::GET, "/api/auth/me", StatusCode::UNAUTHORIZED, "unauthenticated")
            .header("cookie", cookie)
    };
    vec![
        me("garbage", "sessionId=garbage".into()),
        me("a token one character short", format!("sessionId={}", &victim[..victim.len() - 1])),
        me("a token twice", format!("sessionId={victim}{victim}")),
        me("4000 characters", format!("sessionId={}", "A".repeat(4000))),
        me("percent-encoding", "sessionId=%00%ff".into()),
        me("quotes", "sessionId=\"quoted\"".into()),
        me("an empty value", "sessionId=".into()),
        me("a well-formed token nobody was given", format!("sessionId={}A", "B".repeat(42))),
        me("the victim's token under another name", format!("session={victim}")),
        me("the victim's token in lower case", format!("sessionId={}", victim.to_lowercase()).replace(victim, "x")),
        me("two forged tokens", format!("sessionId={}A; sessionId={}A", "C".repeat(42), "D".repeat(42))),
        me("a token in the Authorization header", "theme=dark".into())
            .header("authorization", format!("Bearer {victim}")),
        me("8 KiB of cookies", format!("a={}", "b".repeat(8 * 1024))),
    ]
}

/// State-changing requests from pages on foreign origins, with the victim's cookie.
fn foreign_origins(victim: &str, port: &str) -> Vec<Case> {
    let cookie = format!("sessionId={victim}");
    let refused = |name: &str, method: Method, path: &str, header: &str, value: String| {
        Case::new(format!("{method} {path} from {name}"), method, path, StatusCode::FORBIDDEN, "csrf_rejected")
            .header("cookie", cookie.clone())
            .header(header, value)
    };
    vec![
        refused("evil.example", Method::POST, "/api/auth/logout-all", "origin", "https://evil.example".into()),
        refused("a null origin", Method::POST, "/api/auth/logout-all", "origin", "null".into()),
        refused("another port", Method::POST, "/api/auth/logout", "origin", "http://127.0.0.1:1".into()),
        refused("https on our port", Method::POST, "/api/auth/logout", "origin", format!("https://127.0.0.1:{port}")),
        refused(
            "a sibling subdomain",
            Method::DELETE,
            "/api/auth/account",
            "origin",
            "http://app.127.0.0.1.nip.io".into(),
        ),
        refused("a cross-site fetch", Method::POST, "/api/auth/password", "sec-fetch-site", "cross-site".into()),
        refused("a same-site fetch", Method::POST, "/api/auth/logout-all", "sec-fetch-site", "same-site".into()),
        refused("a foreign referer", Method::POST, "/api/auth/logout-all", "referer", "https://evil.example/x".into()),
        refused("a garbage origin", Method::POST, "/api/auth/logout-all", "origin", "not an origin".into()),
        refused("a foreign page's login", Method::POST, "/api/auth/login", "origin", "https://evil.example".into()),
    ]
}

/// Wrong methods and paths.
fn wrong_routes(victim: &str) -> Vec<Case> {
    let cookie = format!("sessionId={victim}");
    let not_allowed = |method: Method, path: &str| {
        Case::new(format!("{method} {path}"), method, path, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    };
    let not_found = |name: &str, path: &str| Case::new(name, Method::GET, path, StatusCode::NOT_FOUND, "not_found");
    let no_session = |name: &str, path: &str| {
        Case::new(format!("DELETE {name}"), Method::DELETE, path, StatusCode::NOT_FOUND, "session_not_found")
            .header("cookie", cookie.clone())
    };
    vec![
        not_allowed(Method::GET, "/api/auth/login"),
        not_allowed(Method::PUT, "/api/auth/register"),
        not_allowed(Method::DELETE, "/api/auth/me"),
        not_allowed(Method::PATCH, "/api/auth/sessions"),
        not_allowed(Method::TRACE, "/api/auth/logout"),
        not_allowed(Method::from_bytes(b"PROPFIND").unwrap(), "/api/auth/me"),
        not_allowed(Method::GET, "/api/auth/account"),
        not_found("an unknown route", "/api/auth/admin"),
        not_found("a traversal", "/api/auth/%2e%2e/%2e%2e/etc/passwd"),
        not_found("a NUL in the path", "/api/auth/me%00"),
        not_found("a 6 KiB path", &format!("/api/{}", "a".repeat(6 * 1024))),
        no_session("a session id that is no UUID", "/api/auth/sessions/not-a-uuid"),
        no_session("a session id with an injection", "/api/auth/sessions/1%27%20OR%201=1"),
        no_session("a session nobody has", "/api/auth/sessions/00000000-0000-4000-8000-000000000000"),
        Case::new(
            "Expect: something else",
            Method::POST,
            "/api/auth/login",
            StatusCode::EXPECTATION_FAILED,
            "expectation_failed",
        )
        .header("expect", "to-be-obeyed")
        .json("{}"),
        Case::new(
            "a 10 GiB length",
            Method::POST,
            "/api/auth/register",
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        )
        .header("content-length", "10737418240")
        .header("expect", "100-continue")
        .json(Vec::new()),
    ]
}

async fn send(app: &TestApp, case: &Case) -> reqwest::Response {
    let mut request = app.raw().request(case.method.clone(), app.url(&case.path));
    for (name, value) in &case.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &case.body {
        request = request.body(body.clone());
    }
    request.send().await.unwrap_or_else(|err| panic!("{}: {err}", case.name))
}

/// Raw bytes over TCP: what no client library sends. Returns the status line
/// of the answer, or `None` when the server closed without one.
async fn raw(app: &TestApp, bytes: &[u8], half_close: bool) -> Option<String> {
    let mut stream = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines().next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_request_gets_its_4xx_and_changes_nothing() {
    let app =
        spawn_app_with(&[("SESAME__HTTP__BODY_TIMEOUT_SECONDS", "1"), ("SESAME__HTTP__HEADER_TIMEOUT_SECONDS", "2")])
            .await;
    let (_, victim) = app.signed_up(VICTIM).await;
    let (users, sessions) = (app.users_created().await, app.sessions_created().await);
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let cookie = format!("sessionId={victim}");

    let mut cases = Vec::new();
    cases.extend(bad_bodies(&Method::POST, "/api/auth/register", &["email", "password"]));
    cases.extend(bad_bodies(&Method::POST, "/api/auth/login", &["email", "password"]));
    let authenticated = |mut case: Case| {
        case.headers.push(("cookie".into(), cookie.clone()));
        case
    };
    let change = ["currentPassword", "newPassword"];
    cases.extend(bad_bodies(&Method::POST, "/api/auth/password", &change).into_iter().map(authenticated));
    cases.extend(bad_bodies(&Method::DELETE, "/api/auth/account", &["password"]).into_iter().map(authenticated));
    cases.extend(bad_registrations());
    cases.extend(bad_logins());
    cases.extend(forged_cookies(&victim));
    cases.extend(foreign_origins(&victim, &port));
    cases.extend(wrong_routes(&victim));
    let confirm = |name: &str, method: Method, path: &str, body: Value| {
        Case::new(name, method, path, StatusCode::FORBIDDEN, "wrong_password")
            .header("cookie", cookie.clone())
            .json(serde_json::to_vec(&body).unwrap())
    };
    cases.push(confirm(
        "password change with a wrong current password",
        Method::POST,
        "/api/auth/password",
        json!({"currentPassword": "wrong", "newPassword": "a brand new passphrase"}),
    ));
    cases.push(confirm(
        "account deletion with a wrong password",
        Method::DELETE,
        "/api/auth/account",
        json!({"password": "x"}),
    ));
    cases.push(
        Case::new(
            "password change to a common password",
            Method::POST,
            "/api/auth/password",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .header("cookie", cookie.clone())
        .json(serde_json::to_vec(&json!({"currentPassword": PASSWORD, "newPassword": "qwertyuiop"})).unwrap()),
    );

    let mut failures = Vec::new();
    for case in &cases {
        let response = send(&app, case).await;
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_owned());
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(!status.is_server_error(), "{}: a 5xx ({status}) {body}", case.name);
        let problem = content_type.as_deref() == Some("application/problem+json");
        if status != case.status || body["code"] != case.code || !problem {
            failures.push(format!("{}: expected {} {}, got {status} {body}", case.name, case.status, case.code));
        }
    }

    // What no client library sends: raw bytes.
    let raw_cases: [(&str, Vec<u8>, bool, &str); 6] = [
        ("a bare LF inside a header value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Evil: a\nb\r\n\r\n".to_vec(), false, "HTTP/1.1 400"),
        ("a header with no colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".to_vec(), false, "HTTP/1.1 400"),
        ("a NUL in the request line", b"GET /health\0z HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), false, "HTTP/1.1 400"),
        ("two Content-Lengths that disagree", b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}".to_vec(), false, "HTTP/1.1 400"),
        (
            "a body that stops half-way",
            b"POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"email\": \"new@exa".to_vec(),
            false,
            "HTTP/1.1 408",
        ),
        (
            "a body cut off by the client",
            b"POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"email\": \"new@exa".to_vec(),
            true,
            "HTTP/1.1 400",
        ),
    ];
    for (name, bytes, half_close, expected) in &raw_cases {
        let status = raw(&app, bytes, *half_close).await;
        if !status.as_deref().is_some_and(|line| line.starts_with(expected)) {
            failures.push(format!("raw: {name}: expected {expected}, got {status:?}"));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len() + raw_cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() + raw_cases.len() >= 150, "{} cases", cases.len() + raw_cases.len());
    assert_eq!(app.users_created().await, users, "a hostile request created a user");
    assert_eq!(app.sessions_created().await, sessions, "a hostile request created a session");
    assert_eq!(app.me_with_token(&victim).await.status(), StatusCode::OK, "the victim's session is untouched");
    assert_eq!(
        app.login(&app.raw(), VICTIM, PASSWORD).await.status(),
        StatusCode::OK,
        "the victim's password is untouched"
    );
}
