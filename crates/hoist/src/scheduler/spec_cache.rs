//! The spec as the scheduler runs commands with it: read again whenever the file changed
//! (its length or modification time), so a command runs the spec as it is at its time,
//! without re-parsing a large spec for every command.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::cli::session::{LoadedSpec, load_spec};
use crate::error::Result;

#[derive(Debug)]
pub struct SpecCache {
    path: PathBuf,
    loaded: Mutex<Option<(FileStamp, Arc<LoadedSpec>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl SpecCache {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            loaded: Mutex::new(None),
        }
    }

    pub fn get(&self) -> Result<Arc<LoadedSpec>> {
        let stamp = std::fs::metadata(&self.path).ok().map(|meta| FileStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        });
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(stamp), Some((cached, spec))) = (stamp, loaded.as_ref())
            && *cached == stamp
        {
            return Ok(Arc::clone(spec));
        }
        let spec = Arc::new(load_spec(Some(&self.path))?);
        if let Some(stamp) = stamp {
            *loaded = Some((stamp, Arc::clone(&spec)));
        }
        Ok(spec)
    }
}
