//! Where each setting's value came from, for `sesame check-config`: one line
//! per setting, named as docs/configuration.md names it (the seed's
//! `SESSION_MAX_AGE_SECONDS`, not its `SESAME__` alias), its value (URLs with
//! only their password hidden) and its source — the catalog's default, the
//! environment's `.env.{environment}` file, the process environment, or the
//! file a `…_FILE` variable names.
//!
//! It layers the variables exactly as [`Settings::load`] does, from the same
//! pieces, so what it reports is what the service reads.

use std::{collections::HashMap, fmt, path::Path};

use crate::{
    Environment, FactoryError, Settings, SettingsError, catalog, redact_url,
    settings::{SECRET_VARIABLES, SEED_NAMES, env_file, read_secret_files},
};

/// Where one setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default, the same in every environment.
    Default,
    /// The built-in default of this environment (it differs between them).
    DefaultFor(Environment),
    /// A built-in default that follows something else (`follows REDIS_URL`).
    DefaultFollowing(&'static str),
    /// The environment's dotenv file, by name (`.env.development`).
    EnvFile(String),
    /// The process environment.
    Environment,
    /// The file a `…_FILE` variable names, by that variable (`DATABASE_URL_FILE`).
    SecretFile(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::DefaultFor(environment) => write!(f, "default ({environment})"),
            Self::DefaultFollowing(what) => write!(f, "default ({what})"),
            Self::EnvFile(name) => f.write_str(name),
            Self::Environment => f.write_str("environment"),
            Self::SecretFile(variable) => write!(f, "file ({variable})"),
        }
    }
}

/// One setting as `sesame check-config` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingLine {
    /// The variable that sets it, as docs/configuration.md writes it.
    pub variable: String,
    /// Its value; a URL with its password hidden; `None` when unset.
    pub value: Option<String>,
    /// Where the value came from.
    pub source: Source,
}

/// Every setting of the environment `SESSION_ENVIRONMENT` names, with its
/// value and source, read from `.env.{environment}` (found from `dir` up) and
/// the process environment — after checking that the settings load, so that
/// nothing is reported that the service would refuse.
pub fn explain_process_env(dir: &Path) -> Result<Vec<SettingLine>, FactoryError> {
    let chosen = std::env::var(Environment::VARIABLE).ok();
    let environment = Environment::from_variable(chosen.as_deref())?;
    Ok(explain(environment, dir, std::env::vars().collect())?)
}

/// [`explain_process_env`] with `process` standing for the process environment.
pub fn explain(
    environment: Environment,
    dir: &Path,
    process: HashMap<String, String>,
) -> Result<Vec<SettingLine>, SettingsError> {
    let (file_name, file) = env_file(environment, dir)?;
    let mut sources: HashMap<String, Source> =
        file.keys().map(|name| (name.clone(), Source::EnvFile(file_name.clone()))).collect();
    sources.extend(process.keys().map(|name| (name.clone(), Source::Environment)));
    let chosen = process.get(Environment::VARIABLE).is_some_and(|value| !value.trim().is_empty());
    let mut vars = file;
    vars.extend(process);
    Settings::from_vars(environment, vars.clone())?;

    let from_files: Vec<String> = SECRET_VARIABLES
        .iter()
        .map(|name| format!("{name}_FILE"))
        .filter(|file| vars.get(file).is_some_and(|path| !path.is_empty()))
        .collect();
    read_secret_files(&mut vars)?;
    for file in from_files {
        sources.insert(file.trim_end_matches("_FILE").to_owned(), Source::SecretFile(file));
    }
    catalog::normalize_choices(&mut vars);

    let set =
        |name: &str| vars.get(name).filter(|value| !value.is_empty()).map(|value| (name.to_owned(), value.clone()));
    let secret = |name: &str| SECRET_VARIABLES.contains(&name);
    let line = |variable: &str, given: Option<(String, String)>, default: Option<String>, source: Source| {
        let (value, source) = match given {
            Some((name, value)) => (Some(value), sources.get(&name).cloned().unwrap_or(Source::Environment)),
            None => (default, source),
        };
        let value = if secret(variable) { value.map(|url| redact_url(&url)) } else { value };
        SettingLine { variable: variable.to_owned(), value, source }
    };

    let mut lines = vec![SettingLine {
        variable: Environment::VARIABLE.to_owned(),
        value: Some(environment.to_string()),
        source: if chosen { Source::Environment } else { Source::Default },
    }];
    for (seed, _) in SEED_NAMES.iter().filter(|(_, key)| !key.contains('.')) {
        lines.push(line(seed, set(seed), None, Source::Default));
    }
    let elsewhere = [Environment::Mock, Environment::Development, Environment::Production]
        .map(|other| catalog::catalog(other, &HashMap::new()));
    for (index, (key, default)) in catalog::catalog(environment, &vars).into_iter().enumerate() {
        let alias = catalog::variable(key);
        let seed = SEED_NAMES.iter().find(|(_, seed_key)| *seed_key == key).map(|(seed, _)| *seed);
        let given = seed.and_then(set).or_else(|| set(&alias));
        let source = match catalog::follows(key) {
            Some(what) => Source::DefaultFollowing(what),
            None if elsewhere.iter().any(|other| other[index].1 != default) => Source::DefaultFor(environment),
            None => Source::Default,
        };
        lines.push(line(seed.unwrap_or(&alias), given, default, source));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(environment: Environment, pairs: &[(&str, &str)]) -> HashMap<String, SettingLine> {
        let dir = std::env::temp_dir().join(format!("sesame-explain-none-{}", std::process::id()));
        let vars = pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        let lines = explain(environment, &dir, vars).expect("settings that load");
        lines.into_iter().map(|line| (line.variable.clone(), line)).collect()
    }

    #[test]
    fn every_setting_is_named_as_the_docs_name_it_with_its_default() {
        let lines = explained(Environment::Mock, &[]);
        assert_eq!(lines.len(), 3 + catalog::variables().len(), "one line per setting, the alias not twice");
        assert!(
            lines.contains_key("SESSION_MAX_AGE_SECONDS") && !lines.contains_key("SESAME__SESSION__MAX_AGE_SECONDS")
        );
        let addr = &lines["SESAME__HTTP__ADDR"];
        assert_eq!((addr.value.as_deref(), &addr.source), (Some("127.0.0.1:3000"), &Source::Default));
        assert_eq!(lines["SESSION_ENVIRONMENT"].value.as_deref(), Some("mock"));
        assert_eq!(lines["DATABASE_URL"].value, None, "unset");
        assert_eq!(lines["SESAME__STORE__USERS"].source.to_string(), "default (mock)", "it differs per environment");
        assert_eq!(lines["SESAME__REDIS__CLUSTER"].source.to_string(), "default (follows REDIS_URL)");
    }

    #[test]
    fn values_from_the_environment_the_env_file_and_a_secret_file_say_so_and_urls_hide_only_the_password() {
        let dir = std::env::temp_dir().join(format!("sesame-explain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(".env.development"),
            "SESSION_MAX_AGE_SECONDS=900\nSESAME__HTTP__ADDR=127.0.0.1:4000\n",
        )
        .unwrap();
        let secret = dir.join("redis_url");
        std::fs::write(&secret, "redis://:hunter2@cache.internal:6379/0\n").unwrap();
        let process = HashMap::from([
            ("SESSION_ENVIRONMENT".to_owned(), "development".to_owned()),
            ("SESAME__HTTP__ADDR".to_owned(), "127.0.0.1:5000".to_owned()),
            ("DATABASE_URL".to_owned(), "postgres://sesame:hunter2@db.internal:5432/sesame".to_owned()),
            ("REDIS_URL_FILE".to_owned(), secret.display().to_string()),
        ]);
        let lines = explain(Environment::Development, &dir, process).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let line = |name: &str| lines.iter().find(|line| line.variable == name).unwrap_or_else(|| panic!("{name}"));
        let shown = |name: &str| (line(name).value.clone().unwrap_or_default(), line(name).source.to_string());

        assert_eq!(shown("SESSION_ENVIRONMENT"), ("development".into(), "environment".into()));
        assert_eq!(shown("SESSION_MAX_AGE_SECONDS"), ("900".into(), ".env.development".into()));
        assert_eq!(shown("SESAME__HTTP__ADDR"), ("127.0.0.1:5000".into(), "environment".into()), "the process wins");
        assert_eq!(
            shown("DATABASE_URL"),
            ("postgres://sesame:***@db.internal:5432/sesame".into(), "environment".into()),
            "host and database shown, the password not"
        );
        assert_eq!(shown("REDIS_URL"), ("redis://:***@cache.internal:6379/0".into(), "file (REDIS_URL_FILE)".into()));
        assert_eq!(shown("SESAME__STORE__SESSIONS"), ("tiered".into(), "default (development)".into()));
        assert!(!format!("{lines:?}").contains("hunter2"));
    }

    #[test]
    fn settings_the_service_would_refuse_are_refused_here_too() {
        let dir = std::env::temp_dir();
        let process = HashMap::from([("SESAME__STORE__USERS".to_owned(), "mysql".to_owned())]);
        let refused = explain(Environment::Mock, &dir, process).unwrap_err().to_string();
        assert!(refused.contains("SESAME__STORE__USERS"), "{refused}");
    }
}
