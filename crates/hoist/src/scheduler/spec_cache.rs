//! The spec as the scheduler runs commands with it: the one `hoist serve` loaded at start,
//! until the file changes (its length or modification time); then it is read again, so a
//! command runs the spec as it is at its time, without re-parsing a large spec (or keeping
//! a second copy of it) for every command.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::app::{LoadedSpec, SpecProblems, load_spec_reporting};
use crate::error::Result;

#[derive(Debug)]
pub struct SpecCache {
    path: PathBuf,
    /// The file as it was when the daemon loaded its spec.
    at_start: Option<FileStamp>,
    reloaded: Mutex<Option<(FileStamp, Arc<LoadedSpec>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl SpecCache {
    /// Call right after the daemon loaded the spec at `path`.
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            at_start: stamp(path),
            reloaded: Mutex::new(None),
        }
    }

    /// `None`: the file is as it was at start (use the daemon's spec); else the spec read
    /// again since.
    pub fn changed(&self) -> Result<Option<Arc<LoadedSpec>>> {
        let now = stamp(&self.path);
        if now.is_some() && now == self.at_start {
            return Ok(None);
        }
        let mut reloaded = self.reloaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(now), Some((cached, spec))) = (now, reloaded.as_ref())
            && *cached == now
        {
            return Ok(Some(Arc::clone(spec)));
        }
        // Its problems go into a command's one-line error: all of them on that line.
        let spec = Arc::new(load_spec_reporting(
            Some(&self.path),
            SpecProblems::OneLine,
        )?);
        if let Some(now) = now {
            *reloaded = Some((now, Arc::clone(&spec)));
        }
        Ok(Some(spec))
    }
}

fn stamp(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|meta| FileStamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}
