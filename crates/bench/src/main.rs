//! `sesame-bench storm --sesame PATH`: the login storm against the release
//! binary, as `cargo xtask bench storm` runs it.
//!
//! It starts sesame in the mock environment (rate limits off, the default
//! hashing concurrency), registers 200 users, lets the process settle and
//! reads its idle resident memory; measures `GET /api/auth/me` at a fixed 500
//! requests a second for five seconds; then sends 200 concurrent logins while
//! the same `/me` load runs, sampling resident memory every 10 ms; and then
//! watches memory for 10 s. It prints the figures and whether each target of
//! docs/security.md holds, and exits non-zero when one does not.

mod rate;
mod storm;

use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some("storm"), Some("--sesame"), Some(binary)) =
        (args.first().map(String::as_str), args.get(1).map(String::as_str), args.get(2))
    else {
        eprintln!("usage: sesame-bench storm --sesame PATH");
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let report = runtime.block_on(storm::run(&PathBuf::from(binary)));
    #[allow(clippy::print_stdout)]
    {
        println!("{}", report.table());
    }
    if report.holds() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
