//! Drives `wrk` (Debian's package; `cargo xtask setup` installs it) and reads
//! its report: requests a second, latency quantiles, answers that were not 2xx.
//!
//! Every run uses the same Lua script, which sends a cookie from a file with
//! each request (round robin, each thread from its own offset), so that every
//! endpoint pays wrk the same per-request cost on this shared machine.

use std::{path::Path, process::Command, time::Duration};

/// The script every GET run uses: `wrk -s cookies.lua URL -- COOKIE_FILE`.
const COOKIES_LUA: &str = r#"
local cookies = {}
local next_one = 1
function init(args)
  for line in io.lines(args[1]) do cookies[#cookies + 1] = line end
  next_one = math.random(#cookies)
end
function request()
  next_one = next_one % #cookies + 1
  return wrk.format(nil, nil, { ["Cookie"] = cookies[next_one] })
end
"#;

/// The script login runs use: one user's credentials, posted as JSON.
const LOGIN_LUA: &str = r#"
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"email":"' .. args[1] .. '","password":"' .. args[2] .. '"}'
end
"#;

/// What to load, and how.
pub(crate) enum Load<'a> {
    /// `GET` with a cookie from this file (one `name=value` a line).
    Get { cookies: &'a Path },
    /// `POST` login as this user.
    Login { email: &'a str, password: &'a str },
}

/// What one wrk run reported.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Report {
    pub(crate) requests: u64,
    pub(crate) per_second: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    /// Answers other than 2xx/3xx, and socket errors.
    pub(crate) failed: u64,
}

/// Writes the Lua scripts into `dir`.
pub(crate) fn write_scripts(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join("cookies.lua"), COOKIES_LUA)?;
    std::fs::write(dir.join("login.lua"), LOGIN_LUA)
}

/// Runs `wrk -t2 -cCONNECTIONS -dDURATION --latency` against `url`.
pub(crate) fn run(url: &str, load: &Load<'_>, connections: u32, duration: Duration, scripts: &Path) -> Report {
    let mut command = Command::new("wrk");
    command
        .arg("-t2")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--latency")
        .arg("--timeout")
        .arg("5s");
    match load {
        Load::Get { cookies } => command.arg("-s").arg(scripts.join("cookies.lua")).arg(url).arg("--").arg(cookies),
        Load::Login { email, password } => {
            command.arg("-s").arg(scripts.join("login.lua")).arg(url).arg("--").arg(email).arg(password)
        }
    };
    let output =
        command.output().unwrap_or_else(|err| panic!("cannot run wrk ({err}); `cargo xtask setup` installs it"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {}\n{text}", String::from_utf8_lossy(&output.stderr));
    parse(&text).unwrap_or_else(|| panic!("cannot read wrk's report:\n{text}"))
}

/// Reads wrk's `--latency` report.
fn parse(text: &str) -> Option<Report> {
    let mut report = Report::default();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", value] => report.p50 = duration(value)?,
            ["99%", value] => report.p99 = duration(value)?,
            ["Requests/sec:", value] => report.per_second = value.parse().ok()?,
            [count, "requests", "in", ..] => report.requests = count.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", count] => report.failed += count.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                report.failed +=
                    rest.iter().filter_map(|word| word.trim_end_matches(',').parse::<u64>().ok()).sum::<u64>();
            }
            _ => {}
        }
    }
    (report.requests > 0).then_some(report)
}

/// wrk's durations: `512.00us`, `1.23ms`, `2.00s`.
fn duration(text: &str) -> Option<Duration> {
    let (number, scale) = [("us", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0)]
        .into_iter()
        .find_map(|(unit, scale)| text.strip_suffix(unit).map(|number| (number, scale)))?;
    Some(Duration::from_secs_f64(number.parse::<f64>().ok()? * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 5s test @ http://127.0.0.1:4000/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   312.45us  201.11us   8.00ms   91.00%
    Req/Sec    52.01k     3.10k   58.00k    70.00%
  Latency Distribution
     50%  280.00us
     75%  350.00us
     90%  450.00us
     99%    1.20ms
  517000 requests in 5.00s, 64.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec: 103400.00
Transfer/sec:     12.82MB
";

    #[test]
    fn reads_the_latency_report() {
        let report = parse(SAMPLE).expect("a report");
        assert_eq!(report.requests, 517_000);
        assert!((report.per_second - 103_400.0).abs() < f64::EPSILON);
        assert_eq!(report.p50, Duration::from_micros(280));
        assert_eq!(report.p99, Duration::from_micros(1200));
        assert_eq!(report.failed, 10);
    }
}
