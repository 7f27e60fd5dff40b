//! The no-rsync way to send a release's needed files: a framed stream of our own. Each file
//! is a JSON header line (relative path, mode, size, modification time) followed by exactly
//! `size` bytes; an end frame closes the stream, so a cut-off stream is told apart from a
//! complete one. Both ends go file by file through small buffers: a big file is never held
//! in memory.
//!
//! The receiving end writes into a release being uploaded, which shares inodes with `live`:
//! every file is created new (`create_new`), never opened if it exists, and only under real
//! directories of the release.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use hoist_core::{ReleaseId, ReleaseStatus};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::layout::Layout;
use crate::hostside::release_writer::is_plain_relative;

/// The first line of every stream: what it is, and which version of the framing.
const MAGIC: &[u8] = b"hoist-file-stream 1\n";
/// A header line longer than this is not a header.
const MAX_HEADER: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
enum Frame {
    File {
        path: String,
        mode: u32,
        size: u64,
        /// Seconds and nanoseconds since the Unix epoch.
        modified: (u64, u32),
    },
    End {
        files: u64,
    },
}

/// Writes the files `paths` (relative to `local_root`) to `out` as a stream.
pub fn write_stream(local_root: &Path, paths: &[String], out: &mut dyn Write) -> Result<()> {
    let write_error =
        |error: io::Error| Error::internal("cannot send the file stream").cause(error);
    out.write_all(MAGIC).map_err(write_error)?;
    for path in paths {
        if !is_plain_relative(path) {
            return Err(Error::internal(format!(
                "cannot send `{path}`: not a plain relative path"
            )));
        }
        let full = local_root.join(path);
        let file = File::open(&full).map_err(|e| Error::io("open", &full, e))?;
        let metadata = file.metadata().map_err(|e| Error::io("read", &full, e))?;
        let modified = metadata
            .modified()
            .ok()
            .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
            .unwrap_or_default();
        let size = metadata.len();
        write_frame(
            out,
            &Frame::File {
                path: path.clone(),
                mode: metadata.permissions().mode() & 0o7777,
                size,
                modified: (modified.as_secs(), modified.subsec_nanos()),
            },
        )?;
        let sent = io::copy(&mut file.take(size), out).map_err(write_error)?;
        if sent != size {
            return Err(Error::failed(format!(
                "`{}` changed while it was uploaded",
                full.display()
            ))
            .hint("release again once the build has finished writing"));
        }
    }
    write_frame(
        out,
        &Frame::End {
            files: paths.len() as u64,
        },
    )?;
    out.flush().map_err(write_error)
}

fn write_frame(out: &mut dyn Write, frame: &Frame) -> Result<()> {
    let mut line = serde_json::to_vec(frame)
        .map_err(|e| Error::internal("cannot encode a stream header").cause(e))?;
    line.push(b'\n');
    out.write_all(&line)
        .map_err(|e| Error::internal("cannot send the file stream").cause(e))
}

/// Reads a stream from `input` into `releases/<id>/`, which must be a release being
/// uploaded. Returns the bytes written. Refuses paths that are not plain and relative, or
/// that lead through anything but real directories of the release; never replaces a file.
pub fn receive_stream(layout: &Layout, id: &ReleaseId, input: &mut dyn Read) -> Result<u64> {
    let status = layout.read_info(id)?.status;
    let release_dir = layout.release_dir(id);
    if status != ReleaseStatus::Uploading
        || !layout.meta_dir(id).is_dir()
        || !is_real_dir(&release_dir)
    {
        return Err(Error::failed(format!(
            "release `{id}` is not being uploaded; not receiving files into it"
        )));
    }
    let mut input = BufReader::new(input);
    let magic = read_line(&mut input)?;
    if magic.as_deref() != Some(MAGIC) {
        return Err(Error::failed("the input is not a hoist file stream"));
    }
    let mut bytes = 0;
    let mut files = 0;
    loop {
        let Some(line) = read_line(&mut input)? else {
            return Err(Error::failed(format!(
                "the file stream ended after {files} files, before its end"
            ))
            .hint("the connection was probably cut; upload again"));
        };
        let frame: Frame = serde_json::from_slice(&line)
            .map_err(|e| Error::failed("the file stream has a bad header").cause(e))?;
        match frame {
            Frame::End { files: sent } if sent == files => return Ok(bytes),
            Frame::End { files: sent } => {
                return Err(Error::failed(format!(
                    "the file stream says it sent {sent} files, but {files} arrived"
                )));
            }
            Frame::File {
                path,
                mode,
                size,
                modified,
            } => {
                let modified = SystemTime::UNIX_EPOCH + Duration::new(modified.0, modified.1);
                let header = Header {
                    path: &path,
                    mode,
                    size,
                    modified,
                };
                receive_file(&release_dir, &header, &mut input)?;
                bytes += size;
                files += 1;
            }
        }
    }
}

/// One file of the stream, as its header announced it.
struct Header<'a> {
    path: &'a str,
    mode: u32,
    size: u64,
    modified: SystemTime,
}

/// Creates `release_dir/<path>` new and fills it with the next `size` bytes of `input`.
fn receive_file(release_dir: &Path, header: &Header<'_>, input: &mut dyn Read) -> Result<()> {
    let Header {
        path,
        mode,
        size,
        modified,
    } = *header;
    if !is_plain_relative(path) {
        return Err(Error::failed(format!(
            "the file stream names `{path}`, which is not a plain relative path"
        )));
    }
    let target = release_dir.join(path);
    let mut parent = release_dir.to_path_buf();
    let (parents, _) = path.rsplit_once('/').unwrap_or(("", path));
    for part in parents.split('/').filter(|part| !part.is_empty()) {
        parent.push(part);
        if !is_real_dir(&parent) {
            return Err(Error::failed(format!(
                "the file stream names `{path}`, but `{}` is not a directory of the release",
                parent.display()
            )));
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o777)
        .open(&target)
        .map_err(|e| Error::io("create", &target, e))?;
    let written =
        io::copy(&mut input.take(size), &mut file).map_err(|e| Error::io("write", &target, e))?;
    if written != size {
        return Err(Error::failed(format!(
            "the file stream ended inside `{path}` ({written} of {size} bytes)"
        ))
        .hint("the connection was probably cut; upload again"));
    }
    file.set_modified(modified)
        .map_err(|e| Error::io("set the time of", &target, e))?;
    file.set_permissions(fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| Error::io("set the mode of", &target, e))
}

fn is_real_dir(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|m| m.is_dir())
}

/// The next line, with its `\n`; `None` at the end of the input.
fn read_line(input: &mut impl BufRead) -> Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let read = input
        .take(MAX_HEADER)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::internal("cannot read the file stream").cause(e))?;
    match read {
        0 => Ok(None),
        _ if line.last() == Some(&b'\n') => Ok(Some(line)),
        _ if read as u64 == MAX_HEADER => Err(Error::failed("the file stream has a bad header")),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests;
