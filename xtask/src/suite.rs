//! A `cargo test` pass, run to its end, its output passed through as it
//! comes (on standard error), and what failed in it collected: every `test NAME ... FAILED`
//! line, with the test binary it came from, and every binary that failed
//! without naming a test (it did not build, or it crashed). One summary
//! after every pass names them all.

use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{Command, Stdio},
};

/// Runs `command` (a `cargo test`, `label` in the summary) to its end; what failed in it.
///
/// Its standard output and error share one pipe, so that a result comes
/// after the `Running BINARY` line cargo wrote before starting its binary.
pub(crate) fn run(label: &str, command: &mut Command) -> Result<Vec<String>, String> {
    run_showing(label, command, std::io::stderr())
}

/// [`run`], passing the output to `shown_to`.
fn run_showing(label: &str, command: &mut Command, shown_to: impl Write) -> Result<Vec<String>, String> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command.get_args().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    eprintln!("$ {shown}");
    let cannot = |err: std::io::Error| format!("cannot run `{shown}`: {err}");
    let (reader, writer) = std::io::pipe().map_err(cannot)?;
    let mut child = command.stdout(writer.try_clone().map_err(cannot)?).stderr(writer).spawn().map_err(cannot)?;
    // The command holds the writing ends now; ours are gone with `command`'s copies below.
    let (mut binary, mut failed, mut targets_failed) = (String::new(), Vec::new(), false);
    let mut inspect = |line: &str| {
        let trimmed = line.trim();
        if let Some(running) = trimmed.strip_prefix("Running ") {
            binary = running.split(" (").next().unwrap_or(running).to_owned();
        } else if let Some(name) = line.strip_prefix("test ").and_then(|rest| rest.strip_suffix(" ... FAILED")) {
            failed.push(format!("{name} ({binary})"));
        } else if trimmed.ends_with("targets failed:") || trimmed.ends_with("target failed:") {
            targets_failed = true;
        } else if targets_failed && trimmed.starts_with('`') {
            failed.push(format!("{trimmed} (see its output above)"));
        }
    };
    // `Command` keeps the `Stdio`s it was given: replace them so the pipe's
    // writing ends close when the child exits, and reading ends.
    command.stdout(Stdio::null()).stderr(Stdio::null());
    pass_through(reader, shown_to, &mut inspect);
    let status = child.wait().map_err(|err| format!("`{shown}`: {err}"))?;
    if !status.success() && failed.is_empty() {
        failed.push(format!("`{shown}` failed ({status}): see its output above"));
    }
    Ok(failed.into_iter().map(|what| format!("{label}: {what}")).collect())
}

/// Copies `from` to `to` line by line, showing each line to `inspect`.
fn pass_through(from: impl Read, mut to: impl Write, inspect: &mut impl FnMut(&str)) {
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).is_ok_and(|read| read > 0) {
        let _ = to.write_all(&line);
        let _ = to.flush();
        inspect(String::from_utf8_lossy(&line).trim_end());
        line.clear();
    }
}

/// The end of a run: Ok when nothing failed, else one message naming it all.
pub(crate) fn summary(failed: &[String]) -> Result<(), String> {
    if failed.is_empty() {
        eprintln!("xtask: every test passed");
        return Ok(());
    }
    let mut message = format!("{} failed:", failed.len());
    for what in failed {
        message.push_str(&format!("\n  - {what}"));
    }
    Err(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failed_test_is_named_with_its_binary_and_the_run_goes_on() {
        // A stand-in for cargo: a binary named on stderr, results on stdout, a failing exit.
        let script = "echo '     Running tests/api/main.rs (target/debug/deps/api-1)' >&2; \
                      echo 'test flows::login ... ok'; echo 'test flows::logout ... FAILED'; \
                      echo '     Running tests/cli.rs (target/debug/deps/cli-2)' >&2; \
                      echo 'test export_moves_users ... FAILED'; \
                      echo 'error: 2 targets failed:' >&2; echo '    `-p sesame-browser --test account`' >&2; exit 101";
        let failed = run_showing("pass", Command::new("sh").args(["-c", script]), std::io::sink()).unwrap();
        assert_eq!(
            failed,
            [
                "pass: flows::logout (tests/api/main.rs)",
                "pass: export_moves_users (tests/cli.rs)",
                "pass: `-p sesame-browser --test account` (see its output above)",
            ]
        );
        let failed_quietly = run_showing("quiet", Command::new("sh").args(["-c", "exit 3"]), std::io::sink()).unwrap();
        assert_eq!(failed_quietly.len(), 1, "a failure that names no test is named itself");
        assert!(summary(&failed).unwrap_err().starts_with("3 failed:\n  - pass: flows::logout"));
        assert!(summary(&[]).is_ok());
    }
}
