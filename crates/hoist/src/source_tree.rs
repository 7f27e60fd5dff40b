//! The source tree of a release on the controller: which files the spec uploads, with their
//! modes and blake3 hashes, and the content hash of the whole tree.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use hoist_core::spec::Build;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use crate::error::{Error, Result};

/// Left out of every upload, wherever they appear: the repository and hoist's own state.
const ALWAYS_EXCLUDED: [&str; 2] = [".git", ".hoist"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceTree {
    /// Local directory that relative entry paths start from (for `upload_version`, that
    /// directory; otherwise the spec's directory).
    pub root: PathBuf,
    /// Sorted by path; a directory comes before what it contains.
    pub entries: Vec<SourceEntry>,
    /// blake3 (hex) over every entry's path, kind, mode and content hash or link target.
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEntry {
    /// Relative, `/`-separated, never `..`, never empty.
    pub path: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EntryKind {
    Dir { mode: u32 },
    File { size: u64, mode: u32, hash: String },
    Symlink { target: String },
}

impl SourceTree {
    /// Collects what `build` uploads from the spec's directory `spec_dir`: each `upload` path
    /// (default `.`) at its relative path, or the contents of `upload_version` as the release
    /// root. `exclude` patterns (gitignore style) and `.git`/`.hoist` are left out, as are
    /// sockets and fifos. Files are hashed streaming, so a big file is never held in memory.
    pub fn collect(spec_dir: &Path, build: &Build) -> Result<SourceTree> {
        let (root, starts) = match &build.upload_version {
            Some(dir) => {
                let start = relative_upload_path(dir)?;
                (spec_dir.join(start), vec![PathBuf::new()])
            }
            None if build.upload.is_empty() => (spec_dir.to_path_buf(), vec![PathBuf::new()]),
            None => {
                let starts = build.upload.iter().map(|path| relative_upload_path(path));
                (spec_dir.to_path_buf(), starts.collect::<Result<_>>()?)
            }
        };
        if let Some(dir) = &build.upload_version
            && !root.is_dir()
        {
            return Err(missing_upload_path(dir));
        }
        let mut collector = Collector {
            excluded: exclusions(&root, &build.exclude)?,
            root,
            entries: Vec::new(),
        };
        for start in &starts {
            collector.walk(start)?;
        }
        let Collector {
            root, mut entries, ..
        } = collector;
        entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|a, b| a.path == b.path);
        let content_hash = content_hash(&entries);
        Ok(SourceTree {
            root,
            entries,
            content_hash,
        })
    }

    pub fn file_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|entry| matches!(entry.kind, EntryKind::File { .. }))
            .count()
    }
}

/// An upload path made relative and plain: no root, no `..`, `.` components dropped.
fn relative_upload_path(path: &Path) -> Result<PathBuf> {
    let mut plain = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => plain.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Error::failed(format!(
                    "upload path `{}` leaves the spec's directory",
                    path.display()
                ))
                .hint("upload paths are relative to the directory of `Hoist.toml`, without `..`"));
            }
        }
    }
    Ok(plain)
}

fn missing_upload_path(path: &Path) -> Error {
    Error::failed(format!("upload path `{}` does not exist", path.display())).hint(
        "fix `build.upload` or `build.upload_version` in `Hoist.toml`, or add the build step that creates it",
    )
}

fn exclusions(root: &Path, patterns: &[String]) -> Result<Gitignore> {
    let mut builder = GitignoreBuilder::new(root);
    let always = ALWAYS_EXCLUDED.iter().map(|pattern| (*pattern).to_owned());
    for pattern in always.chain(patterns.iter().cloned()) {
        builder.add_line(None, &pattern).map_err(|error| {
            Error::failed(format!("invalid exclude pattern `{pattern}`"))
                .cause(error)
                .hint("exclude patterns use gitignore syntax, e.g. `*.log` or `/tmp/`")
        })?;
    }
    builder
        .build()
        .map_err(|error| Error::failed("invalid exclude patterns").cause(error))
}

struct Collector {
    root: PathBuf,
    excluded: Gitignore,
    entries: Vec<SourceEntry>,
}

impl Collector {
    /// Adds `start` (relative to the root; empty for the root itself), its parent
    /// directories and everything under it that is not excluded.
    fn walk(&mut self, start: &Path) -> Result<()> {
        let full = self.root.join(start);
        let metadata = match full.symlink_metadata() {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(missing_upload_path(start));
            }
            Err(error) => return Err(Error::io("read", &full, error)),
        };
        if !start.as_os_str().is_empty()
            && self
                .excluded
                .matched_path_or_any_parents(start, metadata.is_dir())
                .is_ignore()
        {
            return Ok(());
        }
        for ancestor in start.ancestors().skip(1) {
            if ancestor.as_os_str().is_empty() {
                break;
            }
            let path = self.root.join(ancestor);
            let mode = mode_of(&path.metadata().map_err(|e| Error::io("read", &path, e))?);
            push(&mut self.entries, ancestor, EntryKind::Dir { mode })?;
        }
        let excluded = &self.excluded;
        let root = &self.root;
        let walker = WalkDir::new(&full)
            .follow_root_links(false)
            .into_iter()
            .filter_entry(|entry| {
                let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
                relative.as_os_str().is_empty()
                    || !excluded
                        .matched(relative, entry.file_type().is_dir())
                        .is_ignore()
            });
        for entry in walker {
            let entry = entry.map_err(|error| {
                let path = error.path().unwrap_or(&full).to_path_buf();
                Error::internal(format!("cannot read `{}`", path.display())).cause(error)
            })?;
            let relative = entry
                .path()
                .strip_prefix(&self.root)
                .unwrap_or(entry.path());
            if relative.as_os_str().is_empty() {
                continue;
            }
            let kind = entry_kind(entry.path(), entry.file_type())?;
            if let Some(kind) = kind {
                push(&mut self.entries, relative, kind)?;
            }
        }
        Ok(())
    }
}

fn push(entries: &mut Vec<SourceEntry>, relative: &Path, kind: EntryKind) -> Result<()> {
    let path = relative.to_str().ok_or_else(|| {
        Error::failed(format!("path `{}` is not valid UTF-8", relative.display()))
            .hint("rename it, or leave it out with `build.exclude`")
    })?;
    entries.push(SourceEntry {
        path: path.to_owned(),
        kind,
    });
    Ok(())
}

/// What an entry is, hashed; `None` for what an upload skips (sockets, fifos, devices).
fn entry_kind(path: &Path, file_type: std::fs::FileType) -> Result<Option<EntryKind>> {
    let kind = if file_type.is_dir() {
        let metadata = path
            .symlink_metadata()
            .map_err(|e| Error::io("read", path, e))?;
        EntryKind::Dir {
            mode: mode_of(&metadata),
        }
    } else if file_type.is_symlink() {
        let target = std::fs::read_link(path).map_err(|e| Error::io("read link", path, e))?;
        let target = target.to_str().ok_or_else(|| {
            Error::failed(format!(
                "link `{}` points at a path that is not UTF-8",
                path.display()
            ))
        })?;
        EntryKind::Symlink {
            target: target.to_owned(),
        }
    } else if file_type.is_file() {
        let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
        let metadata = file.metadata().map_err(|e| Error::io("read", path, e))?;
        let mut hasher = blake3::Hasher::new();
        hasher
            .update_reader(&mut file)
            .map_err(|e| Error::io("read", path, e))?;
        EntryKind::File {
            size: metadata.len(),
            mode: mode_of(&metadata),
            hash: hasher.finalize().to_hex().to_string(),
        }
    } else {
        return Ok(None);
    };
    Ok(Some(kind))
}

fn mode_of(metadata: &std::fs::Metadata) -> u32 {
    metadata.permissions().mode() & 0o7777
}

/// blake3 over every entry in order; fields end with a NUL so no two trees encode alike.
fn content_hash(entries: &[SourceEntry]) -> String {
    let mut hasher = blake3::Hasher::new();
    for entry in entries {
        hasher.update(entry.path.as_bytes());
        hasher.update(b"\0");
        match &entry.kind {
            EntryKind::Dir { mode } => {
                hasher.update(format!("dir {mode:o}\0").as_bytes());
            }
            EntryKind::File { size, mode, hash } => {
                hasher.update(format!("file {mode:o} {size} {hash}\0").as_bytes());
            }
            EntryKind::Symlink { target } => {
                hasher.update(b"symlink ");
                hasher.update(target.as_bytes());
                hasher.update(b"\0");
            }
        }
    }
    hasher.finalize().to_hex().to_string()
}

#[cfg(test)]
mod tests;
