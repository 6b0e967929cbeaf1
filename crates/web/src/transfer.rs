//! Moving users and sessions between stores: `sesame users|sessions
//! export|import` in the portable JSON Lines format ([`PortableRecord`]),
//! and `sesame sessions copy` from one store straight into another.
//!
//! Both directions stream: an export holds one page of records at a time, an
//! import one line and a bounded number of writes in flight, so that memory
//! stays flat however many records move. An import is idempotent (each store
//! skips what it holds as new or newer), so a run that failed half-way is
//! simply run again.

use std::{
    fmt,
    future::Future,
    io::{self, BufRead, IsTerminal as _, Read, Write},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};
use sesame_core::ports::{
    ExportCursor, ExportPage, Imported, PortError, PortableRecord, PortableSession, PortableUser, Session,
    SessionStore, User, UserRepository,
};
use sesame_factory::StoreLocation;
use tokio::task::JoinSet;

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
            eprintln!("{}: {done} records, {:.0?}", self.what, self.started.elapsed());
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
            fail(&mut writes.tally, number, &format!("longer than {MAX_LINE_BYTES} bytes"));
            skip_rest_of_line(input)?;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match record(store, &line) {
            Err(reason) => fail(&mut writes.tally, number, &reason),
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

/// `sesame users …`.
#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// Write every user of the configured store to standard output (or
    /// --output), one JSON line each, in sesame's portable format.
    Export(ExportArgs),
    /// Read users, one JSON line each, from standard input (or --input) into
    /// the configured store. Idempotent. Exits 1 when any record failed.
    Import(ImportArgs),
}

/// `sesame sessions …`.
#[derive(clap::Subcommand)]
pub enum SessionsCommand {
    /// Write every live session of the configured store to standard output (or
    /// --output), one JSON line each, in sesame's portable format.
    Export(ExportArgs),
    /// Read sessions, one JSON line each, from standard input (or --input)
    /// into the configured store. Idempotent: what the store holds as new or
    /// newer, or ended, is skipped. Exits 1 when any record failed.
    Import(ImportArgs),
    /// Copy every live session from one store to another, each named by URL;
    /// the configured stores are not used. Idempotent, like import.
    Copy(CopyArgs),
}

/// Where an export goes.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Write to this file (created with mode 0600: it is as secret as the store) instead.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Where an import comes from.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// Read this file instead.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// Only check every record; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// The two stores of a copy.
#[derive(clap::Args)]
pub struct CopyArgs {
    /// The store to read: postgres://… (its sessions), redis://… or rediss://…
    /// (comma-separated nodes for a Cluster), or env:VARIABLE to take the URL
    /// from a variable (keeps passwords off the command line).
    #[arg(long)]
    from: String,
    /// The store to write, named as --from is.
    #[arg(long)]
    to: String,
    /// The Redis key prefix of --from.
    #[arg(long, default_value = "sesame:")]
    from_prefix: String,
    /// The Redis key prefix of --to.
    #[arg(long, default_value = "sesame:")]
    to_prefix: String,
    /// The PostgreSQL schema of --from (default: the connection's).
    #[arg(long)]
    from_schema: Option<String>,
    /// The PostgreSQL schema of --to (default: the connection's).
    #[arg(long)]
    to_schema: Option<String>,
    /// --from is one node of a Redis Cluster.
    #[arg(long)]
    from_cluster: bool,
    /// --to is one node of a Redis Cluster.
    #[arg(long)]
    to_cluster: bool,
    /// Only count what would be copied; write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// `sesame users …` on the configured user store; the exit code.
pub async fn users(users: Arc<dyn UserRepository>, command: UsersCommand) -> ExitCode {
    let store = Store::Users(users);
    match command {
        UsersCommand::Export(args) => run_export(store, args).await,
        UsersCommand::Import(args) => run_import(store, args).await,
    }
}

/// `sesame sessions …` on the configured session store (built by
/// `configured` only when the command needs it); the exit code.
pub async fn sessions<F>(configured: F, command: SessionsCommand) -> ExitCode
where
    F: Future<Output = Option<Arc<dyn SessionStore>>>,
{
    let args = match command {
        SessionsCommand::Copy(args) => return run_copy(args).await,
        other => other,
    };
    let Some(sessions) = configured.await else { return ExitCode::FAILURE };
    let store = Store::Sessions(sessions);
    match args {
        SessionsCommand::Export(args) => run_export(store, args).await,
        SessionsCommand::Import(args) => run_import(store, args).await,
        SessionsCommand::Copy(_) => unreachable!("copied above"),
    }
}

async fn run_copy(args: CopyArgs) -> ExitCode {
    let location = |url: &str, key_prefix: &str, schema: &Option<String>, cluster: bool| {
        Ok::<_, sesame_factory::SettingsError>(StoreLocation {
            url: StoreLocation::url_from(url)?,
            key_prefix: key_prefix.to_owned(),
            schema: schema.clone(),
            cluster,
        })
    };
    let locations = location(&args.from, &args.from_prefix, &args.from_schema, args.from_cluster)
        .and_then(|from| Ok((from, location(&args.to, &args.to_prefix, &args.to_schema, args.to_cluster)?)));
    let (from, to) = match locations {
        Ok(locations) => locations,
        Err(err) => return said(&format!("sessions copy: {err}")),
    };
    let clock: Arc<dyn sesame_core::ports::Clock> = Arc::new(sesame_core::ports::SystemClock);
    let (source, target) = match (from.open(Arc::clone(&clock)).await, to.open(clock).await) {
        (Ok(source), Ok(target)) => (source, target),
        (Err(err), _) | (_, Err(err)) => return said(&format!("sessions copy: {err}")),
    };
    let what = format!("sessions copy {} -> {}", from.redacted(), to.redacted());
    let mut progress = Progress::new(what.clone(), Duration::from_secs(2));
    match copy(source.as_ref(), &target, args.dry_run, &mut progress).await {
        Ok(tally) => {
            eprintln!("{what}: {tally}");
            if tally.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(err) => said(&format!("{what}: {err}")),
    }
}

/// Says `message` on standard error; the failure exit code.
fn said(message: &str) -> ExitCode {
    eprintln!("sesame: {message}");
    ExitCode::FAILURE
}

async fn run_export(store: Store, args: ExportArgs) -> ExitCode {
    let noun = store.noun();
    let mut progress = Progress::new(format!("{noun} export"), Duration::from_secs(2));
    let written = match args.output {
        Some(path) => match private_file(&path) {
            Ok(file) => export(&store, &mut io::BufWriter::new(file), &mut progress).await,
            Err(err) => return said(&format!("{noun} export: {}: {err}", path.display())),
        },
        None => export(&store, &mut io::BufWriter::new(io::stdout().lock()), &mut progress).await,
    };
    match written {
        Ok(written) => {
            eprintln!("{noun} export: {written} records written");
            ExitCode::SUCCESS
        }
        Err(err) => said(&format!("{noun} export: {err}")),
    }
}

async fn run_import(store: Store, args: ImportArgs) -> ExitCode {
    let noun = store.noun();
    let mut progress = Progress::new(format!("{noun} import"), Duration::from_secs(2));
    let tally = match args.input {
        Some(path) => match std::fs::File::open(&path) {
            Ok(file) => import(&store, &mut io::BufReader::new(file), args.dry_run, &mut progress).await,
            Err(err) => return said(&format!("{noun} import: {}: {err}", path.display())),
        },
        None => import(&store, &mut io::stdin().lock(), args.dry_run, &mut progress).await,
    };
    match tally {
        Ok(tally) => {
            eprintln!("{noun} import: {tally}");
            if tally.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(err) => said(&format!("{noun} import: {err}")),
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
    let record: PortableRecord = serde_json::from_slice(line).map_err(|err| format!("not a record: {err}"))?;
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
        Some(Ok((number, Err(reason)))) => fail(tally, number, &reason),
        Some(Err(err)) => fail(tally, 0, &format!("the write panicked: {err}")),
        None => {}
    }
}

fn fail(tally: &mut Tally, number: u64, reason: &str) {
    tally.failed += 1;
    if tally.failed <= FAILURES_SHOWN {
        eprintln!("line {number}: {reason}");
    } else if tally.failed == FAILURES_SHOWN + 1 {
        eprintln!("(further failed lines are counted, not shown)");
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
