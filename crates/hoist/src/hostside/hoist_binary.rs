//! Which hoist binary the host-side processes run — instance monitors, the supervisor, the
//! boot entry: the one installed in the root (`.hoist/bin/hoist`, remote hosts), else the
//! running one (`local:` roots). A binary replaced while running shows as `… (deleted)` in
//! `/proc/self/exe`; that path cannot be started, so it is refused with a hint.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::hostside::host_call::installed_binary;

pub fn hoist_binary(root: &Path) -> Result<PathBuf> {
    let installed = installed_binary(root);
    if installed.is_file() {
        return Ok(installed);
    }
    running_binary()
}

#[cfg(not(test))]
fn running_binary() -> Result<PathBuf> {
    let path = std::env::current_exe()
        .map_err(|e| Error::internal("cannot find the running hoist binary").cause(e))?;
    if path.to_string_lossy().ends_with(" (deleted)") || !path.is_file() {
        return Err(Error::failed(format!(
            "the running hoist binary `{}` was replaced or deleted",
            path.display()
        ))
        .hint("run the command again with the new binary"));
    }
    Ok(path)
}

/// Unit tests run inside the test harness, which must never be started as `hoist`: they use
/// the `hoist` binary cargo builds beside it (`target/<profile>/hoist`).
#[cfg(test)]
fn running_binary() -> Result<PathBuf> {
    let harness = std::env::current_exe()
        .map_err(|e| Error::internal("cannot find the test binary").cause(e))?;
    let profile_dir = harness
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| Error::internal("the test binary has no profile directory"))?;
    let binary = profile_dir.join("hoist");
    match binary.is_file() {
        true => Ok(binary),
        false => Err(Error::internal(format!(
            "unit tests that start instances need `{}`",
            binary.display()
        ))
        .hint("build it first: `cargo build -p hoist`")),
    }
}
