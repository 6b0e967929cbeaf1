//! The one error type every port returns.

/// A boxed error from an adapter's own error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong behind a port.
///
/// Adapters turn their own errors (sqlx, redis, …) into these inside the adapter:
/// a unique violation on email becomes [`PortError::EmailTaken`], an unreachable
/// server becomes [`PortError::Unavailable`]. No port signature names a driver type.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Another user already has this email address (compared after normalisation).
    #[error("email address is already taken")]
    EmailTaken,
    /// The record to change does not exist.
    #[error("record not found")]
    NotFound,
    /// The call's arguments cannot be used (a malformed export cursor).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store could not be reached or failed to answer; nothing was changed
    /// unless the method's contract says otherwise.
    #[error("{backend} store is unavailable")]
    Unavailable {
        /// Which backend failed, for logs and metrics (`memory`, `postgres`, `redis`).
        backend: &'static str,
        /// The adapter's own error. It must not carry secrets such as passwords in URLs.
        #[source]
        source: BoxError,
    },
    /// The connection broke before the answer came (the server restarted, or
    /// dropped or killed the connection): the call may or may not have landed.
    /// Trying an idempotent call once more, on a new connection, is safe.
    #[error("{backend} store dropped the connection")]
    ConnectionLost {
        /// Which backend failed, for logs and metrics.
        backend: &'static str,
        /// The adapter's own error, without secrets.
        #[source]
        source: BoxError,
    },
}

impl PortError {
    /// An [`PortError::Unavailable`] from `backend`'s own error.
    pub fn unavailable(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Unavailable { backend, source: source.into() }
    }

    /// A [`PortError::ConnectionLost`] from `backend`'s own error.
    pub fn connection_lost(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::ConnectionLost { backend, source: source.into() }
    }

    /// Whether the store failed (as opposed to answering that the request
    /// cannot be done, like [`PortError::EmailTaken`]).
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::ConnectionLost { .. })
    }

    /// This error and its sources on one line, for a log (never for a response
    /// body: it may name internals).
    pub fn cause_chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}
