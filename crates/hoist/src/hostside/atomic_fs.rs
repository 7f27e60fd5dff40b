//! Crash-safe file operations for the host layout: write-then-rename files and symlinks,
//! directory syncs, and tree removal that copes with read-only directories.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// A name no other writer picks: this process, a counter, and `what` for reading.
pub fn temp_suffix(what: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{what}-{}-{count}", std::process::id())
}

pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".{}.tmp", temp_suffix(&name)))
}

/// Writes `value` as JSON to `path` atomically (0644).
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::internal(format!("cannot encode `{}`", path.display())).cause(e))?;
    text.push(b'\n');
    write_file_atomic(path, &text, 0o644)
}

/// Writes `contents` to a temporary file beside `path`, syncs it and renames it over `path`.
pub fn write_file_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let temp = temp_path(path);
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    written.map_err(|error| {
        let _ = fs::remove_file(&temp);
        Error::io("write", path, error)
    })
}

/// Points the symlink `link` at `target` by creating it under a temporary name and renaming
/// it over `link`: readers see the old target or the new one, never no link.
pub fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    let temp = temp_path(link);
    std::os::unix::fs::symlink(target, &temp).map_err(|e| Error::io("create", &temp, e))?;
    fs::rename(&temp, link).map_err(|error| {
        let _ = fs::remove_file(&temp);
        Error::io("replace", link, error)
    })
}

pub fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != ErrorKind::NotFound => Err(Error::io("remove", path, error)),
        _ => Ok(()),
    }
}

/// Syncs a directory so renames in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let handle = fs::File::open(dir).map_err(|e| Error::io("open", dir, e))?;
    handle.sync_all().map_err(|e| Error::io("sync", dir, e))
}

/// Deletes a file or a tree, also one with read-only directories (a release keeps the
/// source's modes); gone already is fine.
pub fn remove_tree(path: &Path) -> Result<()> {
    let removed = match path.symlink_metadata() {
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
        Err(error) => Err(error),
        Ok(metadata) if !metadata.is_dir() => fs::remove_file(path),
        Ok(_) => fs::remove_dir_all(path),
    };
    match removed {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
        Err(error) if error.kind() == ErrorKind::PermissionDenied => {
            for entry in walkdir::WalkDir::new(path).into_iter().flatten() {
                if entry.file_type().is_dir() {
                    let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o700));
                }
            }
            fs::remove_dir_all(path).map_err(|e| Error::io("remove", path, e))
        }
        Err(error) => Err(Error::io("remove", path, error)),
    }
}

/// Whether the open `file` is still the one at `path`: not removed or replaced since it was
/// opened (a lock file taken from under its holder, say).
pub fn is_still_named(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}
