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
}

impl PortError {
    /// An [`PortError::Unavailable`] from `backend`'s own error.
    pub fn unavailable(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Unavailable { backend, source: source.into() }
    }
}
