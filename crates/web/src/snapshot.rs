//! The in-memory stores' snapshot (`SESAME__STORE__MEMORY_SNAPSHOT_DIR`):
//! `users.jsonl` and `sessions.jsonl` in the portable format, written when the
//! service stops and read when it starts, so that a restart of the zero-config
//! default logs nobody out — and so that `sesame users import` and `sesame
//! sessions import` can bring a team's mock data into production, every
//! cookie still working.

use std::{
    io::{self, BufReader, BufWriter},
    path::Path,
    sync::Arc,
    time::Duration,
};

use sesame_core::ports::{SessionStore, UserRepository};

use crate::transfer::{self, Progress, Store};

/// The two stores a snapshot holds.
#[derive(Clone)]
pub struct Stores {
    /// The user store.
    pub users: Arc<dyn UserRepository>,
    /// The session store.
    pub sessions: Arc<dyn SessionStore>,
}

impl Stores {
    fn each(&self) -> [(&'static str, Store); 2] {
        [(USERS, Store::Users(Arc::clone(&self.users))), (SESSIONS, Store::Sessions(Arc::clone(&self.sessions)))]
    }
}

const USERS: &str = "users.jsonl";
const SESSIONS: &str = "sessions.jsonl";

/// Reads the snapshot in `dir` into the stores, users first; a missing file
/// is an empty store (the first start). Lines that cannot be read are
/// counted and logged, and the rest is loaded.
pub async fn load(dir: &Path, stores: &Stores) -> Result<(), transfer::TransferError> {
    for (file, store) in stores.each() {
        let path = dir.join(file);
        let input = match std::fs::File::open(&path) {
            Ok(input) => input,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io::Error::new(err.kind(), format!("{}: {err}", path.display())).into()),
        };
        let mut progress = Progress::new(format!("loading {}", path.display()), Duration::from_secs(5));
        let tally = transfer::import(&store, &mut BufReader::new(input), false, &mut progress).await?;
        if tally.failed > 0 {
            tracing::warn!(file = %path.display(), %tally, "snapshot loaded, but some records could not be");
        } else {
            tracing::info!(file = %path.display(), %tally, "snapshot loaded");
        }
    }
    Ok(())
}

/// Writes the stores into `dir`: each file is written beside its place and
/// renamed over it, so a crash mid-write leaves the previous snapshot whole.
/// Readable by the owner only: the users file holds password hashes.
pub async fn save(dir: &Path, stores: &Stores) -> Result<(), transfer::TransferError> {
    std::fs::create_dir_all(dir)?;
    for (file, store) in stores.each() {
        let (path, partial) = (dir.join(file), dir.join(format!("{file}.partial")));
        let mut out = BufWriter::new(transfer::private_file(&partial)?);
        let mut progress = Progress::new(format!("saving {}", path.display()), Duration::from_secs(5));
        let written = transfer::export(&store, &mut out, &mut progress).await?;
        out.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()?;
        std::fs::rename(&partial, &path)?;
        tracing::info!(file = %path.display(), records = written, "snapshot saved");
    }
    Ok(())
}
