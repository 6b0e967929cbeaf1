//! A throw-away PostgreSQL server: its own cluster directory, initialised with
//! `initdb`, run with `pg_ctl` (as the `postgres` user when we are root, since
//! PostgreSQL refuses to run as root), trust authentication, no fsync (a
//! stopped or killed server loses no commit; only an OS crash would).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use crate::{free_port, listening, run, scratch_dir, wait_until};

/// A PostgreSQL server of its own on loopback, stopped and removed when dropped.
pub struct Postgres {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    running: bool,
}

/// The directory of PostgreSQL's server programs: `PG_BIN`, else the newest
/// version under `/usr/lib/postgresql`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|entry| entry.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().filter(|dir| dir.join("initdb").exists()).unwrap_or_else(|| {
        panic!("PostgreSQL's server programs were not found under /usr/lib/postgresql; set PG_BIN to their directory")
    })
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

impl Postgres {
    /// Initialises and starts a server.
    pub fn start() -> Self {
        let port = free_port();
        let dir = scratch_dir("postgres", port);
        let postgres = Self { port, dir, bin: bin_dir(), running: false };
        if running_as_root() {
            run(Command::new("chown").arg("-R").arg("postgres").arg(&postgres.dir));
        }
        let mut initdb =
            postgres.command("initdb", &["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "-D"]);
        run(initdb.arg(postgres.data()));
        let mut postgres = postgres;
        postgres.start_again();
        postgres
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// `program` from PostgreSQL's directory with `args`, run as `postgres` when we are root.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.args(args);
        command
    }

    fn pg_ctl(&self, args: &[&str]) -> Command {
        let mut command = self.command("pg_ctl", &["-D"]);
        command.arg(self.data()).args(args);
        command
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:port/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts it (again).
    pub fn start_again(&mut self) {
        let options = format!(
            // fsync=off loses nothing when only the server process dies (the OS
            // keeps what was written); synchronous_commit stays on, or an
            // immediate stop would lose the last commits.
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        run(self.pg_ctl(&["-w", "-o", &options, "-l"]).arg(&log).arg("start"));
        self.running = true;
        let port = self.port;
        wait_until(&format!("PostgreSQL on port {port}"), Duration::from_secs(20), || listening(port));
    }

    /// Stops it at once (`-m immediate`: no checkpoint, clients cut off).
    pub fn stop(&mut self) {
        if self.running {
            run(&mut self.pg_ctl(&["-m", "immediate", "stop"]));
            self.running = false;
        }
    }

    /// Stops and starts it again.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Terminates every client connection (`pg_terminate_backend`), as an
    /// administrator or a failover would; how many it terminated.
    pub fn terminate_backends(&self) -> usize {
        let terminated = self.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
        );
        terminated.trim().parse().unwrap_or(0)
    }

    /// Runs `sql` with psql; its output.
    pub fn psql(&self, sql: &str) -> String {
        run(Command::new("psql").args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "-qAtc",
            sql,
        ]))
    }

    /// The server's log, for a failing test to show.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.pg_ctl(&["-m", "immediate", "stop"]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
