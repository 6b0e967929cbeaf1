//! A program run as a server — the `sesame` binary, for tests and the fault
//! suite — with its log lines (standard output and error) collected.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

/// A running program, killed when dropped.
pub struct Service {
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Service {
    /// Starts `command`, collecting every line it writes.
    pub fn start(command: &mut Command) -> Self {
        let shown = format!("{command:?}");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {shown}: {err}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("piped stdout")),
            Box::new(child.stderr.take().expect("piped stderr")),
        ];
        for stream in streams {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap_or_else(PoisonError::into_inner).push(line);
                }
            });
        }
        Self { child: Some(child), lines }
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Every line so far, as one text.
    pub fn logs(&self) -> String {
        self.lines().join("\n")
    }

    /// `http://` and the address of the first JSON log line whose message is
    /// `listening` (sesame's, with `SESAME__LOG__FORMAT=json`), waiting for it.
    pub fn listening_on(&self, deadline: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Some(address) = self.lines().iter().find_map(|line| listening_address(line)) {
                return format!("http://{address}");
            }
            assert!(started.elapsed() < deadline, "no `listening` line within {deadline:?}:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
    }

    /// Kills it at once (SIGKILL), as a crash would, and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the program to exit; its status, or `None` after `deadline`.
    pub fn wait_exit(&mut self, deadline: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let started = Instant::now();
        while started.elapsed() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// The address in a JSON log line `{…"message":"listening",…"address":"…"…}`.
fn listening_address(line: &str) -> Option<&str> {
    if !line.contains("\"message\":\"listening\"") {
        return None;
    }
    let rest = &line[line.find("\"address\":\"")? + "\"address\":\"".len()..];
    Some(&rest[..rest.find('"')?])
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_the_address() {
        let line = r#"{"timestamp":"t","level":"INFO","message":"listening","address":"127.0.0.1:4242","target":"x"}"#;
        assert_eq!(listening_address(line), Some("127.0.0.1:4242"));
        assert_eq!(listening_address(r#"{"message":"starting"}"#), None);
    }
}
