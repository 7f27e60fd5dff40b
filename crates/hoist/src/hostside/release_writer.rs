//! Writing a new release: `releases/<id>/` from a source tree, with unchanged files
//! hard-linked to the live release and changed ones written as new files, shared dirs linked
//! in, and `meta/<id>/manifest.json` recording every file's hash and mode.
//!
//! A release shares inodes with `live`, so nothing here ever opens an existing file for
//! writing: a written file is always created new (`create_new`), or `live` would change
//! under its users.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use hoist_core::ReleaseId;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs::{remove_tree, write_json};
use crate::hostside::layout::Layout;
use crate::ports::host::{NewRelease, UploadReport};
use crate::source_tree::{EntryKind, SourceTree};

/// One file of a release in `meta/<id>/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// blake3 (hex).
    pub hash: String,
    pub mode: u32,
}

/// Every file of a release (not dirs, links or shared dirs), by relative path.
pub type Manifest = BTreeMap<String, ManifestEntry>;

/// Creates release `release.info.id` from `source` and leaves it `Uploading` (`mark_ready`
/// is separate). Refuses an id that exists. A failure after the release was recorded marks
/// it `Failed`, so it is never taken for complete.
pub fn write_release(
    layout: &Layout,
    release: &NewRelease,
    source: &SourceTree,
) -> Result<UploadReport> {
    let shared = shared_dir_names(&release.shared_dirs)?;
    layout.begin_release(&release.info)?;
    let id = &release.info.id;
    let written = write_tree(layout, id, &shared, source);
    if let Err(error) = &written {
        let _ = layout.mark_failed(id, &error.to_string());
    }
    written.map_err(|error| error.context(format!("cannot upload release `{id}`")))
}

/// Reads `meta/<id>/manifest.json`; an absent one is empty (nothing gets linked).
pub fn read_manifest(layout: &Layout, id: &ReleaseId) -> Result<Manifest> {
    let path = layout.meta_dir(id).join("manifest.json");
    match fs::read(&path) {
        Ok(text) => serde_json::from_slice(&text)
            .map_err(|e| Error::internal(format!("cannot parse `{}`", path.display())).cause(e)),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(Manifest::new()),
        Err(error) => Err(Error::io("read", &path, error)),
    }
}

fn write_tree(
    layout: &Layout,
    id: &ReleaseId,
    shared: &[String],
    source: &SourceTree,
) -> Result<UploadReport> {
    let release_dir = layout.release_dir(id);
    fs::create_dir(&release_dir).map_err(|e| Error::io("create", &release_dir, e))?;
    let live = match layout.live()? {
        Some(live) if live != *id => {
            Some((layout.release_dir(&live), read_manifest(layout, &live)?))
        }
        _ => None,
    };
    let mut manifest = Manifest::new();
    let mut report = UploadReport::default();
    let mut dir_modes = Vec::new();
    for entry in &source.entries {
        if shared.iter().any(|dir| is_within(&entry.path, dir)) {
            continue;
        }
        let target = release_dir.join(&entry.path);
        match &entry.kind {
            EntryKind::Dir { mode } => {
                fs::create_dir(&target).map_err(|e| Error::io("create", &target, e))?;
                dir_modes.push((target, *mode));
            }
            EntryKind::Symlink { target: points_at } => {
                symlink(points_at, &target).map_err(|e| Error::io("create", &target, e))?;
            }
            EntryKind::File { size, mode, hash } => {
                report.files += 1;
                let unchanged = live.as_ref().filter(|(_, live_manifest)| {
                    live_manifest
                        .get(&entry.path)
                        .is_some_and(|old| old.hash == *hash && old.mode == *mode)
                });
                let linked = unchanged.is_some_and(|(live_dir, _)| {
                    link_unchanged(&live_dir.join(&entry.path), &target, *size)
                });
                if linked {
                    report.linked += 1;
                } else {
                    let from = source.root.join(&entry.path);
                    copy_new(&from, &target, *mode, *size)?;
                    report.written += 1;
                    report.bytes_written += size;
                }
                let recorded = ManifestEntry {
                    hash: hash.clone(),
                    mode: *mode,
                };
                manifest.insert(entry.path.clone(), recorded);
            }
        }
    }
    for dir in shared {
        link_shared(layout, &release_dir, dir)?;
    }
    // Last, children before parents: a read-only directory must still take its contents.
    for (dir, mode) in dir_modes.iter().rev() {
        fs::set_permissions(dir, fs::Permissions::from_mode(*mode))
            .map_err(|e| Error::io("set the mode of", dir, e))?;
    }
    // One sync of the filesystem instead of one per file: the tree is durable before its
    // manifest, and both before `mark_ready` can say it is complete.
    let handle = File::open(&release_dir).map_err(|e| Error::io("open", &release_dir, e))?;
    nix::unistd::syncfs(&handle)
        .map_err(|e| Error::io("sync", &release_dir, std::io::Error::from(e)))?;
    write_json(&layout.meta_dir(id).join("manifest.json"), &manifest)?;
    Ok(report)
}

/// Hard-links the live release's copy of an unchanged file; `false` when that fails or the
/// live copy no longer has the recorded size (edited in place), so the caller copies.
fn link_unchanged(live_file: &Path, target: &Path, size: u64) -> bool {
    if fs::hard_link(live_file, target).is_err() {
        return false;
    }
    match target.symlink_metadata() {
        Ok(metadata) if metadata.is_file() && metadata.len() == size => true,
        _ => {
            let _ = fs::remove_file(target);
            false
        }
    }
}

/// Copies `from` into a new file `to` (never an existing one), with `mode` and the source's
/// modification time.
fn copy_new(from: &Path, to: &Path, mode: u32, size: u64) -> Result<()> {
    let mut source = File::open(from).map_err(|e| Error::io("open", from, e))?;
    let metadata = source.metadata().map_err(|e| Error::io("read", from, e))?;
    let mut target = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o777)
        .open(to)
        .map_err(|e| Error::io("create", to, e))?;
    let copied = std::io::copy(&mut source, &mut target).map_err(|e| Error::io("write", to, e))?;
    if copied != size {
        return Err(Error::failed(format!(
            "`{}` changed while it was uploaded",
            from.display()
        ))
        .hint("release again once the build has finished writing"));
    }
    target
        .set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| Error::io("set the mode of", to, e))?;
    if let Ok(modified) = metadata.modified() {
        target
            .set_modified(modified)
            .map_err(|e| Error::io("set the time of", to, e))?;
    }
    Ok(())
}

/// Replaces `releases/<id>/<dir>` with a symlink to `shared/<dir>`, creating that if missing.
/// The link is relative, so the deploy root can move.
fn link_shared(layout: &Layout, release_dir: &Path, dir: &str) -> Result<()> {
    let shared = layout.shared_dir().join(dir);
    fs::create_dir_all(&shared).map_err(|e| Error::io("create", &shared, e))?;
    let link = release_dir.join(dir);
    remove_tree(&link)?;
    if let Some(parent) = link.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    let depth = Path::new(dir).components().count();
    let mut target = PathBuf::new();
    for _ in 0..=depth {
        target.push("..");
    }
    target.push("shared");
    target.push(dir);
    symlink(&target, &link).map_err(|e| Error::io("create", &link, e))
}

/// Shared dirs as `/`-separated relative paths; refuses `..`, absolute and empty ones.
fn shared_dir_names(dirs: &[PathBuf]) -> Result<Vec<String>> {
    dirs.iter()
        .map(|dir| {
            let plain = !dir.as_os_str().is_empty()
                && dir
                    .components()
                    .all(|part| matches!(part, Component::Normal(_)));
            match dir.to_str() {
                Some(name) if plain => Ok(name.trim_end_matches('/').to_owned()),
                _ => Err(Error::failed(format!(
                    "shared dir `{}` is not a relative path",
                    dir.display()
                ))
                .hint(
                    "shared dirs are relative to the release, e.g. `storage` or `public/uploads`",
                )),
            }
        })
        .collect()
}

fn is_within(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests;
