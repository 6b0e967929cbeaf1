//! Every `SESAME__*` setting in one place: its key, its default in each
//! environment (defined here and nowhere else), and the values it accepts
//! when it names one of a few. The settings loader takes its defaults from
//! here, warns about a variable that is not here (naming the closest that is),
//! and names variables rather than internal keys in its errors; a test checks
//! docs/configuration.md against it.

use std::collections::HashMap;

use crate::Environment;

/// One setting: its key in the settings tree (`http.addr`) and its default,
/// `None` when it has none (unset unless given).
pub(crate) type Entry = (&'static str, Option<String>);

/// Every setting with its default in `environment`; `vars` are the variables
/// given, for the defaults that follow another setting.
pub(crate) fn catalog(environment: Environment, vars: &HashMap<String, String>) -> Vec<Entry> {
    let production = environment == Environment::Production;
    let mock = environment == Environment::Mock;
    let either = |test: bool, yes: &str, no: &str| Some(if test { yes } else { no }.to_owned());
    let fixed = |value: &str| Some(value.to_owned());
    vec![
        ("http.addr", fixed("127.0.0.1:3000")),
        ("http.drain_seconds", either(production, "5", "0")),
        ("http.trusted_proxies", fixed("")),
        ("http.allowed_origins", fixed("")),
        ("http.header_timeout_seconds", fixed("10")),
        ("http.body_timeout_seconds", fixed("10")),
        ("http.max_connections", fixed("1024")),
        ("http.metrics_addr", None),
        ("http.tls_in_front", fixed("false")),
        ("http.clear_site_data", fixed("false")),
        ("session.max_age_seconds", fixed("1800")),
        ("session.absolute_timeout_seconds", fixed("43200")),
        ("session.touch_interval_seconds", fixed("60")),
        ("cookie.name", fixed("sessionId")),
        ("cookie.secure", either(production, "true", "false")),
        ("cookie.persistent", fixed("false")),
        ("cookie.previous_names", fixed("")),
        ("cookie.legacy_tokens", fixed("false")),
        ("password.max_concurrent_hashes", Some(half_the_cores().to_string())),
        ("password.max_waiting_hashes", fixed("256")),
        ("store.users", either(mock, "memory", "postgres")),
        ("store.sessions", either(mock, "memory", "tiered")),
        ("store.connect_attempts", fixed("4")),
        ("store.purge_interval_seconds", fixed("300")),
        ("store.miss_lookups_per_second", fixed("200")),
        ("store.memory_snapshot_dir", None),
        ("postgres.max_connections", fixed("10")),
        ("postgres.acquire_timeout_ms", fixed("2000")),
        ("postgres.statement_timeout_ms", fixed("5000")),
        ("postgres.schema", None),
        ("postgres.migrate_on_start", either(production, "false", "true")),
        ("redis.cluster", either(vars.get("REDIS_URL").is_some_and(|url| url.contains(',')), "true", "false")),
        ("redis.key_prefix", fixed("sesame:")),
        ("redis.connection_timeout_ms", fixed("2000")),
        ("redis.response_timeout_ms", fixed("500")),
        ("redis.accept_eviction", fixed("false")),
        ("redis.local_cache_sessions", fixed("0")),
        ("migrate_from.url", None),
        ("migrate_from.key_prefix", fixed("sesame:")),
        ("migrate_from.schema", None),
        (
            "migrate_from.cluster",
            either(vars.get("SESAME__MIGRATE_FROM__URL").is_some_and(|url| url.contains(',')), "true", "false"),
        ),
        ("log.format", either(production, "json", "text")),
        // The access log (one line a request) costs a third of a small
        // request's time; in production the proxy in front keeps one.
        ("log.filter", either(production, "info,sesame::access=off", "info")),
        ("account.product_name", fixed("sesame")),
        ("account.help_url", None),
        ("account.privacy_url", None),
        ("account.logo_file", None),
        ("rate_limit.login_per_ip", fixed("30/1m")),
        ("rate_limit.login_per_email", fixed("10/10m")),
        ("rate_limit.register_per_ip", fixed("20/1h")),
        ("rate_limit.invalid_cookie_per_ip", fixed("60/1m")),
    ]
}

/// The values a setting that names one of a few accepts.
pub(crate) fn accepted(key: &str) -> Option<&'static [&'static str]> {
    match key {
        "store.users" => Some(&["memory", "postgres"]),
        "store.sessions" => Some(&["memory", "redis", "postgres", "tiered"]),
        "log.format" => Some(&["text", "json"]),
        _ => None,
    }
}

/// What the default of a setting that follows something else follows, as
/// `sesame check-config` says it.
pub(crate) fn follows(key: &str) -> Option<&'static str> {
    match key {
        "redis.cluster" => Some("follows REDIS_URL"),
        "migrate_from.cluster" => Some("follows SESAME__MIGRATE_FROM__URL"),
        "password.max_concurrent_hashes" => Some("half the cores"),
        _ => None,
    }
}

/// The variable that sets `key`: `http.addr` is `SESAME__HTTP__ADDR`.
pub fn variable(key: &str) -> String {
    format!("SESAME__{}", key.replace('.', "__").to_uppercase())
}

/// The key a `SESAME__…` variable sets, if it is one.
pub(crate) fn key_of(variable: &str) -> Option<String> {
    Some(variable.strip_prefix("SESAME__")?.to_lowercase().replace("__", "."))
}

/// Every `SESAME__…` variable there is.
pub fn variables() -> Vec<String> {
    catalog(Environment::Mock, &HashMap::new()).iter().map(|(key, _)| variable(key)).collect()
}

/// A warning for each `SESAME__…` variable in `vars` that is no setting,
/// naming the closest one that is when it is close.
pub(crate) fn unknown(vars: &HashMap<String, String>) -> Vec<String> {
    let known = variables();
    let mut warnings: Vec<String> = vars
        .keys()
        .filter(|name| name.starts_with("SESAME__") && !known.contains(name))
        .map(|name| {
            let closest =
                known.iter().min_by_key(|known| distance(name, known)).filter(|known| distance(name, known) <= 3);
            match closest {
                Some(closest) => format!("{name} is not a setting and is ignored; did you mean {closest}?"),
                None => format!("{name} is not a setting and is ignored (docs/configuration.md lists them)"),
            }
        })
        .collect();
    warnings.sort();
    warnings
}

/// Writes the value of each variable that names one of a few as the settings
/// read it (`Tiered` and ` tiered ` are `tiered`), so that what
/// [`refused_value`] accepts is what the settings then read.
pub(crate) fn normalize_choices(vars: &mut HashMap<String, String>) {
    for (name, value) in vars.iter_mut() {
        if key_of(name).as_deref().and_then(accepted).is_some() {
            *value = value.trim().to_lowercase();
        }
    }
}

/// The refusal of a variable in `vars` whose value is not one its setting
/// accepts, naming the ones it does.
pub(crate) fn refused_value(vars: &HashMap<String, String>) -> Option<String> {
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    names.into_iter().find_map(|name| {
        let values = accepted(&key_of(name)?)?;
        let value = vars[name].trim().to_lowercase();
        (!values.contains(&value.as_str()))
            .then(|| format!("{name}={:?} is not accepted; use one of: {}", vars[name], values.join(", ")))
    })
}

/// `message` with the settings' keys written as the variables that set them.
pub(crate) fn in_variables(message: &str) -> String {
    let mut entries = catalog(Environment::Mock, &HashMap::new());
    // Longer keys first, so that `http.addr` does not eat `http.addr_x`.
    entries.sort_by_key(|(key, _)| std::cmp::Reverse(key.len()));
    entries.iter().fold(message.to_owned(), |message, (key, _)| {
        let name = variable(key);
        message
            .replace(&format!("key `{key}`"), &name)
            .replace(&format!("`{key}`"), &name)
            .replace(&format!("key {key}"), &name)
    })
}

/// Half the cores, at least one: the default of concurrent password hashes.
fn half_the_cores() -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    u64::try_from(cores / 2).unwrap_or(1).max(1)
}

/// The edit distance between `a` and `b` (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_variable_is_named_with_the_closest_setting() {
        let vars = HashMap::from([
            ("SESAME__HTTP__ADRR".to_owned(), "0.0.0.0:80".to_owned()),
            ("SESAME__NOTHING__LIKE_IT_AT_ALL".to_owned(), "1".to_owned()),
            ("SESAME__HTTP__ADDR".to_owned(), "0.0.0.0:80".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
        ]);
        let warnings = unknown(&vars);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("SESAME__HTTP__ADRR") && warnings[0].contains("did you mean SESAME__HTTP__ADDR?"));
        assert!(warnings[1].contains("SESAME__NOTHING__LIKE_IT_AT_ALL") && !warnings[1].contains("did you mean"));
    }

    #[test]
    fn a_value_out_of_a_few_is_refused_naming_the_variable_and_the_values() {
        let vars = HashMap::from([("SESAME__STORE__USERS".to_owned(), "mysql".to_owned())]);
        let refused = refused_value(&vars).expect("refused");
        assert_eq!(refused, r#"SESAME__STORE__USERS="mysql" is not accepted; use one of: memory, postgres"#);
        let mut fine = HashMap::from([("SESAME__STORE__SESSIONS".to_owned(), "Tiered".to_owned())]);
        assert_eq!(refused_value(&fine), None);
        normalize_choices(&mut fine);
        assert_eq!(fine["SESAME__STORE__SESSIONS"], "tiered", "read as the settings read it");
    }

    #[test]
    fn keys_in_messages_become_variables() {
        let message = "invalid type: string \"many\", expected u32 for key `http.max_connections`";
        assert_eq!(
            in_variables(message),
            "invalid type: string \"many\", expected u32 for SESAME__HTTP__MAX_CONNECTIONS"
        );
    }

    #[test]
    fn docs_configuration_lists_every_setting_with_its_defaults_in_each_environment_and_nothing_else() {
        let docs = include_str!("../../../docs/configuration.md");
        let rows: HashMap<&str, &str> = docs
            .lines()
            .filter_map(|line| {
                let mut cells = line.strip_prefix("| `")?.split(" | ");
                let name = cells.next()?.strip_suffix('`')?;
                Some((name, cells.next()?))
            })
            .collect();
        let environments = [Environment::Mock, Environment::Development, Environment::Production];
        let catalogs = environments.map(|environment| catalog(environment, &HashMap::new()));
        for (index, (key, _)) in catalogs[0].iter().enumerate() {
            let name = variable(key);
            let cell = rows.get(name.as_str()).unwrap_or_else(|| panic!("docs/configuration.md lacks {name}"));
            if follows(key).is_some() {
                continue;
            }
            let defaults =
                catalogs.each_ref().map(|entries| entries[index].1.as_deref().filter(|value| !value.is_empty()));
            for default in defaults.iter().flatten() {
                assert!(
                    cell.contains(&format!("`{default}`")),
                    "docs/configuration.md gives {name} the default {cell}, without `{default}`"
                );
            }
            // A default that differs names the environment where it does.
            for (environment, default) in environments.iter().zip(&defaults) {
                if defaults.iter().filter(|other| *other == default).count() == 1 {
                    assert!(cell.contains(environment.name()), "{name}'s default in {environment}: {cell}");
                }
            }
        }
        let known = variables();
        for name in rows.keys().filter(|name| name.starts_with("SESAME__")) {
            assert!(known.iter().any(|known| known == name), "docs/configuration.md lists {name}, which is no setting");
        }
    }
}
