//! The private directory one transport's ControlMaster socket (and its log) lives in: mode
//! 0700 under a per-user 0700 parent, a short path (sockets allow 108 bytes), removed on drop;
//! and a watch that wakes whoever waits for the socket the moment it appears.

use std::fs::DirBuilder;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Error, Result};

/// Longest parent we put sockets under, leaving room for `/<pid>-<n>/master`.
const MAX_PARENT_LENGTH: usize = 70;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

#[derive(Debug)]
pub(crate) struct ControlDir {
    path: PathBuf,
}

impl ControlDir {
    /// A new directory under `$XDG_RUNTIME_DIR/hoist-ssh` when that is short and plain, else
    /// under `/tmp/hoist-ssh-<uid>`.
    pub fn create() -> Result<Self> {
        let parent = private_parent()?;
        let pid = std::process::id();
        loop {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("{pid}-{id}"));
            // mkdir fails on anything already there, so the directory is ours.
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => {
                    return Err(Error::io("create the ssh control directory", &path, error));
                }
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// This user's private (0700) directory for ssh control sockets: `$XDG_RUNTIME_DIR/hoist-ssh`
/// when that is short and plain, else `/tmp/hoist-ssh-<uid>`. Shared masters live in it
/// directly; each transport's own master in a directory of its own under it.
pub(crate) fn private_parent() -> Result<PathBuf> {
    let uid = nix::unistd::getuid();
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let parent = match runtime_dir {
        Some(dir) if dir.is_absolute() && dir.is_dir() => dir.join("hoist-ssh"),
        _ => PathBuf::from(format!("/tmp/hoist-ssh-{uid}")),
    };
    let parent = if is_short_and_plain(&parent) {
        parent
    } else {
        PathBuf::from(format!("/tmp/hoist-ssh-{uid}"))
    };
    ensure_private_parent(&parent, uid.as_raw())?;
    Ok(parent)
}

/// Waits for something new in a directory: woken at once by inotify, or, where inotify is
/// unavailable, after the whole pause.
#[derive(Debug)]
pub(crate) struct EntryWatch {
    inotify: Option<Inotify>,
}

impl EntryWatch {
    /// Watches `dir` from now on: set it up before looking for what is awaited.
    pub fn new(dir: &Path) -> Self {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .ok()
            .filter(|inotify| {
                inotify
                    .add_watch(dir, AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
                    .is_ok()
            });
        Self { inotify }
    }

    /// Returns when an entry is created in the directory, or after `pause`.
    pub fn wait(&self, pause: Duration) {
        let Some(inotify) = &self.inotify else {
            std::thread::sleep(pause);
            return;
        };
        let timeout = PollTimeout::try_from(pause).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, timeout).is_ok_and(|ready| ready > 0) {
            // Drained, so the next wait blocks until something new.
            let _ = inotify.read_events();
        }
    }
}

impl Drop for ControlDir {
    fn drop(&mut self) {
        // Best effort: a leftover empty directory in a private parent harms nobody.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// ssh reads the control path as a config value: no spaces or quotes, and short enough.
fn is_short_and_plain(path: &Path) -> bool {
    path.to_str().is_some_and(|text| {
        text.len() <= MAX_PARENT_LENGTH
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-.".contains(c))
    })
}

/// Creates `parent` 0700, or checks that the existing one is a real directory of ours that
/// nobody else can enter (it may sit in a shared `/tmp`).
fn ensure_private_parent(parent: &Path, uid: u32) -> Result<()> {
    match DirBuilder::new().mode(0o700).create(parent) {
        Ok(()) => return Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(Error::io("create the ssh control directory", parent, error)),
    }
    let metadata = std::fs::symlink_metadata(parent)
        .map_err(|error| Error::io("inspect the ssh control directory", parent, error))?;
    if !metadata.is_dir() || metadata.uid() != uid || metadata.mode() & 0o077 != 0 {
        return Err(Error::failed(format!(
            "the ssh control directory `{}` is not a private directory of this user",
            parent.display()
        ))
        .hint("remove it (hoist creates it again, mode 0700)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_unique_directories_and_removes_them() {
        let first = ControlDir::create().unwrap();
        let second = ControlDir::create().unwrap();
        assert_ne!(first.path(), second.path());
        let metadata = std::fs::metadata(first.path()).unwrap();
        assert_eq!(metadata.mode() & 0o777, 0o700);
        assert!(first.path().join("master").as_os_str().len() < 100);
        let path = first.path().to_owned();
        drop(first);
        assert!(!path.exists());
    }

    #[test]
    fn the_watch_wakes_as_an_entry_appears() {
        let dir = ControlDir::create().unwrap();
        let watch = EntryWatch::new(dir.path());
        let path = dir.path().join("master");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::write(path, "").unwrap();
        });
        let started = std::time::Instant::now();
        watch.wait(Duration::from_secs(5));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "woken by the entry"
        );
        assert!(dir.path().join("master").exists());
        writer.join().unwrap();
        // Nothing new: the whole pause.
        let started = std::time::Instant::now();
        watch.wait(Duration::from_millis(30));
        assert!(started.elapsed() >= Duration::from_millis(25));
    }

    #[test]
    fn a_parent_others_can_enter_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let parent = temp.path().join("shared");
        std::fs::create_dir(&parent).unwrap();
        std::fs::set_permissions(&parent, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let error = ensure_private_parent(&parent, nix::unistd::getuid().as_raw()).unwrap_err();
        assert!(error.message.contains("not a private directory"), "{error}");
    }
}
