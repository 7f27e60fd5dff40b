//! The host's lock file, `.hoist/lock`: JSON with owner, pid, machine, time and message.
//! Taken with create-exclusive; a dead holder's lock (same machine, pid gone or reused) is
//! reclaimed under a short `flock` so two reclaimers cannot both win.

use std::path::Path;

use crate::error::{Error, Result};
use crate::ports::host::{LockHolder, LockOutcome};

/// Takes the lock of the deploy root at `root` for `holder`.
pub fn acquire(root: &Path, holder: &LockHolder) -> Result<LockOutcome> {
    let _ = (root, holder);
    Err(Error::internal("lock files are not implemented yet"))
}

/// Drops the lock if `holder` holds it (same pid, machine and start time).
pub fn release(root: &Path, holder: &LockHolder) -> Result<()> {
    let _ = (root, holder);
    Err(Error::internal("lock files are not implemented yet"))
}
