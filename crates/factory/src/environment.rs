//! Which environment the service runs in.

use std::{fmt, str::FromStr};

use serde::Deserialize;

/// The environment, from `SESSION_ENVIRONMENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// In-memory stores, zero configuration: the default.
    #[default]
    Mock,
    /// Local PostgreSQL and Redis, from `.env.development`.
    Development,
    /// Real stores for automated tests, from `.env.test`.
    Test,
    /// Real stores, strict checks, secure cookies, JSON logs.
    Production,
}

/// `SESSION_ENVIRONMENT` holds something that is not an environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SESSION_ENVIRONMENT={0:?} is not one of mock, development, test, production")]
pub struct EnvironmentError(String);

impl Environment {
    /// The variable that selects the environment.
    pub const VARIABLE: &str = "SESSION_ENVIRONMENT";

    /// The environment `value` names; unset or empty means [`Environment::Mock`].
    pub fn from_variable(value: Option<&str>) -> Result<Self, EnvironmentError> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::Mock),
            Some(name) => name.parse(),
        }
    }

    /// The environment's name, as `SESSION_ENVIRONMENT` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mock => "mock",
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

impl FromStr for Environment {
    type Err = EnvironmentError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "mock" => Ok(Self::Mock),
            "development" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "production" => Ok(Self::Production),
            _ => Err(EnvironmentError(name.to_owned())),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_or_empty_means_mock() {
        assert_eq!(Environment::from_variable(None), Ok(Environment::Mock));
        assert_eq!(Environment::from_variable(Some(" ")), Ok(Environment::Mock));
        assert_eq!(Environment::from_variable(Some("Production")), Ok(Environment::Production));
    }

    #[test]
    fn an_unknown_name_is_refused_naming_the_variable() {
        let err = Environment::from_variable(Some("staging")).unwrap_err();
        assert!(err.to_string().contains("SESSION_ENVIRONMENT=\"staging\""), "{err}");
    }
}
