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
use crate::hostside::layout::{Layout, remove_tree, write_json};
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
mod tests {
    use std::os::unix::fs::MetadataExt;

    use hoist_core::ReleaseStatus;
    use hoist_core::spec::Build;

    use super::*;
    use crate::ports::host::ReleaseInfo;

    fn id(n: u32) -> ReleaseId {
        format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
    }

    fn new_release(n: u32, shared: &[&str]) -> NewRelease {
        NewRelease {
            info: ReleaseInfo {
                id: id(n),
                status: ReleaseStatus::Uploading,
                content_hash: String::new(),
                config_hash: String::new(),
                created_at: "2026-11-21T00:00:00Z".into(),
                created_by: "alice".into(),
                source_rev: None,
                config_snapshot: serde_json::json!({}),
                error: None,
            },
            shared_dirs: shared.iter().map(PathBuf::from).collect(),
        }
    }

    fn collect(source: &Path) -> SourceTree {
        let build = Build {
            steps: Vec::new(),
            upload: Vec::new(),
            upload_version: None,
            exclude: Vec::new(),
        };
        SourceTree::collect(source, &build).unwrap()
    }

    struct Setup {
        _dir: tempfile::TempDir,
        source: PathBuf,
        layout: Layout,
    }

    fn setup(files: usize) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        for i in 0..files {
            let path = source.join(format!("d{}/f{i}.txt", i % 40));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, format!("file {i}\n").repeat(50)).unwrap();
        }
        fs::create_dir_all(source.join("bin")).unwrap();
        fs::write(source.join("bin/run"), "#!/bin/sh\necho v1\n").unwrap();
        fs::set_permissions(source.join("bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("bin/run", source.join("start")).unwrap();
        let layout = Layout::open(dir.path().join("host"));
        layout.ensure().unwrap();
        Setup {
            _dir: dir,
            source,
            layout,
        }
    }

    /// Uploads, readies and switches `live` to release `n`.
    fn deploy(setup: &Setup, n: u32, shared: &[&str]) -> UploadReport {
        let report = write_release(
            &setup.layout,
            &new_release(n, shared),
            &collect(&setup.source),
        )
        .unwrap();
        setup.layout.mark_ready(&id(n)).unwrap();
        setup.layout.switch_live(&id(n)).unwrap();
        report
    }

    fn inode(path: &Path) -> u64 {
        path.metadata().unwrap().ino()
    }

    #[test]
    fn unchanged_files_share_inodes_with_live_and_changed_ones_are_new() {
        let setup = setup(20);
        let first = deploy(&setup, 1, &[]);
        assert_eq!((first.files, first.linked, first.written), (21, 0, 21));
        fs::write(setup.source.join("bin/run"), "#!/bin/sh\necho v2\n").unwrap();
        let second =
            write_release(&setup.layout, &new_release(2, &[]), &collect(&setup.source)).unwrap();
        assert_eq!((second.files, second.linked, second.written), (21, 20, 1));
        assert_eq!(second.bytes_written, 18);
        let (old, new) = (
            setup.layout.release_dir(&id(1)),
            setup.layout.release_dir(&id(2)),
        );
        assert_eq!(inode(&old.join("d3/f3.txt")), inode(&new.join("d3/f3.txt")));
        assert_ne!(inode(&old.join("bin/run")), inode(&new.join("bin/run")));
        assert_eq!(
            fs::read_to_string(old.join("bin/run")).unwrap(),
            "#!/bin/sh\necho v1\n"
        );
        assert_eq!(
            fs::read_to_string(new.join("bin/run")).unwrap(),
            "#!/bin/sh\necho v2\n"
        );
        let mode = new.join("bin/run").metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o755);
        assert_eq!(
            fs::read_link(new.join("start")).unwrap(),
            Path::new("bin/run")
        );
        let source_time = setup
            .source
            .join("bin/run")
            .metadata()
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(
            new.join("bin/run").metadata().unwrap().modified().unwrap(),
            source_time
        );
        let manifest = read_manifest(&setup.layout, &id(2)).unwrap();
        assert_eq!(manifest.len(), 21);
        assert_eq!(manifest["bin/run"].mode, 0o755);
        let host = setup.layout.read().unwrap();
        assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Uploading));
    }

    #[test]
    fn a_mode_change_alone_writes_a_new_file() {
        let setup = setup(2);
        deploy(&setup, 1, &[]);
        fs::set_permissions(
            setup.source.join("d0/f0.txt"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let report =
            write_release(&setup.layout, &new_release(2, &[]), &collect(&setup.source)).unwrap();
        assert_eq!(report.written, 1);
        let old = setup.layout.release_dir(&id(1)).join("d0/f0.txt");
        assert_eq!(old.metadata().unwrap().permissions().mode() & 0o777, 0o644);
    }

    #[test]
    fn shared_dirs_are_linked_and_survive_releases() {
        let setup = setup(2);
        fs::create_dir_all(setup.source.join("storage/cache")).unwrap();
        fs::write(setup.source.join("storage/cache/seed"), "from the build").unwrap();
        let first = deploy(&setup, 1, &["storage", "public/uploads"]);
        assert_eq!(first.files, 3);
        let live = setup.layout.live_link();
        fs::write(live.join("storage/data.db"), "precious").unwrap();
        deploy(&setup, 2, &["storage", "public/uploads"]);
        let release = setup.layout.release_dir(&id(2));
        assert_eq!(
            fs::read_link(release.join("storage")).unwrap(),
            Path::new("../../shared/storage")
        );
        assert_eq!(
            fs::read_to_string(live.join("storage/data.db")).unwrap(),
            "precious"
        );
        assert!(release.join("public/uploads").metadata().unwrap().is_dir());
        assert!(
            !setup
                .layout
                .shared_dir()
                .join("storage/cache/seed")
                .exists()
        );
        let error = write_release(
            &setup.layout,
            &new_release(3, &["../etc"]),
            &collect(&setup.source),
        )
        .unwrap_err();
        assert!(error.message.contains("not a relative path"), "{error}");
    }

    #[test]
    fn refuses_an_existing_release_and_fails_a_broken_upload() {
        let setup = setup(3);
        deploy(&setup, 1, &[]);
        let tree = collect(&setup.source);
        assert!(write_release(&setup.layout, &new_release(1, &[]), &tree).is_err());
        assert!(setup.layout.release_dir(&id(1)).join("start").exists());
        fs::write(setup.source.join("new.txt"), "new").unwrap();
        let tree = collect(&setup.source);
        fs::remove_file(setup.source.join("new.txt")).unwrap();
        let error = write_release(&setup.layout, &new_release(2, &[]), &tree).unwrap_err();
        assert!(error.message.contains("cannot upload release"), "{error}");
        let host = setup.layout.read().unwrap();
        assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Failed));
        assert!(host.chain.violations().is_empty());
    }

    /// Two thousand files with one changed: one written, the rest linked. (Speed is measured
    /// by `scripts/bench/release-local.sh`, not here.)
    #[test]
    fn writes_two_thousand_files_with_one_changed() {
        let setup = setup(2_000);
        deploy(&setup, 1, &[]);
        fs::write(setup.source.join("d7/f7.txt"), "changed\n").unwrap();
        let tree = collect(&setup.source);
        let report = write_release(&setup.layout, &new_release(2, &[]), &tree).unwrap();
        assert_eq!((report.linked, report.written), (2_000, 1));
    }
}
