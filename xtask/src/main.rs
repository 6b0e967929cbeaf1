//! `cargo xtask <task>`: sesame's developer tasks, in Rust so they run wherever cargo does.
//!
//! Tasks: `tidy` (the architecture checks of docs/architecture.md), `test` (the
//! whole test suite), `ci` (what `.ci/run` runs: formatting, lints, tests).
//! Every child command's exit status is checked; the first failure stops the task.

mod tidy;

use std::{
    env,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

fn main() -> ExitCode {
    let task = env::args().nth(1);
    let result = match task.as_deref() {
        Some("tidy") => tidy::check_all(&project_root()),
        Some("test") => test(),
        Some("ci") => ci(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  tidy   check the architecture rules\n  test   run the whole test suite\n  ci     formatting, lints and tests, as .ci/run does"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's directory.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

fn test() -> Result<(), String> {
    cargo(&["test", "--workspace"])
}

fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    test()
}

/// Runs `cargo args…` in the project root; an error unless it exits 0.
fn cargo(args: &[&str]) -> Result<(), String> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(project_root())
        .status()
        .map_err(|err| format!("cannot run {cargo}: {err}"))?;
    if status.success() { Ok(()) } else { Err(format!("`cargo {}` failed ({status})", args.join(" "))) }
}
