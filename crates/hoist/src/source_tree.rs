//! The source tree of a release on the controller: which files the spec uploads, with their
//! modes and blake3 hashes, and the content hash of the whole tree.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
