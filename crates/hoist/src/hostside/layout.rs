//! The deploy root on a host and every change to its releases:
//!
//! ```text
//! <root>/releases/<id>/   meta/<id>/{release.json, manifest.json, previous, next}
//! <root>/live -> releases/<id>   shared/  config/  run/  logs/  .hoist/
//! ```
//!
//! Statuses and links change only through the plans of `ReleaseChain`, applied in the order
//! `ChainChange` documents. Each file change is atomic: JSON is written to a temporary file,
//! synced and renamed; a symlink is created under a temporary name and renamed over the old
//! one, so `live` never goes missing. A removed release is renamed aside before it is
//! deleted, so a cut-off removal leaves nothing that reads as a release.

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hoist_core::release_chain::{ChainChange, ReleaseChain, ReleaseMeta};
use hoist_core::{ReleaseId, ReleaseStatus};

use crate::error::{Error, Result};
use crate::ports::host::{ConfigFile, HostReleases, ReleaseInfo};

/// One deploy root. Holds only its path: every operation reads the disk afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

/// The prefix of a release renamed aside on its way out.
const REMOVED_PREFIX: &str = ".removed-";

impl Layout {
    pub fn open(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn releases_dir(&self) -> PathBuf {
        self.root.join("releases")
    }

    pub fn release_dir(&self, id: &ReleaseId) -> PathBuf {
        self.releases_dir().join(id.as_str())
    }

    pub fn meta_dir(&self, id: &ReleaseId) -> PathBuf {
        self.root.join("meta").join(id.as_str())
    }

    pub fn live_link(&self) -> PathBuf {
        self.root.join("live")
    }

    pub fn shared_dir(&self) -> PathBuf {
        self.root.join("shared")
    }

    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// `.hoist/`: lock, audit log, proxy state.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".hoist")
    }

    /// Creates every directory of the layout that is missing; `config/` is 0700.
    pub fn ensure(&self) -> Result<()> {
        let dirs = [
            self.releases_dir(),
            self.root.join("meta"),
            self.shared_dir(),
            self.config_dir(),
            self.run_dir(),
            self.logs_dir(),
            self.state_dir(),
        ];
        for dir in &dirs {
            fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        let config = self.config_dir();
        fs::set_permissions(&config, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("set the mode of", &config, e))
    }

    /// The release `live` points at, if any.
    pub fn live(&self) -> Result<Option<ReleaseId>> {
        let link = self.live_link();
        match fs::read_link(&link) {
            Ok(target) => Ok(id_at_end(&target)),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io("read", &link, error)),
        }
    }

    /// Reads every release, its links and `live`. A meta directory without `release.json`
    /// (an upload cut off at its start) reads as `Uploading`; an unreadable one as `Failed`.
    pub fn read(&self) -> Result<HostReleases> {
        let meta_root = self.root.join("meta");
        let listing = match fs::read_dir(&meta_root) {
            Ok(listing) => listing,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                let chain = ReleaseChain::new(Vec::new(), None);
                let live = self.live()?;
                return Ok(HostReleases {
                    chain,
                    infos: BTreeMap::new(),
                    live,
                });
            }
            Err(error) => return Err(Error::io("read", &meta_root, error)),
        };
        let mut metas = Vec::new();
        let mut infos = BTreeMap::new();
        for entry in listing {
            let entry = entry.map_err(|e| Error::io("read", &meta_root, e))?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
            else {
                continue;
            };
            let info = self.read_info(&id)?;
            metas.push(ReleaseMeta {
                status: info.status,
                previous: self.read_link_id(&id, "previous")?,
                next: self.read_link_id(&id, "next")?,
                id: id.clone(),
            });
            infos.insert(id, info);
        }
        let live = self.live()?;
        let chain = ReleaseChain::new(metas, live.clone());
        Ok(HostReleases { chain, infos, live })
    }

    /// `meta/<id>/release.json`, or a stand-in when it is missing or unreadable.
    pub fn read_info(&self, id: &ReleaseId) -> Result<ReleaseInfo> {
        let path = self.meta_dir(id).join("release.json");
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                return Ok(stand_in(
                    id,
                    ReleaseStatus::Uploading,
                    "its upload was cut off",
                ));
            }
            Err(error) => return Err(Error::io("read", &path, error)),
        };
        match serde_json::from_slice::<ReleaseInfo>(&text) {
            Ok(info) => Ok(ReleaseInfo {
                id: id.clone(),
                ..info
            }),
            Err(error) => Ok(stand_in(
                id,
                ReleaseStatus::Failed,
                &format!("its release.json is unreadable: {error}"),
            )),
        }
    }

    fn read_link_id(&self, id: &ReleaseId, name: &str) -> Result<Option<ReleaseId>> {
        let link = self.meta_dir(id).join(name);
        match fs::read_link(&link) {
            Ok(target) => Ok(id_at_end(&target)),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io("read", &link, error)),
        }
    }

    /// Records a new release as `Uploading`: its `meta/<id>/release.json`, written before
    /// anything of its tree. Refuses an id that exists.
    pub fn begin_release(&self, info: &ReleaseInfo) -> Result<()> {
        let id = &info.id;
        let host = self.read()?;
        host.chain.plan_upload(id)?;
        let release_dir = self.release_dir(id);
        if release_dir.symlink_metadata().is_ok() {
            return Err(Error::from(hoist_core::release_chain::ChainError::Exists(
                id.clone(),
            )));
        }
        let meta = self.meta_dir(id);
        fs::create_dir(&meta).map_err(|e| Error::io("create", &meta, e))?;
        let info = ReleaseInfo {
            status: ReleaseStatus::Uploading,
            ..info.clone()
        };
        write_json(&meta.join("release.json"), &info)?;
        sync_dir(&self.root.join("meta"))
    }

    /// Marks an uploaded release `Ready` and links it at the end of the chain.
    pub fn mark_ready(&self, id: &ReleaseId) -> Result<()> {
        let mut chain = self.read()?.chain;
        let tree = self.release_dir(id);
        if chain.get(id).is_some() && !tree.is_dir() {
            return Err(Error::failed(format!(
                "release `{id}` has no tree at `{}`",
                tree.display()
            ))
            .hint("upload it again; `hoist prune ENV` removes the broken one"));
        }
        let change = chain.plan_ready(id)?;
        self.apply(&mut chain, &change, None)
    }

    /// Marks a release that is not live `Failed` with `reason` and unlinks it.
    pub fn mark_failed(&self, id: &ReleaseId, reason: &str) -> Result<()> {
        let mut chain = self.read()?.chain;
        let change = chain.plan_failed(id)?;
        self.apply(&mut chain, &change, Some(reason))
    }

    /// Marks every `Uploading` release `Failed` (its upload was cut off) and clears what
    /// cut-off removals left behind. Returns the releases it failed.
    pub fn discard_incomplete(&self) -> Result<Vec<ReleaseId>> {
        let mut chain = self.read()?.chain;
        let stuck: Vec<ReleaseId> = chain
            .ordered()
            .into_iter()
            .filter(|meta| meta.status == ReleaseStatus::Uploading)
            .map(|meta| meta.id.clone())
            .collect();
        for id in &stuck {
            let change = chain.plan_failed(id)?;
            self.apply(&mut chain, &change, Some("its upload was cut off"))?;
        }
        for dir in [self.releases_dir(), self.root.join("meta")] {
            self.clear_removed(&dir)?;
        }
        Ok(stuck)
    }

    /// Points `live` at a complete release; the old live becomes `Retired`.
    pub fn switch_live(&self, id: &ReleaseId) -> Result<()> {
        let mut chain = self.read()?.chain;
        let change = chain.plan_switch(id)?;
        let tree = self.release_dir(id);
        if !change.is_empty() && !tree.is_dir() {
            return Err(Error::failed(format!(
                "release `{id}` has no tree at `{}`",
                tree.display()
            ))
            .hint("switch to another release; `hoist releases list ENV` shows them"));
        }
        self.apply(&mut chain, &change, None)
    }

    /// Deletes a release that is not live, joining its neighbours first.
    pub fn remove(&self, id: &ReleaseId) -> Result<()> {
        let mut chain = self.read()?.chain;
        let change = chain.plan_removal(id)?;
        self.apply(&mut chain, &change, None)
    }

    /// Removes failed releases and the kept ones beyond the newest `keep`, never `live` or
    /// the release before it. Returns what it removed, oldest first.
    pub fn prune(&self, keep: usize) -> Result<Vec<ReleaseId>> {
        let mut chain = self.read()?.chain;
        let doomed = chain.prune_set(keep);
        for id in &doomed {
            let change = chain.plan_removal(id)?;
            self.apply(&mut chain, &change, None)?;
        }
        Ok(doomed)
    }

    /// Writes one decision to disk in `ChainChange`'s order, then into `chain`. (`added` is
    /// never planned here: `begin_release` records a new release with its whole info.)
    fn apply(
        &self,
        chain: &mut ReleaseChain,
        change: &ChainChange,
        reason: Option<&str>,
    ) -> Result<()> {
        let mut touched = Vec::new();
        if let Some(live) = &change.live {
            let target = Path::new("releases").join(live.as_str());
            replace_symlink(&target, &self.live_link())?;
            sync_dir(&self.root)?;
        }
        let links = change
            .links
            .set_previous
            .iter()
            .map(|(id, to)| (id, to, "previous"));
        let links = links.chain(
            change
                .links
                .set_next
                .iter()
                .map(|(id, to)| (id, to, "next")),
        );
        for (id, to, name) in links {
            let link = self.meta_dir(id).join(name);
            match to {
                Some(to) => replace_symlink(&Path::new("..").join(to.as_str()), &link)?,
                None => remove_if_present(&link)?,
            }
            touched.push(self.meta_dir(id));
        }
        for (id, status) in &change.statuses {
            let mut info = self.read_info(id)?;
            info.status = *status;
            if *status == ReleaseStatus::Failed {
                info.error = reason.map(str::to_owned).or(info.error);
            }
            write_json(&self.meta_dir(id).join("release.json"), &info)?;
            touched.push(self.meta_dir(id));
        }
        touched.sort();
        touched.dedup();
        for dir in &touched {
            sync_dir(dir)?;
        }
        if let Some(id) = &change.removed {
            for dir in [self.meta_dir(id), self.release_dir(id)] {
                let aside =
                    dir.with_file_name(format!("{REMOVED_PREFIX}{}", temp_suffix(id.as_str())));
                match fs::rename(&dir, &aside) {
                    Ok(()) => remove_tree(&aside)?,
                    Err(error) if error.kind() == ErrorKind::NotFound => {}
                    Err(error) => return Err(Error::io("remove", &dir, error)),
                }
            }
        }
        chain.apply(change);
        Ok(())
    }

    /// Deletes what cut-off removals renamed aside in `dir`.
    fn clear_removed(&self, dir: &Path) -> Result<()> {
        let listing = match fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(Error::io("read", dir, error)),
        };
        for entry in listing {
            let entry = entry.map_err(|e| Error::io("read", dir, e))?;
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(REMOVED_PREFIX)
            {
                remove_tree(&entry.path())?;
            }
        }
        Ok(())
    }

    /// Replaces the files of `config/` with `files` (0600 each, the directory 0700).
    pub fn write_config(&self, files: &[ConfigFile]) -> Result<()> {
        let config = self.config_dir();
        fs::create_dir_all(&config).map_err(|e| Error::io("create", &config, e))?;
        fs::set_permissions(&config, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("set the mode of", &config, e))?;
        for file in files {
            let plain = !file.name.is_empty()
                && file.name != "."
                && file.name != ".."
                && !file.name.contains('/')
                && !file.name.contains('\0');
            if !plain {
                return Err(Error::internal(format!(
                    "config file name `{}` is not a plain name",
                    file.name
                )));
            }
        }
        for file in files {
            write_file_atomic(&config.join(&file.name), &file.contents, 0o600)?;
        }
        let listing = fs::read_dir(&config).map_err(|e| Error::io("read", &config, e))?;
        for entry in listing {
            let entry = entry.map_err(|e| Error::io("read", &config, e))?;
            let name = entry.file_name();
            if !files
                .iter()
                .any(|file| name.as_os_str() == file.name.as_str())
            {
                remove_tree(&entry.path())?;
            }
        }
        sync_dir(&config)
    }

    /// Deletes the whole deploy root. Refuses a non-empty directory that is not a layout
    /// (no `.hoist/`, `releases/` or `meta/`), so a mistyped root cannot wipe a home.
    pub fn destroy(&self) -> Result<()> {
        let mut listing = match fs::read_dir(&self.root) {
            Ok(listing) => listing,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(Error::io("read", &self.root, error)),
        };
        let is_layout = [
            self.state_dir(),
            self.releases_dir(),
            self.root.join("meta"),
        ]
        .iter()
        .any(|dir| dir.is_dir());
        if !is_layout && listing.next().is_some() {
            return Err(Error::failed(format!(
                "`{}` is not a hoist deploy root; not deleting it",
                self.root.display()
            ))
            .hint("check the host's path in `Hoist.toml`, or delete the directory by hand"));
        }
        remove_tree(&self.root)
    }
}

fn stand_in(id: &ReleaseId, status: ReleaseStatus, why: &str) -> ReleaseInfo {
    ReleaseInfo {
        id: id.clone(),
        status,
        content_hash: String::new(),
        config_hash: String::new(),
        created_at: String::new(),
        created_by: String::new(),
        source_rev: None,
        config_snapshot: serde_json::Value::Null,
        error: Some(why.to_owned()),
    }
}

/// The release id a link like `releases/<id>` or `../<id>` names.
fn id_at_end(target: &Path) -> Option<ReleaseId> {
    target.file_name()?.to_str()?.parse().ok()
}

/// A name no other writer picks: this process, a counter, and `what` for reading.
fn temp_suffix(what: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{what}-{}-{count}", std::process::id())
}

fn temp_path(path: &Path) -> PathBuf {
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

fn remove_if_present(path: &Path) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;

    fn id(n: u32) -> ReleaseId {
        format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
    }

    fn info(n: u32) -> ReleaseInfo {
        ReleaseInfo {
            content_hash: "ab".repeat(32),
            config_hash: "cd".repeat(32),
            created_at: "2026-11-21T00:00:00Z".into(),
            created_by: "alice".into(),
            ..stand_in(&id(n), ReleaseStatus::Uploading, "")
        }
    }

    fn layout() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::open(dir.path().join("app"));
        layout.ensure().unwrap();
        (dir, layout)
    }

    /// A release as an upload leaves it: recorded, with a tree, still `Uploading`.
    fn upload(layout: &Layout, n: u32) {
        layout.begin_release(&info(n)).unwrap();
        fs::create_dir(layout.release_dir(&id(n))).unwrap();
        fs::write(layout.release_dir(&id(n)).join("version"), n.to_string()).unwrap();
    }

    fn ready(layout: &Layout, n: u32) {
        upload(layout, n);
        layout.mark_ready(&id(n)).unwrap();
    }

    fn consistent(layout: &Layout) -> HostReleases {
        let host = layout.read().unwrap();
        assert_eq!(host.chain.violations(), Vec::<String>::new());
        host
    }

    fn order(host: &HostReleases) -> Vec<ReleaseId> {
        host.chain
            .ordered()
            .iter()
            .map(|meta| meta.id.clone())
            .collect()
    }

    #[test]
    fn ensure_creates_the_layout_with_a_private_config_dir() {
        let (_dir, layout) = layout();
        layout.ensure().unwrap();
        for name in [
            "releases", "meta", "shared", "config", "run", "logs", ".hoist",
        ] {
            assert!(layout.root().join(name).is_dir(), "{name}");
        }
        let mode = layout.config_dir().metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn releases_are_recorded_linked_and_read_back() {
        let (_dir, layout) = layout();
        assert!(layout.read().unwrap().chain.is_empty());
        for n in 1..=3 {
            ready(&layout, n);
        }
        upload(&layout, 4);
        let host = consistent(&layout);
        assert_eq!(order(&host), [id(1), id(2), id(3), id(4)]);
        assert_eq!(host.chain.status_of(&id(4)), Some(ReleaseStatus::Uploading));
        assert_eq!(host.infos[&id(2)].created_by, "alice");
        let link = fs::read_link(layout.meta_dir(&id(2)).join("previous")).unwrap();
        assert_eq!(link, Path::new("../20261121T000001Z-0000abcd"));
        let error = layout.begin_release(&info(2)).unwrap_err();
        assert!(error.message.contains("already exists"), "{error}");
    }

    #[test]
    fn switch_live_retires_the_old_live_and_refuses_incomplete_releases() {
        let (_dir, layout) = layout();
        ready(&layout, 1);
        ready(&layout, 2);
        upload(&layout, 3);
        layout.switch_live(&id(1)).unwrap();
        layout.switch_live(&id(2)).unwrap();
        let host = consistent(&layout);
        assert_eq!(host.live, Some(id(2)));
        assert_eq!(host.infos[&id(1)].status, ReleaseStatus::Retired);
        assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Live));
        let version = fs::read_to_string(layout.live_link().join("version")).unwrap();
        assert_eq!(version, "2");
        assert!(layout.switch_live(&id(3)).is_err());
        assert!(layout.switch_live(&id(9)).is_err());
        assert_eq!(layout.live().unwrap(), Some(id(2)));
    }

    #[test]
    fn live_never_goes_missing_during_switches() {
        let (_dir, layout) = layout();
        ready(&layout, 1);
        ready(&layout, 2);
        layout.switch_live(&id(1)).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (done, link) = (Arc::clone(&done), layout.live_link());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let version = fs::read_to_string(link.join("version"));
                    assert!(
                        version.is_ok_and(|v| v == "1" || v == "2"),
                        "live went missing"
                    );
                    reads += 1;
                }
                reads
            })
        };
        for round in 0..200 {
            layout.switch_live(&id(1 + round % 2)).unwrap();
        }
        done.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        consistent(&layout);
    }

    #[test]
    fn remove_joins_the_chain_on_disk_and_refuses_live() {
        let (_dir, layout) = layout();
        for n in 1..=4 {
            ready(&layout, n);
        }
        layout.switch_live(&id(4)).unwrap();
        layout.remove(&id(2)).unwrap();
        layout.remove(&id(1)).unwrap();
        let host = consistent(&layout);
        assert_eq!(order(&host), [id(3), id(4)]);
        assert!(!layout.release_dir(&id(2)).exists());
        assert!(!layout.meta_dir(&id(2)).exists());
        let error = layout.remove(&id(4)).unwrap_err();
        assert!(error.message.contains("is live"), "{error}");
        assert!(layout.release_dir(&id(4)).is_dir());
    }

    #[test]
    fn prune_removes_failed_and_old_releases_but_not_live_or_its_previous() {
        let (_dir, layout) = layout();
        for n in 1..=6 {
            ready(&layout, n);
        }
        layout.switch_live(&id(3)).unwrap();
        layout.mark_failed(&id(5), "health check failed").unwrap();
        upload(&layout, 7);
        let removed = layout.prune(2).unwrap();
        assert_eq!(removed, [id(1), id(5)]);
        let host = consistent(&layout);
        assert_eq!(order(&host), [id(2), id(3), id(4), id(6), id(7)]);
        for gone in [1, 5] {
            assert!(!layout.release_dir(&id(gone)).exists());
        }
    }

    #[test]
    fn mark_failed_records_why_and_refuses_live() {
        let (_dir, layout) = layout();
        ready(&layout, 1);
        ready(&layout, 2);
        layout.switch_live(&id(1)).unwrap();
        layout
            .mark_failed(&id(2), "post_upload exited with status 1")
            .unwrap();
        let host = consistent(&layout);
        assert_eq!(host.infos[&id(2)].status, ReleaseStatus::Failed);
        assert_eq!(
            host.infos[&id(2)].error.as_deref(),
            Some("post_upload exited with status 1")
        );
        assert!(layout.mark_failed(&id(1), "no").is_err());
        assert_eq!(
            host.chain.rollback_target(None),
            Err(hoist_core::release_chain::ChainError::NoRollbackTarget)
        );
    }

    #[test]
    fn cut_off_uploads_and_removals_are_discarded() {
        let (_dir, layout) = layout();
        ready(&layout, 1);
        upload(&layout, 2);
        fs::create_dir(layout.meta_dir(&id(3))).unwrap();
        let aside = layout.releases_dir().join(".removed-x");
        fs::create_dir_all(aside.join("sub")).unwrap();
        fs::set_permissions(aside.join("sub"), fs::Permissions::from_mode(0o500)).unwrap();
        let host = consistent(&layout);
        assert_eq!(host.chain.status_of(&id(3)), Some(ReleaseStatus::Uploading));
        assert_eq!(layout.discard_incomplete().unwrap(), [id(2), id(3)]);
        let host = consistent(&layout);
        assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Failed));
        assert_eq!(
            host.infos[&id(3)].error.as_deref(),
            Some("its upload was cut off")
        );
        assert!(!aside.exists());
        assert_eq!(layout.prune(5).unwrap(), [id(2), id(3)]);
    }

    #[test]
    fn write_config_replaces_the_files_privately() {
        let (_dir, layout) = layout();
        let file = |name: &str, text: &str| ConfigFile {
            name: name.into(),
            contents: text.into(),
        };
        layout
            .write_config(&[file("app.env", "A=1\n"), file("old.conf", "x")])
            .unwrap();
        layout.write_config(&[file("app.env", "A=2\n")]).unwrap();
        let names: Vec<_> = fs::read_dir(layout.config_dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["app.env"]);
        let path = layout.config_dir().join("app.env");
        assert_eq!(fs::read_to_string(&path).unwrap(), "A=2\n");
        assert_eq!(path.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        assert!(layout.write_config(&[file("../escape", "x")]).is_err());
    }

    #[test]
    fn destroy_deletes_a_layout_but_not_a_stranger() {
        let (dir, layout) = layout();
        ready(&layout, 1);
        layout.destroy().unwrap();
        assert!(!layout.root().exists());
        layout.destroy().unwrap();
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        fs::write(home.join("notes.txt"), "mine").unwrap();
        assert!(Layout::open(&home).destroy().is_err());
        assert!(home.join("notes.txt").exists());
    }
}
