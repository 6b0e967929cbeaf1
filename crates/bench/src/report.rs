//! The throughput bench's results: medians over rounds, ratios to the bare
//! route, the targets of docs/performance.md, a Markdown table and an SVG chart.

use std::{fmt::Write as _, time::Duration};

use crate::throughput::{Endpoint, Mode, Results, Sample};

const MIB: f64 = 1024.0 * 1024.0;

/// The medians of one endpoint's runs in one mode at one connection count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub(crate) mode: Mode,
    pub(crate) endpoint: Endpoint,
    pub(crate) connections: u32,
    pub(crate) per_second: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) cpu: Duration,
    pub(crate) resident: u64,
    pub(crate) failed: u64,
    /// Requests a second, and p99, as a multiple of the bare route's.
    pub(crate) ratio: f64,
    pub(crate) p99_ratio: f64,
}

fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

impl Results {
    /// One row per mode, endpoint and connection count, in the order they ran.
    pub(crate) fn rows(&self) -> Vec<Row> {
        let mut keys: Vec<(Mode, Endpoint, u32)> = Vec::new();
        for sample in &self.samples {
            let key = (sample.mode, sample.endpoint, sample.connections);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let of = |key: (Mode, Endpoint, u32)| -> Vec<&Sample> {
            self.samples.iter().filter(|s| (s.mode, s.endpoint, s.connections) == key).collect()
        };
        let medians = |samples: &[&Sample]| {
            (
                median(samples.iter().map(|s| s.report.per_second).collect()),
                median(samples.iter().map(|s| s.report.p50).collect()),
                median(samples.iter().map(|s| s.report.p99).collect()),
            )
        };
        keys.into_iter()
            .map(|key @ (mode, endpoint, connections)| {
                let samples = of(key);
                let (per_second, p50, p99) = medians(&samples);
                let (bare_per_second, _, bare_p99) = medians(&of((mode, Endpoint::Bare, connections)));
                Row {
                    mode,
                    endpoint,
                    connections,
                    per_second,
                    p50,
                    p99,
                    cpu: median(samples.iter().map(|s| s.cpu).collect()),
                    resident: samples.last().map_or(0, |s| s.resident),
                    failed: samples.iter().map(|s| s.report.failed).sum(),
                    ratio: per_second / bare_per_second,
                    p99_ratio: p99.as_secs_f64() / bare_p99.as_secs_f64().max(1e-9),
                }
            })
            .collect()
    }

    /// Each target, whether it holds, and the figure it was judged on.
    pub(crate) fn verdicts(&self) -> Vec<(String, bool)> {
        let rows = self.rows();
        let mut verdicts = Vec::new();
        for row in rows.iter().filter(|row| row.mode == Mode::TieredCached && row.endpoint == Endpoint::Me) {
            let at = format!("{}, {} connections", row.mode.name(), row.connections);
            verdicts.push((
                format!("`GET /api/auth/me` ≥ 0.80× the bare route ({at}): {:.2}×", row.ratio),
                row.ratio >= 0.80,
            ));
        }
        for row in rows.iter().filter(|row| row.mode == Mode::Tiered) {
            let at = format!("{}, {} connections", row.mode.name(), row.connections);
            match row.endpoint {
                Endpoint::Me => {
                    verdicts.push((
                        format!("`GET /api/auth/me` ≥ 0.40× the bare route ({at}): {:.2}×", row.ratio),
                        row.ratio >= 0.40,
                    ));
                    verdicts.push((
                        format!("`GET /api/auth/me` p99 ≤ 3× the bare route's ({at}): {:.1}×", row.p99_ratio),
                        row.p99_ratio <= 3.0,
                    ));
                }
                Endpoint::Healthz => verdicts.push((
                    format!("`GET /healthz` ≥ 0.85× the bare route ({at}): {:.2}×", row.ratio),
                    row.ratio >= 0.85,
                )),
                _ => {}
            }
        }
        for &(mode, resident) in self.after_load.iter().filter(|(mode, _)| *mode == Mode::Tiered) {
            verdicts.push((
                format!(
                    "resident memory ≤ 32 MiB after the authenticated load ({}): {:.1} MiB",
                    mode.name(),
                    resident as f64 / MIB
                ),
                resident as f64 <= 32.0 * MIB,
            ));
        }
        verdicts
    }

    /// The figures as Markdown: the table, then the targets.
    pub(crate) fn markdown(&self) -> String {
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
        let mut text = String::from(
            "| mode | endpoint | conns | req/s | × bare | p50 ms | p99 ms | p99 × bare | CPU µs/req | RSS MiB | not 2xx |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for row in self.rows() {
            let _ = writeln!(
                text,
                "| {} | {} | {} | {:.0} | {:.2} | {} | {} | {:.1} | {:.1} | {:.1} | {} |",
                row.mode.name(),
                row.endpoint.name(),
                row.connections,
                row.per_second,
                row.ratio,
                ms(row.p50),
                ms(row.p99),
                row.p99_ratio,
                row.cpu.as_secs_f64() * 1e6,
                row.resident as f64 / MIB,
                row.failed
            );
        }
        text.push_str("\nResident memory after the authenticated load, before any login:\n\n");
        for (mode, resident) in &self.after_load {
            let _ = writeln!(text, "- {}: {:.1} MiB", mode.name(), *resident as f64 / MIB);
        }
        text.push_str("\nTargets:\n\n");
        for (target, holds) in self.verdicts() {
            let _ = writeln!(text, "- {target}: {}", if holds { "holds" } else { "**fails**" });
        }
        let plan = &self.plan;
        let _ = write!(
            text,
            "\n{} round(s) of {} s per endpoint and connection count (medians shown), `wrk -t2`, over {} seeded sessions.\n",
            plan.rounds,
            plan.duration.as_secs(),
            plan.users * plan.sessions_per_user
        );
        text
    }

    /// A chart of requests a second and p99 per endpoint and mode, as SVG.
    pub(crate) fn svg(&self) -> String {
        let rows = self.rows();
        let (label_width, bar_width, row_height, top) = (330.0, 300.0, 18.0, 40.0);
        let max_rate = rows.iter().map(|row| row.per_second).fold(1.0, f64::max);
        // Login's p99 (argon2, seconds) would flatten every other bar: it is
        // drawn capped at the longest bar, its figure written beside it.
        let max_p99 = rows
            .iter()
            .filter(|row| row.endpoint != Endpoint::Login)
            .map(|row| row.p99.as_secs_f64())
            .fold(1e-6, f64::max);
        let height = top + row_height * rows.len() as f64 + 20.0;
        let width = label_width + 2.0 * (bar_width + 90.0);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{label_width}\" y=\"20\" font-weight=\"bold\">requests a second</text>\n\
             <text x=\"{}\" y=\"20\" font-weight=\"bold\">p99 latency</text>\n",
            label_width + bar_width + 90.0
        );
        for (index, row) in rows.iter().enumerate() {
            let y = top + row_height * index as f64;
            let colour = match row.mode {
                Mode::Mock => "#8da0cb",
                Mode::Tiered => "#66c2a5",
                Mode::TieredCached => "#fc8d62",
            };
            let label =
                format!("{} · {} · c{}", row.mode.name(), row.endpoint.name().replace('`', ""), row.connections);
            let rate = bar_width * row.per_second / max_rate;
            let p99 = (bar_width * row.p99.as_secs_f64() / max_p99).min(bar_width);
            let p99_x = label_width + bar_width + 90.0;
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
                 <rect x=\"{label_width}\" y=\"{}\" width=\"{rate:.1}\" height=\"{}\" fill=\"{colour}\"/>\
                 <text x=\"{}\" y=\"{}\">{:.0}</text>\
                 <rect x=\"{p99_x}\" y=\"{}\" width=\"{p99:.1}\" height=\"{}\" fill=\"{colour}\"/>\
                 <text x=\"{}\" y=\"{}\">{:.2} ms</text>",
                label_width - 6.0,
                y + 12.0,
                escape(&label),
                y + 2.0,
                row_height - 4.0,
                label_width + rate + 4.0,
                y + 12.0,
                row.per_second,
                y + 2.0,
                row_height - 4.0,
                p99_x + p99 + 4.0,
                y + 12.0,
                row.p99.as_secs_f64() * 1000.0
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
