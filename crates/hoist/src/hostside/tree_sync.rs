//! Making a new release's tree durable before its manifest says it is complete.
//!
//! A release with a few new files (a redeploy that changed a handful) gets an fsync of each
//! new file and of each directory it created or changed; a larger one gets one `syncfs` of
//! the filesystem. `syncfs` writes out everything dirty on that filesystem, the running
//! service's logs and data among them, and that writeback runs in kernel threads that take
//! a core for a millisecond at a time: on a busy host it lands on the very service the
//! deploy is swapping (the zero-downtime benchmark's p99 during swaps, docs/BENCHMARKS.md).
//! Each file's fsync commits the journal once, though, so past a handful of new files the
//! one `syncfs` costs less. Directories are cheap after the first: their changes are
//! committed together.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Up to this many new files are synced one by one; more, and the filesystem is.
pub const MOST_FILES_SYNCED_ONE_BY_ONE: usize = 16;

/// How a tree is made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPlan {
    /// An fsync of each new file and each directory.
    EachPath,
    /// One `syncfs`.
    Filesystem,
}

impl SyncPlan {
    pub fn for_new_files(count: usize) -> Self {
        if count <= MOST_FILES_SYNCED_ONE_BY_ONE {
            Self::EachPath
        } else {
            Self::Filesystem
        }
    }
}

/// Syncs `new_files` and `dirs` (which must name every directory whose entries changed,
/// the new tree's parent included), or the whole filesystem of `tree` when there are many
/// new files or any path cannot be synced on its own (a directory without read permission).
/// Returns the plan that was carried out.
pub fn sync_tree(tree: &Path, new_files: &[PathBuf], dirs: &[PathBuf]) -> Result<SyncPlan> {
    if SyncPlan::for_new_files(new_files.len()) == SyncPlan::EachPath
        && sync_each(new_files.iter().chain(dirs)).is_ok()
    {
        return Ok(SyncPlan::EachPath);
    }
    let handle = File::open(tree).map_err(|e| Error::io("open", tree, e))?;
    nix::unistd::syncfs(&handle).map_err(|e| Error::io("sync", tree, io::Error::from(e)))?;
    Ok(SyncPlan::Filesystem)
}

fn sync_each<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> io::Result<()> {
    for path in paths {
        File::open(path)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_new_files_are_synced_one_by_one_and_many_by_the_filesystem() {
        assert_eq!(SyncPlan::for_new_files(0), SyncPlan::EachPath);
        assert_eq!(
            SyncPlan::for_new_files(MOST_FILES_SYNCED_ONE_BY_ONE),
            SyncPlan::EachPath
        );
        assert_eq!(
            SyncPlan::for_new_files(MOST_FILES_SYNCED_ONE_BY_ONE + 1),
            SyncPlan::Filesystem
        );
    }

    #[test]
    fn paths_are_synced_each_and_a_path_that_cannot_be_falls_back_to_the_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.txt");
        std::fs::write(&file, "a").unwrap();
        let dirs = [dir.path().to_path_buf()];
        let plan = sync_tree(dir.path(), std::slice::from_ref(&file), &dirs).unwrap();
        assert_eq!(plan, SyncPlan::EachPath);
        let gone = dir.path().join("gone.txt");
        let plan = sync_tree(dir.path(), &[file, gone], &dirs).unwrap();
        assert_eq!(plan, SyncPlan::Filesystem);
        let many: Vec<PathBuf> = (0..=MOST_FILES_SYNCED_ONE_BY_ONE)
            .map(|i| {
                let path = dir.path().join(format!("{i}.txt"));
                std::fs::write(&path, "x").unwrap();
                path
            })
            .collect();
        assert_eq!(
            sync_tree(dir.path(), &many, &dirs).unwrap(),
            SyncPlan::Filesystem
        );
    }
}
