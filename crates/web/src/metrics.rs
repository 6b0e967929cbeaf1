//! Prometheus metrics: the exporter, and request latency per route (the
//! outcome of each register and login is counted by the application layer,
//! `sesame_core::Application`, through the `metrics` facade).

use std::{
    collections::HashMap,
    sync::{LazyLock, OnceLock, PoisonError, RwLock},
    time::{Duration, Instant},
};

use axum::{
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder, installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first, e.g. by an embedding
        // application; its metrics then go there and /metrics shows ours as empty.
        let _ = metrics::set_global_recorder(recorder);
        // Histograms keep every sample until upkeep folds them into their
        // buckets: without it, memory grows with every request between two
        // scrapes (tens of MiB a minute under load).
        let upkept = handle.clone();
        let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkept.run_upkeep();
            }
        });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "cannot start the metrics upkeep; histograms grow until scraped");
        }
        handle
    })
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// Installs the recorder; call once at start-up so the first request is not slower.
pub fn install() {
    handle();
}

/// `GET /metrics`: the Prometheus text format.
pub(crate) fn render() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}

/// The request counter and latency histogram of one route, method and status.
#[derive(Clone)]
struct RequestSeries {
    requests: Counter,
    duration: Histogram,
}

/// Each route's series by method and status, registered on first use: a
/// request then costs a read lock and two atomic updates, with no label
/// strings built or hashed.
type SeriesByRoute = HashMap<String, HashMap<(&'static str, StatusCode), RequestSeries>>;

fn series(route: &str, method: &'static str, status: StatusCode) -> RequestSeries {
    static SERIES: LazyLock<RwLock<SeriesByRoute>> = LazyLock::new(RwLock::default);
    let known = SERIES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(route)
        .and_then(|by| by.get(&(method, status)).cloned());
    if let Some(series) = known {
        return series;
    }
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.as_str().to_owned())];
    let series = RequestSeries {
        requests: metrics::counter!("sesame_http_requests_total", &labels),
        duration: metrics::histogram!("sesame_http_request_duration_seconds", &labels),
    };
    let mut all = SERIES.write().unwrap_or_else(PoisonError::into_inner);
    all.entry(route.to_owned()).or_default().insert((method, status), series.clone());
    series
}

/// The method as a metrics label. Bounded: a made-up method must not make a
/// new time series.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts a request and records its latency, per route pattern
/// (`/api/auth/sessions/{id}`, never the concrete path), method and status.
pub(crate) fn record_request(route: &str, method: &'static str, status: StatusCode, started: Instant) {
    let series = series(route, method, status);
    series.requests.increment(1);
    series.duration.record(started.elapsed().as_secs_f64());
}
