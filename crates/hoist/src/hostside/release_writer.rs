//! Writing a new release: `releases/<id>/` from a source tree, with unchanged files
//! hard-linked to the live release and changed ones written as new files, shared dirs linked
//! in, and `meta/<id>/manifest.json` recording every file's hash and mode.
//!
//! In two phases, so the files can travel between them (rsync, or a stream from a remote
//! controller): `prepare_release` lays out the tree and says which files are still needed,
//! `finish_release` checks they arrived and completes the release. `write_release` does
//! both with a local copy in between.
//!
//! A release shares inodes with `live`, so nothing here ever opens an existing file for
//! writing: a written file is always created new (`create_new`), or `live` would change
//! under its users.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use hoist_core::{ReleaseId, ReleaseStatus};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs::{remove_tree, write_json};
use crate::hostside::layout::Layout;
use crate::hostside::tree_sync;
use crate::ports::host::{NewRelease, UploadReport};
use crate::source_tree::{EntryKind, SourceEntry, SourceTree};

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
/// is separate): `prepare_release`, the needed files copied from `source.root` as new
/// files, then `finish_release`. Refuses an id that exists. A failure after the release was
/// recorded marks it `Failed`, so it is never taken for complete.
pub fn write_release(
    layout: &Layout,
    release: &NewRelease,
    source: &SourceTree,
) -> Result<UploadReport> {
    let needed = prepare_release(layout, release, &source.entries)?;
    let id = &release.info.id;
    let release_dir = layout.release_dir(id);
    let sizes = file_sizes(&source.entries);
    for path in &needed {
        let Some((size, mode)) = sizes.get(path.as_str()) else {
            continue;
        };
        let copied = copy_new(
            &source.root.join(path),
            &release_dir.join(path),
            *mode,
            *size,
        );
        if let Err(error) = copied {
            return Err(fail(layout, id, error));
        }
    }
    finish_release(layout, release, &source.entries)
}

/// Starts release `release.info.id`: records it `Uploading` (meta first), creates
/// `releases/<id>/` with every directory and symlink of `entries`, and hard-links each file
/// whose path, hash and mode match the live release's manifest. Returns the relative paths
/// of the files still needed, which do not exist yet: whatever writes them creates them
/// new, never through a link into `live`. Refuses an id that exists.
pub fn prepare_release(
    layout: &Layout,
    release: &NewRelease,
    entries: &[SourceEntry],
) -> Result<Vec<String>> {
    let shared = shared_dir_names(&release.shared_dirs)?;
    check_entry_paths(entries)?;
    layout.begin_release(&release.info)?;
    let id = &release.info.id;
    prepare_tree(layout, id, &shared, entries).map_err(|error| fail(layout, id, error))
}

/// Completes a prepared release once its needed files arrived: checks that every file of
/// `entries` is a regular file of the right size, sets file and directory modes, links the
/// shared dirs, syncs the filesystem and writes `meta/<id>/manifest.json`. A missing or
/// wrong file fails the release.
pub fn finish_release(
    layout: &Layout,
    release: &NewRelease,
    entries: &[SourceEntry],
) -> Result<UploadReport> {
    let shared = shared_dir_names(&release.shared_dirs)?;
    check_entry_paths(entries)?;
    let id = &release.info.id;
    let status = layout.read_info(id)?.status;
    if status != ReleaseStatus::Uploading || !layout.meta_dir(id).is_dir() {
        return Err(Error::failed(format!(
            "release `{id}` is not being uploaded (it is {})",
            format!("{status:?}").to_lowercase()
        ))
        .hint("start a new release with `hoist release ENV`"));
    }
    finish_tree(layout, id, &shared, entries).map_err(|error| fail(layout, id, error))
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

/// Marks the release failed with `error` as the reason and wraps the error.
fn fail(layout: &Layout, id: &ReleaseId, error: Error) -> Error {
    let _ = layout.mark_failed(id, &error.to_string());
    error.context(format!("cannot upload release `{id}`"))
}

/// The live release's directory and manifest, unless `id` is live itself.
fn live_release(layout: &Layout, id: &ReleaseId) -> Result<Option<(PathBuf, Manifest)>> {
    Ok(match layout.live()? {
        Some(live) if live != *id => {
            Some((layout.release_dir(&live), read_manifest(layout, &live)?))
        }
        _ => None,
    })
}

fn prepare_tree(
    layout: &Layout,
    id: &ReleaseId,
    shared: &[String],
    entries: &[SourceEntry],
) -> Result<Vec<String>> {
    let release_dir = layout.release_dir(id);
    fs::create_dir(&release_dir).map_err(|e| Error::io("create", &release_dir, e))?;
    let live = live_release(layout, id)?;
    let mut needed = Vec::new();
    for entry in entries {
        if shared.iter().any(|dir| is_within(&entry.path, dir)) {
            continue;
        }
        let target = release_dir.join(&entry.path);
        match &entry.kind {
            EntryKind::Dir { .. } => {
                fs::create_dir(&target).map_err(|e| Error::io("create", &target, e))?;
            }
            EntryKind::Symlink { target: points_at } => {
                symlink(points_at, &target).map_err(|e| Error::io("create", &target, e))?;
            }
            EntryKind::File { size, mode, hash } => {
                let unchanged = live.as_ref().filter(|(_, live_manifest)| {
                    live_manifest
                        .get(&entry.path)
                        .is_some_and(|old| old.hash == *hash && old.mode == *mode)
                });
                let linked = unchanged.is_some_and(|(live_dir, _)| {
                    link_unchanged(&live_dir.join(&entry.path), &target, *size)
                });
                if !linked {
                    needed.push(entry.path.clone());
                }
            }
        }
    }
    Ok(needed)
}

fn finish_tree(
    layout: &Layout,
    id: &ReleaseId,
    shared: &[String],
    entries: &[SourceEntry],
) -> Result<UploadReport> {
    let release_dir = layout.release_dir(id);
    let live = live_release(layout, id)?;
    let mut manifest = Manifest::new();
    let mut report = UploadReport::default();
    let mut dir_modes = Vec::new();
    let mut new_files = Vec::new();
    for entry in entries {
        if shared.iter().any(|dir| is_within(&entry.path, dir)) {
            continue;
        }
        let target = release_dir.join(&entry.path);
        match &entry.kind {
            EntryKind::Dir { mode } => dir_modes.push((target, *mode)),
            EntryKind::Symlink { .. } => {}
            EntryKind::File { size, mode, hash } => {
                let metadata = arrived(&target, &entry.path, *size)?;
                report.files += 1;
                let live_copy = live
                    .as_ref()
                    .and_then(|(live_dir, _)| live_dir.join(&entry.path).symlink_metadata().ok());
                let shares_inode = live_copy.is_some_and(|live_copy| {
                    (live_copy.dev(), live_copy.ino()) == (metadata.dev(), metadata.ino())
                });
                if shares_inode {
                    report.linked += 1;
                } else {
                    // Only a file of this release's own: a linked one already has the
                    // mode, and is `live`'s too.
                    fs::set_permissions(&target, fs::Permissions::from_mode(*mode))
                        .map_err(|e| Error::io("set the mode of", &target, e))?;
                    report.written += 1;
                    report.bytes_written += size;
                    new_files.push(target.clone());
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
    // The tree is durable before its manifest, and both before `mark_ready` can say it is
    // complete. Every directory whose entries changed: the tree's, `releases/` (the new
    // tree's entry) and the shared dirs with their parents (they may have been created).
    let mut dirs: Vec<PathBuf> = dir_modes.into_iter().map(|(dir, _)| dir).collect();
    dirs.push(release_dir.clone());
    dirs.push(layout.releases_dir());
    let shared_root = layout.shared_dir();
    for dir in shared {
        dirs.extend(dirs_down_to(&shared_root.join(dir), &shared_root));
        dirs.extend(dirs_down_to(&release_dir.join(dir), &release_dir).skip(1));
    }
    if !shared.is_empty() {
        dirs.extend(shared_root.parent().map(Path::to_path_buf));
    }
    tree_sync::sync_tree(&release_dir, &new_files, &dirs)?;
    write_json(&layout.meta_dir(id).join("manifest.json"), &manifest)?;
    Ok(report)
}

/// The metadata of a file that should have arrived at `target`: a regular file (not a
/// link) of `size` bytes.
fn arrived(target: &Path, path: &str, size: u64) -> Result<fs::Metadata> {
    match target.symlink_metadata() {
        Ok(metadata) if metadata.is_file() && metadata.len() == size => Ok(metadata),
        Ok(metadata) if metadata.is_file() => Err(Error::failed(format!(
            "file `{path}` arrived with {} bytes instead of {size}",
            metadata.len()
        ))
        .hint("release again once the build has finished writing")),
        Ok(_) => Err(Error::failed(format!(
            "`{path}` arrived as something else than a file"
        ))),
        Err(error) if error.kind() == ErrorKind::NotFound => {
            Err(Error::failed(format!("file `{path}` did not arrive"))
                .hint("upload it again with `hoist release ENV`"))
        }
        Err(error) => Err(Error::io("read", target, error)),
    }
}

/// Size and mode of every file entry, by path.
fn file_sizes(entries: &[SourceEntry]) -> BTreeMap<&str, (u64, u32)> {
    entries
        .iter()
        .filter_map(|entry| match &entry.kind {
            EntryKind::File { size, mode, .. } => Some((entry.path.as_str(), (*size, *mode))),
            _ => None,
        })
        .collect()
}

/// Entry paths come from the controller, possibly over the wire: each must be plain and
/// relative, and lie under a directory entry listed before it, so nothing is written
/// through a symlink or outside the release.
fn check_entry_paths(entries: &[SourceEntry]) -> Result<()> {
    let mut dirs = BTreeSet::new();
    for entry in entries {
        let parent = entry.path.rsplit_once('/').map(|(parent, _)| parent);
        let plain = is_plain_relative(&entry.path);
        if !plain || parent.is_some_and(|parent| !dirs.contains(parent)) {
            return Err(Error::internal(format!(
                "upload entry `{}` is not a plain path under a listed directory",
                entry.path
            )));
        }
        if matches!(entry.kind, EntryKind::Dir { .. }) {
            dirs.insert(entry.path.as_str());
        }
    }
    Ok(())
}

/// A relative `/`-separated path of plain names: no `.`, `..`, empty parts or NUL.
pub fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// `path` and each of its parents down to `top`, `top` included.
fn dirs_down_to<'a>(path: &'a Path, top: &'a Path) -> impl Iterator<Item = PathBuf> + 'a {
    path.ancestors()
        .take_while(move |dir| dir.starts_with(top))
        .map(Path::to_path_buf)
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
