//! The architecture rules a machine can check (docs/architecture.md lists them all):
//! which workspace crate may depend on which, what the domain must not pull in,
//! a `//!` doc atop every Rust file, no ignored test without a reason, every
//! crate that implements a port running that port's contract kit, and every
//! metric documented in docs/operations.md.
//!
//! They run as tests, so `cargo test --workspace` enforces them, and as
//! `cargo xtask tidy`.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use serde_json::Value;

/// Each workspace crate and the workspace crates it may depend on (any kind of dependency).
const ALLOWED: &[(&str, &[&str])] = &[
    ("sesame-ports", &[]),
    ("sesame-core", &["sesame-ports"]),
    ("sesame-mock", &["sesame-ports"]),
    ("sesame-postgres", &["sesame-ports"]),
    ("sesame-redis", &["sesame-ports"]),
    ("sesame-tiered", &["sesame-ports"]),
    ("sesame-guard", &["sesame-ports"]),
    ("sesame-testbed", &[]),
    ("sesame-faults", &["sesame-testbed"]),
    ("sesame-bench", &["sesame-testbed", "sesame-core", "sesame-factory"]),
    (
        "sesame-factory",
        &["sesame-ports", "sesame-mock", "sesame-postgres", "sesame-redis", "sesame-tiered", "sesame-guard"],
    ),
    ("sesame-web", &["sesame-core", "sesame-factory"]),
    ("sesame-browser", &["sesame-core", "sesame-factory", "sesame-web"]),
    ("xtask", &[]),
];

/// Workspace crates a crate may use in its tests only, on top of [`ALLOWED`]:
/// the tiered store is tested over the real stores it composes, and tests that
/// break stores do it to throw-away servers from `sesame-testbed` (which also
/// names the shared test stores once).
const ALLOWED_IN_TESTS: &[(&str, &[&str])] = &[
    ("sesame-tiered", &["sesame-mock", "sesame-postgres", "sesame-redis", "sesame-testbed"]),
    ("sesame-guard", &["sesame-mock", "sesame-postgres", "sesame-redis", "sesame-testbed"]),
    ("sesame-postgres", &["sesame-testbed", "sesame-postgres"]),
    ("sesame-redis", &["sesame-testbed", "sesame-redis"]),
    ("sesame-factory", &["sesame-testbed"]),
    ("sesame-web", &["sesame-testbed"]),
];

/// Crates the domain and the ports must never depend on: drivers, HTTP, networking.
const FORBIDDEN_IN_DOMAIN: &[&str] =
    &["sqlx", "redis", "axum", "hyper", "reqwest", "tower", "tower-http", "tokio-postgres"];

/// The tokio features the core may use: `spawn_blocking`, sync primitives, `join!`.
const CORE_TOKIO_FEATURES: &[&str] = &["rt", "sync", "macros"];

/// Each port, and the contract-kit macro that a crate implementing it must run in its tests.
const KITS: &[(&str, &str)] = &[
    ("UserRepository", "user_repository_contract!"),
    ("SessionStore", "session_store_contract!"),
    ("SessionCache", "session_cache_contract!"),
    ("DurableSessionStore", "durable_session_store_contract!"),
    ("RateLimiter", "rate_limiter_contract!"),
];

/// Runs every check; the error lists every violation.
pub(crate) fn check_all(root: &Path) -> Result<(), String> {
    let packages = workspace_packages(root)?;
    let mut violations = dependency_violations(&packages);
    violations.extend(missing_module_docs(root));
    violations.extend(ignores_without_reason(root));
    violations.extend(ports_without_their_kit(root));
    violations.extend(undocumented_metrics(root));
    if violations.is_empty() {
        Ok(())
    } else {
        Err(format!("tidy found {} problem(s):\n  {}", violations.len(), violations.join("\n  ")))
    }
}

/// A workspace package and its dependencies.
struct Package {
    name: String,
    dependencies: Vec<Dependency>,
}

/// One dependency as the manifest declares it.
struct Dependency {
    name: String,
    /// `normal`, `dev` or `build`.
    kind: String,
    optional: bool,
    features: Vec<String>,
}

fn workspace_packages(root: &Path) -> Result<Vec<Package>, String> {
    let output = crate::cargo_command(&["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .map_err(|err| format!("cannot run cargo metadata: {err}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout).map_err(|err| format!("cargo metadata: {err}"))?;
    let packages = metadata["packages"].as_array().ok_or("cargo metadata lists no packages")?;
    Ok(packages
        .iter()
        .map(|package| Package {
            name: package["name"].as_str().unwrap_or_default().to_owned(),
            dependencies: package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|dep| Dependency {
                    name: dep["name"].as_str().unwrap_or_default().to_owned(),
                    kind: dep["kind"].as_str().unwrap_or("normal").to_owned(),
                    optional: dep["optional"].as_bool().unwrap_or(false),
                    features: dep["features"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|f| f.as_str().map(str::to_owned))
                        .collect(),
                })
                .collect(),
        })
        .collect())
}

fn dependency_violations(packages: &[Package]) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let allowed_in_tests: BTreeMap<&str, &[&str]> = ALLOWED_IN_TESTS.iter().copied().collect();
    let workspace: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    let mut violations = Vec::new();
    for package in packages {
        let Some(may_use) = allowed.get(package.name.as_str()) else {
            violations.push(format!("{} is not in tidy's dependency rules; add it to ALLOWED", package.name));
            continue;
        };
        for Dependency { name: dep, kind, optional, features } in &package.dependencies {
            let test_only = kind == "dev"
                && allowed_in_tests.get(package.name.as_str()).is_some_and(|extra| extra.contains(&dep.as_str()));
            if workspace.contains(&dep.as_str()) && !may_use.contains(&dep.as_str()) && !test_only {
                violations.push(format!("{} must not depend on {dep} ({kind})", package.name));
            }
            let domain = matches!(package.name.as_str(), "sesame-core" | "sesame-ports");
            if domain && kind != "dev" && FORBIDDEN_IN_DOMAIN.contains(&dep.as_str()) {
                violations.push(format!("{} must not depend on {dep}: the domain does no I/O", package.name));
            }
            if package.name == "sesame-core" && dep == "tokio" && kind != "dev" {
                for feature in features.iter().filter(|f| !CORE_TOKIO_FEATURES.contains(&f.as_str())) {
                    violations
                        .push(format!("sesame-core must not use tokio's {feature} feature: the domain does no I/O"));
                }
            }
            if dep == "mockall" && kind != "dev" && !optional {
                violations.push(format!("{} depends on mockall outside dev-dependencies", package.name));
            }
        }
    }
    violations
}

/// Every Rust file under `dir`, recursively (skipping build output).
fn collect_rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|name| name != "target") {
            collect_rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// Every Rust file under crates/ and xtask/.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    collect_rust_files(&root.join("crates"), &mut found);
    collect_rust_files(&root.join("xtask"), &mut found);
    found.sort();
    found
}

fn missing_module_docs(root: &Path) -> Vec<String> {
    rust_files(root)
        .into_iter()
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            !text.lines().find(|line| !line.trim().is_empty()).is_some_and(|line| line.starts_with("//!"))
        })
        .map(|path| format!("{} does not start with a `//!` doc saying what it is for", relative(root, &path)))
        .collect()
}

/// The metric names in `text`: `sesame_…` tokens, histogram series
/// (`_bucket`, `_count`, `_sum`) under their metric's name. When `in_macro`,
/// only string literals that open a metrics macro's arguments count (not a
/// `format!` that names a test schema).
fn metric_names(text: &str, in_macro: bool) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in text.match_indices("sesame_") {
        let before = text[..at].trim_end_matches(|c: char| c.is_whitespace() || c == '"');
        let metrics_macro = ["counter!(", "gauge!(", "histogram!("].iter().any(|name| before.ends_with(name));
        if in_macro && !(text[..at].ends_with('"') && metrics_macro) {
            continue;
        }
        if !in_macro && text[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[at..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
        let name = ["_bucket", "_count", "_sum"].iter().find_map(|suffix| name.strip_suffix(suffix)).unwrap_or(&name);
        names.push(name.to_owned());
    }
    names
}

/// Every metric the code emits, and every one the example alerts and the
/// dashboard use, is listed in docs/operations.md; the dashboard is JSON.
fn undocumented_metrics(root: &Path) -> Vec<String> {
    let read = |path: &str| fs::read_to_string(root.join(path)).unwrap_or_default();
    let documented = read("docs/operations.md");
    let mut violations = Vec::new();
    let dashboard = read("docs/operations/grafana-dashboard.json");
    if let Err(err) = serde_json::from_str::<Value>(&dashboard) {
        violations.push(format!("docs/operations/grafana-dashboard.json is not JSON: {err}"));
    }
    let mut used: Vec<(String, String)> = rust_files(root)
        .into_iter()
        .filter(|path| path.components().any(|part| part.as_os_str() == "src"))
        .flat_map(|path| {
            let text = fs::read_to_string(&path).unwrap_or_default();
            let place = relative(root, &path);
            metric_names(&text, true).into_iter().map(move |name| (name, place.clone()))
        })
        .collect();
    for file in ["docs/operations/alerts.yml", "docs/operations/grafana-dashboard.json"] {
        used.extend(metric_names(&read(file), false).into_iter().map(|name| (name, file.to_owned())));
    }
    used.sort();
    used.dedup_by(|a, b| a.0 == b.0);
    for (name, place) in used {
        if !documented.contains(&format!("`{name}`")) {
            violations.push(format!("{name} (in {place}) is not listed in docs/operations.md"));
        }
    }
    violations
}

fn ignores_without_reason(root: &Path) -> Vec<String> {
    // Spelled in two halves so that this file does not match its own check.
    let bare = concat!("#[", "ignore]");
    rust_files(root)
        .into_iter()
        .filter(|path| fs::read_to_string(path).unwrap_or_default().lines().any(|line| line.trim() == bare))
        .map(|path| format!("{} has an ignore attribute without a reason string", relative(root, &path)))
        .collect()
}

/// Crates whose sources implement a port but whose tests never run its kit.
fn ports_without_their_kit(root: &Path) -> Vec<String> {
    let Ok(crates) = fs::read_dir(root.join("crates")) else { return Vec::new() };
    let mut violations = Vec::new();
    let mut dirs: Vec<PathBuf> = crates.flatten().map(|entry| entry.path()).filter(|path| path.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let read_all = |sub: &str| -> String {
            let mut files = Vec::new();
            collect_rust_files(&dir.join(sub), &mut files);
            files.iter().map(|file| fs::read_to_string(file).unwrap_or_default()).collect()
        };
        let (sources, tests) = (read_all("src"), read_all("tests"));
        for (port, kit) in KITS {
            if implements(&sources, port) && !tests.contains(kit) {
                violations.push(format!("{} implements {port} but its tests never run `{kit}`", relative(root, &dir)));
            }
        }
    }
    violations
}

/// Whether `source` holds an `impl … {port} for …` (generic or not, path-qualified or not).
fn implements(source: &str, port: &str) -> bool {
    source.lines().map(str::trim_start).filter(|line| line.starts_with("impl")).any(|line| {
        line.split_once(" for ").is_some_and(|(head, _)| {
            let trait_path = head.rsplit(' ').next().unwrap_or_default();
            trait_path.rsplit("::").next() == Some(port)
        })
    })
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, deps: &[(&str, &str, bool)]) -> Package {
        Package {
            name: name.into(),
            dependencies: deps
                .iter()
                .map(|(n, k, o)| Dependency {
                    name: (*n).into(),
                    kind: (*k).into(),
                    optional: *o,
                    features: if *n == "tokio" { vec!["rt".into(), "net".into()] } else { Vec::new() },
                })
                .collect(),
        }
    }

    #[test]
    fn the_workspace_follows_the_architecture_rules() {
        check_all(&crate::project_root()).unwrap_or_else(|violations| panic!("{violations}"));
    }

    #[test]
    fn metric_names_are_read_from_macros_and_from_queries() {
        let code = "metrics::counter!(\"sesame_a_total\").increment(1);\nmetrics::histogram!(\n    \"sesame_b_seconds\", \"k\" => v);\nlet schema = \"sesame_test_1\";\nformat!(\"sesame_test_{}\", 1)";
        assert_eq!(metric_names(code, true), ["sesame_a_total", "sesame_b_seconds"]);
        let query = "histogram_quantile(0.99, rate(sesame_b_seconds_bucket[5m])) / my_sesame_x";
        assert_eq!(metric_names(query, false), ["sesame_b_seconds"]);
    }

    #[test]
    fn port_implementations_are_recognised() {
        assert!(implements("impl SessionStore for RedisSessionStore {", "SessionStore"));
        assert!(implements("    impl<S: Send> sesame_ports::SessionStore for Guarded<S> {", "SessionStore"));
        assert!(!implements("impl SessionStore for X {", "UserRepository"));
        assert!(!implements("impl From<PortError> for AuthError {", "SessionStore"));
        assert!(!implements("// impl SessionStore for nothing", "SessionStore"));
    }

    #[test]
    fn a_forbidden_dependency_is_reported() {
        let packages = [
            package("sesame-ports", &[]),
            package(
                "sesame-core",
                &[("sesame-ports", "normal", false), ("sqlx", "normal", false), ("tokio", "normal", false)],
            ),
            package("sesame-mock", &[("sesame-core", "normal", false), ("mockall", "normal", false)]),
            package("sesame-web", &[("sesame-mock", "dev", false)]),
            package("sesame-new", &[]),
        ];
        let violations = dependency_violations(&packages);
        assert_eq!(
            violations,
            [
                "sesame-core must not depend on sqlx: the domain does no I/O",
                "sesame-core must not use tokio's net feature: the domain does no I/O",
                "sesame-mock must not depend on sesame-core (normal)",
                "sesame-mock depends on mockall outside dev-dependencies",
                "sesame-web must not depend on sesame-mock (dev)",
                "sesame-new is not in tidy's dependency rules; add it to ALLOWED",
            ]
        );
    }
}
