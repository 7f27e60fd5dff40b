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

mod release_config;

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hoist_core::release_chain::{ChainChange, ReleaseChain, ReleaseMeta};
use hoist_core::{ReleaseId, ReleaseStatus};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs::{
    remove_if_present, remove_tree, replace_symlink, sync_dir, temp_suffix, write_file_atomic,
    write_json,
};
use crate::hostside::root_mark;
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

    /// Claims the root (`root_mark::claim`: a foreign one only with `adopt`), then creates
    /// every directory of the layout that is missing; `config/` is 0700.
    pub fn ensure(&self, adopt: bool) -> Result<()> {
        root_mark::claim(&self.root, adopt)?;
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

    /// `meta/<id>/config/`: the copy of `config/` a release was made ready with (0700, files
    /// 0600: it holds secrets).
    pub fn kept_config_dir(&self, id: &ReleaseId) -> PathBuf {
        self.meta_dir(id).join("config")
    }

    /// Where release `id` reads its configuration: its own copy, or `config/` for a release
    /// made before releases kept one.
    pub fn release_config_dir(&self, id: &ReleaseId) -> PathBuf {
        let kept = self.kept_config_dir(id);
        if kept.is_dir() {
            kept
        } else {
            self.config_dir()
        }
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
                config_kept: self.kept_config_dir(id).is_dir(),
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
            .hint("make a new release with `hoist release ENV` (it marks this one failed); `hoist releases prune ENV` then removes it"));
        }
        let change = chain.plan_ready(id)?;
        if !change.is_empty() {
            release_config::keep(self, id)?;
        }
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
        // Before the link moves, and every time: `live` never points at a release whose
        // configuration is not in `config/`, and a cut-off switch is finished by the next.
        release_config::restore(self, id)?;
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

    /// Deletes what hoist created in the root (`root_mark::destroy`): never what was there
    /// before hoist adopted it, never through a symlink.
    pub fn destroy(&self) -> Result<()> {
        root_mark::destroy(&self.root)
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
        config_kept: false,
    }
}

/// The release id a link like `releases/<id>` or `../<id>` names.
fn id_at_end(target: &Path) -> Option<ReleaseId> {
    target.file_name()?.to_str()?.parse().ok()
}

#[cfg(test)]
mod tests;
