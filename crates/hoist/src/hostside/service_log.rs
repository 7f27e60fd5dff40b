//! The service logs of a deploy root, `logs/<release>.log`: written a record per line
//! (`hoist_core::log_line`: time, stream, text) by `ServiceLogWriter`, rotated at a size cap
//! (`NAME.log` → `NAME.log.1` → … → `NAME.log.<keep>`, the oldest dropped), and read back
//! — current and rotated files, older raw logs too — by `reader::read_logs`, with a cursor
//! that follows a file through its renames.

mod lines;
mod log_files;
pub mod reader;
#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hoist_core::log_line::{format_record, record_texts};
use jiff::Timestamp;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

pub use hoist_core::log_line::LogStream;
pub use reader::read_logs;

/// Service logs are readable by the owner's group at most: they may hold anything the
/// service prints.
const LOG_MODE: u32 = 0o640;
/// How often a writer checks that its file is still the one at its path (another writer
/// of the same log may have rotated it).
const RECHECK: Duration = Duration::from_secs(1);

/// Appends records to one log, rotating it when a record would take it past `max_bytes`.
/// Several writers of one log (two instances of one release) may share it: rotation is
/// done by one of them under a lock, and the others follow the path to the new file.
#[derive(Debug)]
pub struct ServiceLogWriter {
    path: PathBuf,
    file: File,
    identity: (u64, u64),
    size: u64,
    max_bytes: u64,
    keep: u32,
    checked: Instant,
}

impl ServiceLogWriter {
    /// Opens (creating it, 0640) the log at `path` for appending; its directory is created
    /// if missing. A file that is more open than 0640 is tightened.
    pub fn open(path: &Path, max_bytes: u64, keep: u32) -> Result<Self> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        let (file, identity, size) = open_log(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            identity,
            size,
            max_bytes,
            keep,
            checked: Instant::now(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` (one line of output, its line break optional) as one record, or as
    /// several when it is longer than a record holds.
    pub fn write_line(&mut self, stream: LogStream, text: &[u8], at: Timestamp) -> Result<()> {
        if self.checked.elapsed() >= RECHECK {
            self.follow_path()?;
        }
        for piece in record_texts(text) {
            let record = format_record(at, stream, &piece);
            let length = record.len() as u64;
            // Another writer of this log may have appended since.
            if let Ok(metadata) = self.file.metadata() {
                self.size = metadata.len();
            }
            if self.would_overflow(length) {
                self.rotate(length)?;
            }
            self.file
                .write_all(record.as_bytes())
                .map_err(|e| Error::io("write the log", &self.path, e))?;
            self.size += length;
        }
        Ok(())
    }

    fn would_overflow(&self, length: u64) -> bool {
        self.size > 0 && self.size.saturating_add(length) > self.max_bytes
    }

    /// Reopens the path when the file there is no longer ours (rotated by another writer,
    /// or removed by hand).
    fn follow_path(&mut self) -> Result<()> {
        self.checked = Instant::now();
        let current = fs::metadata(&self.path)
            .ok()
            .map(|metadata| (metadata.dev(), metadata.ino()));
        if current != Some(self.identity) {
            (self.file, self.identity, self.size) = open_log(&self.path)?;
        }
        Ok(())
    }

    /// `NAME.log.<keep-1>` → `NAME.log.<keep>` (dropping that one) … `NAME.log` →
    /// `NAME.log.1`, then a new `NAME.log`. Each step is a rename, so whenever it stops the
    /// current lines are in `NAME.log` or `NAME.log.1`. `length`: the record to make room for.
    fn rotate(&mut self, length: u64) -> Result<()> {
        let locking = self
            .file
            .try_clone()
            .map_err(|e| Error::io("open the log", &self.path, e))?;
        let _lock = Flock::lock(locking, FlockArg::LockExclusive).map_err(|(_, errno)| {
            Error::internal(format!("cannot lock the log `{}`", self.path.display())).cause(errno)
        })?;
        // Another writer may have rotated while this one waited for the lock.
        self.follow_path()?;
        if !self.would_overflow(length) {
            return Ok(());
        }
        let rotated = |index: u32| rotated_path(&self.path, index);
        let rename = |from: &Path, to: &Path| match fs::rename(from, to) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                Err(Error::io("rotate the log", from, error))
            }
            _ => Ok(()),
        };
        if self.keep == 0 {
            remove_if_present(&self.path)?;
        } else {
            // Left over from a larger `log_keep`.
            let mut extra = self.keep + 1;
            while rotated(extra).exists() {
                remove_if_present(&rotated(extra))?;
                extra += 1;
            }
            for index in (1..self.keep).rev() {
                rename(&rotated(index), &rotated(index + 1))?;
            }
            rename(&self.path, &rotated(1))?;
        }
        (self.file, self.identity, self.size) = open_log(&self.path)?;
        if let Some(dir) = self.path.parent() {
            // The renames last through a crash once the directory is synced.
            let _ = File::open(dir).and_then(|dir| dir.sync_all());
        }
        Ok(())
    }
}

/// `NAME.log.<index>`.
pub fn rotated_path(path: &Path, index: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

fn open_log(path: &Path) -> Result<(File, (u64, u64), u64)> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(LOG_MODE)
        .open(path)
        .map_err(|e| Error::io("open the log", path, e))?;
    let metadata = file
        .metadata()
        .map_err(|e| Error::io("read the log's metadata", path, e))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & !LOG_MODE != 0 {
        file.set_permissions(fs::Permissions::from_mode(mode & LOG_MODE))
            .map_err(|e| Error::io("restrict the log's permissions", path, e))?;
    }
    let identity = (metadata.dev(), metadata.ino());
    Ok((file, identity, metadata.len()))
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            Err(Error::io("remove the old log", path, error))
        }
        _ => Ok(()),
    }
}
