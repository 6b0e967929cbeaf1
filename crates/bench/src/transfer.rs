//! `sesame-bench transfer --sesame PATH [--sessions N]`: the resident memory
//! of `sesame sessions import` and `sesame sessions export` while they move N
//! sessions (1,000,000 by default) through a throw-away Redis, against the
//! target that they stream: at most 32 MiB above what the same command holds
//! with nothing to move (its start: runtime, connections, buffers).

use std::{
    fmt::Write as _,
    fs::File,
    io::{BufWriter, Write as _},
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use sesame_core::ports::UserId;
use sesame_testbed::Redis;

use crate::{seed::SessionLine, throughput::resident_if_running};

/// How far above its start a command's resident memory may go.
const HEADROOM: u64 = 32 * 1024 * 1024;

/// One command's run.
pub(crate) struct Run {
    what: &'static str,
    /// The peak of the same command with nothing to move.
    start: u64,
    /// The most resident memory seen.
    peak: u64,
    took: Duration,
    succeeded: bool,
}

impl Run {
    fn holds(&self) -> bool {
        self.succeeded && self.peak.saturating_sub(self.start) <= HEADROOM
    }
}

/// What the benchmark measured.
pub(crate) struct Report {
    sessions: u64,
    runs: Vec<Run>,
    exported: u64,
}

impl Report {
    /// Whether every command succeeded within the target, and the export
    /// held every session.
    pub(crate) fn holds(&self) -> bool {
        self.exported == self.sessions && self.runs.iter().all(Run::holds)
    }

    /// The figures, as a Markdown table.
    pub(crate) fn table(&self) -> String {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let mut table = format!(
            "{} sessions through a throw-away Redis (`SESAME__STORE__SESSIONS=redis`):\n\n\
             | command | took | peak with nothing to move | peak | difference | target ≤ 32 MiB |\n|---|---:|---:|---:|---:|---|\n",
            self.sessions
        );
        for run in &self.runs {
            let _ = writeln!(
                table,
                "| `sesame sessions {}` | {:.0} s | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} |",
                run.what,
                run.took.as_secs_f64(),
                mib(run.start),
                mib(run.peak),
                mib(run.peak.saturating_sub(run.start)),
                if run.holds() { "holds" } else { "**fails**" },
            );
        }
        let _ = writeln!(table, "\nThe export wrote {} of the {} sessions.", self.exported, self.sessions);
        table
    }
}

/// Seeds a file with `sessions` sessions, imports it into a throw-away Redis
/// and exports it back, sampling each command's memory.
pub(crate) fn run(binary: &Path, sessions: u64, scratch: &Path) -> Report {
    std::fs::create_dir_all(scratch).expect("a scratch directory");
    let (input, output) = (scratch.join("sessions.jsonl"), scratch.join("exported.jsonl"));
    write_sessions(&input, sessions);
    let empty = scratch.join("empty.jsonl");
    std::fs::write(&empty, "").expect("an empty file");
    let redis = Redis::start();
    let idle_export = measure(binary, &redis, "export", &["sessions", "export", "--output"], &output);
    let idle_import = measure(binary, &redis, "import", &["sessions", "import", "--input"], &empty);
    let mut import = measure(binary, &redis, "import", &["sessions", "import", "--input"], &input);
    let mut export = measure(binary, &redis, "export", &["sessions", "export", "--output"], &output);
    (import.start, export.start) = (idle_import.peak, idle_export.peak);
    let exported = std::fs::read_to_string(&output).map_or(0, |text| text.lines().count() as u64);
    let _ = std::fs::remove_dir_all(scratch);
    Report { sessions, runs: vec![import, export], exported }
}

/// `sessions` session lines of 1,000 users, live for the next hours.
fn write_sessions(path: &Path, sessions: u64) {
    let now = time::OffsetDateTime::now_utc();
    let at = |offset: time::Duration| {
        (now + offset).format(&time::format_description::well_known::Rfc3339).expect("a timestamp")
    };
    let (created, idle, absolute) =
        (at(-time::Duration::minutes(5)), at(time::Duration::hours(6)), at(time::Duration::hours(7)));
    let users: Vec<UserId> = (0..1000).map(|_| UserId::random()).collect();
    let mut out = BufWriter::new(File::create(path).expect("the sessions file"));
    for n in 0..sessions {
        // Unique within the run; the Redis is the run's own.
        let hash = format!("{n:064x}");
        let user = users[(n % 1000) as usize];
        SessionLine {
            token_hash: &hash,
            user,
            created: &created,
            last_seen: &created,
            idle_expires: &idle,
            absolute_expires: &absolute,
        }
        .write(&mut out);
    }
    out.flush().expect("the sessions file");
}

/// Runs `sesame args… file` against `redis`, sampling its resident memory every 2 ms.
fn measure(binary: &Path, redis: &Redis, what: &'static str, args: &[&str], file: &Path) -> Run {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(args)
        .arg(file)
        .env_clear()
        .env("SESSION_ENVIRONMENT", "development")
        .env("REDIS_URL", redis.url())
        .env("SESAME__STORE__SESSIONS", "redis")
        .env("SESAME__STORE__USERS", "memory")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run sesame");
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the command's status") {
            break status;
        }
        if let Some(bytes) = resident_if_running(child.id()) {
            peak = peak.max(bytes);
        }
        thread::sleep(Duration::from_millis(2));
    };
    Run { what, start: 0, peak, took: started.elapsed(), succeeded: status.success() }
}
