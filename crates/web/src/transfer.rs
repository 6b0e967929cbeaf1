//! Moving users and sessions between stores: `sesame users|sessions
//! export|import` in the portable JSON Lines format ([`PortableRecord`]),
//! and `sesame sessions copy` from one store straight into another.
//!
//! Both directions stream: an export holds one page of records at a time, an
//! import one line and a bounded number of writes in flight, so that memory
//! stays flat however many records move. An import is idempotent (each store
//! skips what it holds as new or newer), so a run that failed half-way is
//! simply run again.

mod command;
mod legacy;

use std::{
    fmt,
    io::{self, BufRead, IsTerminal as _, Read, Write},
    sync::Arc,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};
use sesame_core::ports::{
    ExportCursor, ExportPage, Imported, PortError, PortableRecord, PortableSession, PortableUser, Session,
    SessionStore, User, UserRepository,
};
use tokio::task::JoinSet;

pub use self::command::{CopyArgs, ExportArgs, ImportArgs, SessionsCommand, UsersCommand, sessions, users};

/// Records read from a store per export call.
const PAGE: u32 = 1000;
/// Imports in flight at once.
const IN_FLIGHT: usize = 32;
/// The longest line an import reads; a longer one is a failed record.
const MAX_LINE_BYTES: u64 = 64 * 1024;
/// Failed lines reported one by one; the rest are only counted.
const FAILURES_SHOWN: u64 = 20;

/// Where records go to, or come from.
#[derive(Clone)]
pub enum Store {
    /// A user store.
    Users(Arc<dyn UserRepository>),
    /// A session store.
    Sessions(Arc<dyn SessionStore>),
}

impl Store {
    fn noun(&self) -> &'static str {
        match self {
            Self::Users(_) => "users",
            Self::Sessions(_) => "sessions",
        }
    }
}

/// What an import did, record by record.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Records the store did not hold, and now does.
    pub created: u64,
    /// Records the store held older, and now holds as imported.
    pub updated: u64,
    /// Records the store held as new or newer, or ended, or that had expired.
    pub skipped: u64,
    /// Records that could not be read or written.
    pub failed: u64,
    /// With `--dry-run`: records read and found valid, not written.
    pub valid: u64,
}

impl Tally {
    fn count(&mut self, imported: Imported) {
        match imported {
            Imported::Created => self.created += 1,
            Imported::Updated => self.updated += 1,
            Imported::Skipped => self.skipped += 1,
        }
    }

    /// Counts a failed record and names it on standard error by `place`
    /// (`line`, `record`) and `number`, never by content; past
    /// [`FAILURES_SHOWN`] they are only counted.
    fn fail(&mut self, place: &str, number: u64, reason: &str) {
        self.failed += 1;
        if self.failed <= FAILURES_SHOWN {
            eprintln!("{place} {number}: {reason}");
        } else if self.failed == FAILURES_SHOWN + 1 {
            eprintln!("(further failed {place}s are counted, not shown)");
        }
    }

    fn records(&self) -> u64 {
        self.created + self.updated + self.skipped + self.failed + self.valid
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.valid > 0 {
            return write!(f, "{} valid, {} failed (dry run: nothing written)", self.valid, self.failed);
        }
        write!(
            f,
            "{} created, {} updated, {} skipped, {} failed",
            self.created, self.updated, self.skipped, self.failed
        )
    }
}

/// Why a transfer stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The store failed (after the guard's retry).
    #[error("the store failed: {0}")]
    Store(String),
    /// Reading the input or writing the output failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<PortError> for TransferError {
    fn from(err: PortError) -> Self {
        Self::Store(err.cause_chain())
    }
}

/// Progress on standard error: on a terminal, a live line (indicatif) that
/// stays when the work ends; otherwise, for logs, a plain line every few
/// seconds.
pub struct Progress {
    what: String,
    started: Instant,
    last: Instant,
    every: Duration,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Progress of `what` (`sessions export`); without a terminal, a line at
    /// most every `every`.
    pub fn new(what: impl Into<String>, every: Duration) -> Self {
        let what = what.into();
        let now = Instant::now();
        let bar = io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template("{spinner} {prefix}: {human_pos} records, {per_sec}, {elapsed}")
                .expect("a valid template");
            let bar = ProgressBar::new_spinner().with_style(style).with_prefix(what.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Self { what, started: now, last: now, every, bar }
    }

    fn tick(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        } else if self.last.elapsed() >= self.every {
            self.last = Instant::now();
            let done = crate::words::counted(done, "record", "records");
            eprintln!("{}: {done}, {:.0?}", self.what, self.started.elapsed());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

/// Writes every record of `store` to `out`, one JSON line each; how many.
pub async fn export(store: &Store, out: &mut impl Write, progress: &mut Progress) -> Result<u64, TransferError> {
    let mut cursor = ExportCursor::start();
    let mut written = 0u64;
    loop {
        let next = match store {
            Store::Users(users) => write_page(users.export(cursor, PAGE).await?, out, |user: &User| {
                PortableRecord::User(PortableUser::from(user))
            })?,
            Store::Sessions(sessions) => write_page(sessions.export(cursor, PAGE).await?, out, |session: &Session| {
                PortableRecord::Session(PortableSession::from(session))
            })?,
        };
        written += next.0;
        progress.tick(written);
        match next.1 {
            Some(next) => cursor = next,
            None => break,
        }
    }
    out.flush()?;
    Ok(written)
}

/// Writes `page`'s records; how many, and where the next page starts.
fn write_page<T>(
    page: ExportPage<T>,
    out: &mut impl Write,
    record: impl Fn(&T) -> PortableRecord,
) -> Result<(u64, Option<ExportCursor>), TransferError> {
    for item in &page.records {
        serde_json::to_writer(&mut *out, &record(item)).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    }
    Ok((page.records.len() as u64, page.next))
}

/// Reads JSON lines from `input` into `store`; with `dry_run`, only checks
/// them. A line that cannot be read or written is counted as failed and
/// named on standard error (by line number, never by content); the import
/// goes on.
pub async fn import(
    store: &Store,
    input: &mut impl BufRead,
    dry_run: bool,
    progress: &mut Progress,
) -> Result<Tally, TransferError> {
    let mut writes = Writes::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = Read::take(&mut *input, MAX_LINE_BYTES + 1).read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.len() as u64 > MAX_LINE_BYTES {
            writes.tally.fail("line", number, &format!("longer than {MAX_LINE_BYTES} bytes"));
            skip_rest_of_line(input)?;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match record(store, &line) {
            Err(reason) => writes.tally.fail("line", number, &reason),
            Ok(_) if dry_run => writes.tally.valid += 1,
            Ok(pending) => writes.push(number, pending).await,
        }
        progress.tick(writes.tally.records());
    }
    let tally = writes.finish().await;
    progress.tick(tally.records());
    Ok(tally)
}

/// Copies every live session of `from` into `to`; with `dry_run`, only
/// counts them. A session that cannot be written is counted as failed (by
/// its position in the copy) and the copy goes on.
pub async fn copy(
    from: &dyn SessionStore,
    to: &Arc<dyn SessionStore>,
    dry_run: bool,
    progress: &mut Progress,
) -> Result<Tally, TransferError> {
    let mut writes = Writes::default();
    let mut cursor = ExportCursor::start();
    let mut number = 0u64;
    loop {
        let page = from.export(cursor, PAGE).await?;
        for session in page.records {
            number += 1;
            if dry_run {
                writes.tally.valid += 1;
            } else {
                writes.push(number, Pending::Session(Arc::clone(to), session)).await;
            }
        }
        progress.tick(writes.tally.records());
        match page.next {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let tally = writes.finish().await;
    progress.tick(tally.records());
    Ok(tally)
}

/// Writes in flight, at most [`IN_FLIGHT`], and what those done did.
#[derive(Default)]
struct Writes {
    running: JoinSet<Written>,
    tally: Tally,
}

impl Writes {
    /// Starts `pending` (record `number`), once a place is free.
    async fn push(&mut self, number: u64, pending: Pending) {
        if self.running.len() >= IN_FLIGHT {
            settle(self.running.join_next().await, &mut self.tally);
        }
        self.running.spawn(async move { (number, pending.run().await) });
    }

    /// Waits for every write; the tally.
    async fn finish(mut self) -> Tally {
        while let Some(done) = self.running.join_next().await {
            settle(Some(done), &mut self.tally);
        }
        self.tally
    }
}

/// `path`, created or emptied, readable by its owner only.
pub(crate) fn private_file(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// One record, ready to be written to its store.
enum Pending {
    User(Arc<dyn UserRepository>, User),
    Session(Arc<dyn SessionStore>, Session),
}

impl Pending {
    async fn run(self) -> Result<Imported, String> {
        let written = match &self {
            Self::User(users, user) => users.import(user).await,
            Self::Session(sessions, session) => sessions.import(session).await,
        };
        written.map_err(|err| match err {
            PortError::EmailTaken => "another user has this email".to_owned(),
            other => other.cause_chain(),
        })
    }
}

/// The record on `line`, for `store`; why not, when it is not one.
fn record(store: &Store, line: &[u8]) -> Result<Pending, String> {
    let record: PortableRecord =
        serde_json::from_slice(line).map_err(|err| format!("not a record: {}", described(&err)))?;
    match (store, record) {
        (Store::Users(users), PortableRecord::User(user)) => {
            Ok(Pending::User(Arc::clone(users), User::try_from(user).map_err(|err| err.to_string())?))
        }
        (Store::Sessions(sessions), PortableRecord::Session(session)) => {
            Ok(Pending::Session(Arc::clone(sessions), Session::try_from(session).map_err(|err| err.to_string())?))
        }
        (store, _) => Err(format!("not a record of {} (the other kind of export?)", store.noun())),
    }
}

/// A write's line number and outcome.
type Written = (u64, Result<Imported, String>);

fn settle(done: Option<Result<Written, tokio::task::JoinError>>, tally: &mut Tally) {
    match done {
        Some(Ok((_, Ok(imported)))) => tally.count(imported),
        Some(Ok((number, Err(reason)))) => tally.fail("line", number, &reason),
        Some(Err(err)) => tally.fail("line", 0, &format!("the write panicked: {err}")),
        None => {}
    }
}

/// Why `err` refused a record, without the values it quotes: a string in a
/// field of the wrong type may be anything, a password hash included.
pub(crate) fn described(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match (message.find("string \""), message.rfind("\", expected")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}a string{}", &message[..start], &message[end + 1..])
        }
        _ => message,
    }
}

/// Reads on to the end of an over-long line.
fn skip_rest_of_line(input: &mut impl BufRead) -> io::Result<()> {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        let read = Read::take(&mut *input, MAX_LINE_BYTES).read_until(b'\n', &mut sink)?;
        if read == 0 || sink.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_record_is_described_without_the_strings_it_holds() {
        let secret = r#"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "quoted"#;
        let line = serde_json::json!({"kind": "user", "version": 1, "isVerified": secret}).to_string();
        let err = serde_json::from_str::<PortableRecord>(&line).unwrap_err();
        let said = described(&err);
        assert!(said.starts_with("invalid type: a string, expected a boolean"), "{said}");
        assert!(!said.contains("argon2id") && !said.contains("quoted"), "{said}");
        let err = serde_json::from_str::<PortableRecord>(r#"{"kind": "user"}"#).unwrap_err();
        assert!(described(&err).contains("missing field `version`"), "field names stay");
    }
}
