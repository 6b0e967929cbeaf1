//! sesame's benchmarks against the release binary, as `cargo xtask bench` runs them:
//!
//! - `sesame-bench throughput --sesame PATH --out DIR [--quick]`: requests a
//!   second, latency, CPU and memory per endpoint and store mode, against a
//!   bare axum route in the same run (docs/performance.md). Writes
//!   `throughput.md` and `throughput.svg` into DIR; exits non-zero when a
//!   target does not hold.
//! - `sesame-bench storm --sesame PATH`: the login storm (docs/security.md):
//!   memory while 200 concurrent logins hash, and `/me` latency meanwhile.
//! - `sesame-bench transfer --sesame PATH [--sessions N]`: resident memory of
//!   `sesame sessions import` and `export` moving N (1,000,000) sessions.
//! - `sesame-bench sizing --sesame PATH [--sessions N]`: store memory per
//!   session, PostgreSQL writes per 10,000 active sessions, and `/me` with
//!   1,000 and N (1,000,000) live sessions (docs/deployment.md).
//! - `sesame-bench bare ADDR`: the bare route the throughput is quoted against.

mod bare;
mod rate;
mod report;
mod seed;
mod sizing;
mod storm;
mod throughput;
mod transfer;
mod wrk;

use std::{path::PathBuf, process::ExitCode};

const USAGE: &str = "usage: sesame-bench throughput --sesame PATH --out DIR [--quick]
       sesame-bench storm --sesame PATH
       sesame-bench transfer --sesame PATH [--sessions N]
       sesame-bench sizing --sesame PATH [--sessions N]
       sesame-bench bare ADDR";

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["bare", address] => match address.parse() {
            Ok(address) => match bare::serve(address) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("sesame-bench bare: {err}");
                    ExitCode::FAILURE
                }
            },
            Err(_) => usage(),
        },
        ["storm", "--sesame", binary] => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
            let report = runtime.block_on(storm::run(&PathBuf::from(binary)));
            println!("{}", report.table());
            if report.holds() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        ["throughput", "--sesame", binary, "--out", out, rest @ ..] if rest.len() <= 1 => {
            let quick = match rest {
                [] => false,
                ["--quick"] => true,
                _ => return usage(),
            };
            let out = PathBuf::from(out);
            let results = throughput::run(
                &PathBuf::from(binary),
                &throughput::Plan::new(quick),
                &std::env::temp_dir().join("sesame-bench-throughput"),
            );
            let table = results.markdown();
            println!("{table}");
            for (name, text) in [("throughput.md", table), ("throughput.svg", results.svg())] {
                if let Err(err) = std::fs::write(out.join(name), text) {
                    eprintln!("sesame-bench: cannot write {}: {err}", out.join(name).display());
                    return ExitCode::FAILURE;
                }
            }
            if results.verdicts().iter().all(|(_, holds)| *holds) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        ["transfer", "--sesame", binary, rest @ ..] => {
            let sessions = match rest {
                [] => 1_000_000,
                ["--sessions", count] => match count.parse() {
                    Ok(count) => count,
                    Err(_) => return usage(),
                },
                _ => return usage(),
            };
            let scratch = std::env::temp_dir().join("sesame-bench-transfer");
            let report = transfer::run(&PathBuf::from(binary), sessions, &scratch);
            println!("{}", report.table());
            if report.holds() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        ["sizing", "--sesame", binary, rest @ ..] => {
            let sessions = match rest {
                [] => 1_000_000,
                ["--sessions", count] => match count.parse::<usize>() {
                    Ok(count) if count > 1_000 => count,
                    _ => return usage(),
                },
                _ => return usage(),
            };
            let report =
                sizing::run(&PathBuf::from(binary), sessions, &std::env::temp_dir().join("sesame-bench-sizing"));
            println!("{}", report.table());
            ExitCode::SUCCESS
        }
        _ => usage(),
    }
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
