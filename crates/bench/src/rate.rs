//! Open-loop load at a fixed rate: each request is timed from when it was due,
//! so a stalled server shows in the latencies instead of lowering the rate.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};

/// Latencies of one run, and how many requests did not answer 200.
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    sorted: Vec<Duration>,
    pub(crate) failures: usize,
}

impl Latencies {
    /// The `q` quantile (0..=1).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let index = ((self.sorted.len() as f64 - 1.0) * q).round() as usize;
        self.sorted[index]
    }

    /// How many requests were sent.
    pub(crate) fn count(&self) -> usize {
        self.sorted.len()
    }
}

/// `GET url` with `cookie`, `per_second` times a second for `duration`.
pub(crate) async fn fixed_rate(
    client: &Client,
    url: &str,
    cookie: &str,
    per_second: u32,
    duration: Duration,
) -> Latencies {
    let interval = Duration::from_secs(1) / per_second;
    let started = Instant::now();
    let mut requests = Vec::new();
    let mut due = started;
    while due < started + duration {
        tokio::time::sleep_until(due.into()).await;
        let (client, url, cookie) = (client.clone(), url.to_owned(), cookie.to_owned());
        requests.push(tokio::spawn(async move {
            let answer = client.get(url).header("cookie", cookie).send().await;
            (due.elapsed(), answer.is_ok_and(|answer| answer.status() == StatusCode::OK))
        }));
        due += interval;
    }
    let mut latencies = Latencies::default();
    for request in requests {
        let (latency, ok) = request.await.expect("a request task");
        latencies.sorted.push(latency);
        latencies.failures += usize::from(!ok);
    }
    latencies.sorted.sort();
    latencies
}
