//! Logging: tracing subscribers, and per request — [`Observed`], which the
//! envelope runs around every request — its request id, a debug-level span, the access line (on its
//! own target, off by default in production) and one error line when it failed
//! inside (a 500 with its cause).
//!
//! The span is at debug level so that production (`info`) pays nothing for
//! it; what an operator needs of a failed request is in its error line
//! (method, path, status, request id, cause), and every audit line carries
//! the request id itself.

use std::{
    io::IsTerminal as _,
    sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use axum::{
    body::Body,
    http::{HeaderName, HeaderValue, Method, Request, Uri},
    response::Response,
};
use sesame_factory::{LogFormat, LogSettings};
use tracing::Span;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// The header that carries the request id, set by [`Observed::start`] when the
/// client sent none (or one that could forge a log line).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global subscriber: `RUST_LOG` if set, else the configured filter;
/// JSON lines or text as configured; on standard output for the service, on
/// standard error for commands (whose output may be records). Calling it
/// twice is harmless.
pub fn init(settings: &LogSettings, to_stdout: bool) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    if to_stdout {
        install(settings, std::io::stdout, colour(std::io::stdout().is_terminal(), no_color));
    } else {
        install(settings, std::io::stderr, colour(std::io::stderr().is_terminal(), no_color));
    }
}

/// Whether text lines carry ANSI colour: only when they go to a terminal,
/// and never when `NO_COLOR` is set (<https://no-color.org>) — a pipe, a file
/// or a log collector gets plain text.
pub fn colour(to_terminal: bool, no_color: bool) -> bool {
    to_terminal && !no_color
}

fn install<W>(settings: &LogSettings, writer: W, ansi: bool)
where
    W: for<'a> fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let text = std::env::var("RUST_LOG").ok().filter(|text| !text.is_empty());
    let text = text.as_deref().unwrap_or(&settings.filter);
    let mut filter = EnvFilter::try_new(text).unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    if !text.contains("sqlx") {
        // PostgreSQL's notices ("relation _sqlx_migrations already exists"
        // on every start) are its small talk, not the operator's concern.
        filter = filter.add_directive("sqlx::postgres::notice=warn".parse().expect("a valid directive"));
    }
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.format {
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true).with_writer(writer)).try_init(),
        LogFormat::Text => registry.with(fmt::layer().with_ansi(ansi).with_writer(writer)).try_init(),
    };
}

/// The longest request id accepted from a client.
const REQUEST_ID_MAX_LEN: usize = 64;

/// The cause of a failure that is the service's own fault (a 500), carried on
/// the response from where it was answered to [`Observed::finish`], which logs it with
/// the request's id.
#[derive(Debug, Clone)]
pub struct Failure(pub String);

/// What is observed of one request from its arrival to its answer (see the
/// module docs): started by [`Observed::start`], finished by
/// [`Observed::finish`].
pub struct Observed {
    method: Method,
    uri: Uri,
    id: HeaderValue,
    started: Instant,
}

impl Observed {
    /// Gives `request` its id and opens its span.
    ///
    /// A client's `x-request-id` is kept when it is short and made of letters,
    /// digits, `.`, `_` and `-` (it reaches every log line, and must not forge
    /// one); otherwise the request gets a made-up one. Either way the request
    /// carries it on to the handlers, and the response back to the client.
    pub fn start(request: &mut Request<Body>) -> (Self, Span) {
        let headers = request.headers();
        let mut sent = headers.get_all(REQUEST_ID_HEADER).iter();
        let id = match (sent.next(), sent.next()) {
            (Some(id), None) if is_safe_request_id(id.as_bytes()) => id.clone(),
            _ => made_up_request_id(),
        };
        request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
        let observed =
            Self { method: request.method().clone(), uri: request.uri().clone(), id, started: Instant::now() };
        let span = tracing::debug_span!(
            "request",
            method = %observed.method,
            path = observed.uri.path(),
            request_id = observed.request_id()
        );
        (observed, span)
    }

    /// Logs the request's end (the error line of a failure, the access line)
    /// and hands its id back to the client.
    pub fn finish(self, response: &mut Response) {
        let Self { method, uri, id, started } = self;
        let request_id = id.to_str().unwrap_or("-");
        let status = response.status().as_u16();
        if let Some(Failure(cause)) = response.extensions_mut().remove::<Failure>() {
            tracing::error!(%method, path = uri.path(), status, request_id, cause, "internal error");
        }
        tracing::info!(
            target: ACCESS_TARGET,
            %method,
            path = uri.path(),
            status,
            latency_ms = started.elapsed().as_millis(),
            request_id,
            "served"
        );
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }

    fn request_id(&self) -> &str {
        self.id.to_str().unwrap_or("-")
    }
}

/// A request id unique across instances without a system call: a UUID made of
/// a random number drawn once per process and a counter, scrambled by a
/// bijection (an odd multiplier and a random mask) so that ids do not show
/// how many requests the process has served.
fn made_up_request_id() -> HeaderValue {
    static PROCESS: LazyLock<(u64, u64)> = LazyLock::new(|| uuid::Uuid::new_v4().as_u64_pair());
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let (process, mask) = *PROCESS;
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&process.to_be_bytes());
    // The low 56 bits of count × odd are a bijection of the count's low 56
    // bits; the top byte stays 0 for the UUID's variant bits to land on.
    let scrambled = (count.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ mask) & 0x00FF_FFFF_FFFF_FFFF;
    bytes[8..].copy_from_slice(&scrambled.to_be_bytes());
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).expect("a UUID is a valid header value")
}

/// Whether a client's request id may be kept: 1 to 64 letters, digits, `.`,
/// `_` or `-`.
pub fn is_safe_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= REQUEST_ID_MAX_LEN
        && value.iter().all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(byte))
}

/// The log target of the one line per request.
pub const ACCESS_TARGET: &str = "sesame::access";

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn made_up_request_ids_are_unique_uuids_that_do_not_count_requests() {
        let ids: Vec<String> = (0..10_000).map(|_| made_up_request_id().to_str().unwrap().to_owned()).collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        for id in &ids[..2] {
            assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4, "{id}");
        }
        assert_ne!(ids[0][24..34], ids[1][24..34], "consecutive ids differ beyond their last digits");
    }

    proptest! {
        #[test]
        fn a_kept_request_id_can_forge_nothing(value in proptest::collection::vec(any::<u8>(), 0..100)) {
            if is_safe_request_id(&value) {
                prop_assert!((1..=REQUEST_ID_MAX_LEN).contains(&value.len()));
                let forging: &[u8] = b"\"\\=;:{} ";
                prop_assert!(value.iter().all(|b| b.is_ascii_graphic() && !forging.contains(b)));
            }
        }

        #[test]
        fn every_short_id_of_the_safe_alphabet_is_kept(value in "[A-Za-z0-9._-]{1,64}") {
            prop_assert!(is_safe_request_id(value.as_bytes()));
        }
    }
}
