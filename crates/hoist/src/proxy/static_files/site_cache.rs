//! What a serving thread remembers between requests for a static site, to spare system
//! calls on each: the root directory held open (one `stat` a request checks it is still
//! what the root path leads to, instead of an open and a close), and which files have
//! pre-compressed variants (two `fstatat` a request otherwise, even for files with none).
//!
//! Both are keyed by the root directory's identity, so a `live` switch (a new release
//! directory) starts afresh at once. Variants are also checked again after a second, for
//! a release edited in place.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode};

/// How long what is known about a file's variants is trusted.
const VARIANTS_VALID: Duration = Duration::from_secs(1);
/// Past this many files the memory of variants starts over (a crawler walking a big site).
const MAX_REMEMBERED: usize = 10_000;

/// A directory's identity: device and inode.
pub type DirectoryId = (nix::libc::dev_t, nix::libc::ino_t);

#[derive(Debug, Default)]
pub struct SiteCache {
    root: Option<OpenRoot>,
    variants: KnownVariants,
}

/// Per path under the root: whether each variant exists, and since when that is known.
#[derive(Debug, Default)]
pub struct KnownVariants(HashMap<PathBuf, (Instant, [bool; 2])>);

#[derive(Debug)]
struct OpenRoot {
    path: PathBuf,
    id: DirectoryId,
    directory: OwnedFd,
}

impl SiteCache {
    /// The directory `path` leads to now, open, and what is known of its files' variants;
    /// none when it does not exist. A request that holds it resolves everything from it, so
    /// from one release.
    pub fn root(&mut self, path: &Path) -> Option<(&OwnedFd, &mut KnownVariants)> {
        let now = nix::sys::stat::stat(path).ok().map(|s| id(&s))?;
        let reusable = self
            .root
            .as_ref()
            .is_some_and(|root| root.id == now && root.path.as_os_str() == path.as_os_str());
        if !reusable {
            let directory = nix::fcntl::open(
                path,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .ok()?;
            // What was opened, which a switch right after the `stat` may have changed.
            let opened = nix::sys::stat::fstat(&directory).ok().map(|s| id(&s))?;
            self.variants.0.clear();
            self.root = Some(OpenRoot {
                path: path.to_owned(),
                id: opened,
                directory,
            });
        }
        let variants = &mut self.variants;
        self.root.as_ref().map(|root| (&root.directory, variants))
    }
}

impl KnownVariants {
    /// Which variants of `file` (relative to the root) exist, asking `check` when that is
    /// not known or no longer trusted.
    pub fn get(&mut self, file: &Path, check: impl FnOnce() -> [bool; 2]) -> [bool; 2] {
        let now = Instant::now();
        if let Some((checked, known)) = self.0.get(file)
            && now.duration_since(*checked) < VARIANTS_VALID
        {
            return *known;
        }
        let known = check();
        if self.0.len() >= MAX_REMEMBERED {
            self.0.clear();
        }
        self.0.insert(file.to_owned(), (now, known));
        known
    }
}

fn id(stat: &FileStat) -> DirectoryId {
    (stat.st_dev, stat.st_ino)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn the_root_is_reopened_when_its_path_leads_elsewhere_and_variants_start_over() {
        let dir = tempfile::tempdir().unwrap();
        for release in ["a", "b"] {
            fs::create_dir_all(dir.path().join(release)).unwrap();
        }
        let live = dir.path().join("live");
        symlink("a", &live).unwrap();
        let mut cache = SiteCache::default();
        let first = cache.root(&live).map(|(fd, _)| fstat_id(fd)).unwrap();
        let mut checks = 0;
        for _ in 0..3 {
            let (_, variants) = cache.root(&live).unwrap();
            variants.get(Path::new("app.js"), || {
                checks += 1;
                [true, false]
            });
        }
        assert_eq!(checks, 1, "known variants are not checked again at once");
        assert_eq!(cache.root(&live).map(|(fd, _)| fstat_id(fd)), Some(first));

        let temporary = dir.path().join("live.tmp");
        symlink("b", &temporary).unwrap();
        fs::rename(&temporary, &live).unwrap();
        let (fd, variants) = cache.root(&live).unwrap();
        assert_ne!(first, fstat_id(fd), "a switched root is opened again");
        let known = variants.get(Path::new("app.js"), || [false, false]);
        assert_eq!(
            known,
            [false, false],
            "a new release's variants are checked"
        );

        assert!(cache.root(&dir.path().join("missing")).is_none());
    }

    fn fstat_id(fd: &OwnedFd) -> DirectoryId {
        id(&nix::sys::stat::fstat(fd).unwrap())
    }
}
