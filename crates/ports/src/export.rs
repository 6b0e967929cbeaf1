//! Reading a whole store page by page, and writing records another store
//! exported: what moving users and sessions between stores takes of a port.

/// Where an export left off: opaque to its caller, meaningful only to the
/// store that made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportCursor(Option<String>);

impl ExportCursor {
    /// The start of an export.
    pub fn start() -> Self {
        Self(None)
    }

    /// A position, as the store that makes it writes it.
    pub fn at(position: impl Into<String>) -> Self {
        Self(Some(position.into()))
    }

    /// The position; `None` at the start.
    pub fn position(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// One page of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPage<T> {
    /// The records of this page; may be empty while `next` is not.
    pub records: Vec<T>,
    /// Where the next page starts; `None` when the export is done.
    pub next: Option<ExportCursor>,
}

/// What an import did with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Imported {
    /// The store did not hold it, and now does.
    Created,
    /// The store held an older version of it (a session last used earlier),
    /// and now holds this one.
    Updated,
    /// The store holds it already, as new or newer; or it ended it; or the
    /// record is expired. Nothing changed.
    Skipped,
}
