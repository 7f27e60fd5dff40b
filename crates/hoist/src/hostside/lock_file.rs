//! The host's lock file, `.hoist/lock`: JSON naming who holds the deploy root (owner, pid,
//! machine, time, message). Every change happens under an exclusive `flock` of
//! `.hoist/lock.guard`, held only during the call, so two reclaimers of a dead holder's lock
//! cannot both win.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::hostside::proc_identity;
use crate::ports::host::{LockHolder, LockOutcome};

/// The name this machine writes into `LockHolder::machine`.
pub fn machine_name() -> Result<String> {
    nix::unistd::gethostname()
        .map(|name| name.to_string_lossy().into_owned())
        .map_err(|error| Error::internal("cannot read this machine's hostname").cause(error))
}

/// Takes the lock of the deploy root at `root` for `holder`. Taking it again with the same
/// holder succeeds; a holder on this machine whose pid is gone is replaced.
pub fn acquire(root: &Path, holder: &LockHolder) -> Result<LockOutcome> {
    let paths = Paths::new(root)?;
    let _guard = paths.guard()?;
    let Some(current) = paths.read()? else {
        paths.write(holder)?;
        return Ok(LockOutcome::Acquired);
    };
    if same_holder(&current, holder) {
        return Ok(LockOutcome::Acquired);
    }
    if current.machine == machine_name()? && !proc_identity::is_running(current.pid) {
        paths.write(holder)?;
        return Ok(LockOutcome::Reclaimed { stale: current });
    }
    Ok(LockOutcome::Held { holder: current })
}

/// Drops the lock if `holder` holds it (same pid, machine and command); otherwise leaves it.
pub fn release(root: &Path, holder: &LockHolder) -> Result<()> {
    // A root that is gone (destroyed) holds no lock; don't create one to look.
    if !root.join(".hoist").is_dir() {
        return Ok(());
    }
    let paths = Paths::new(root)?;
    let _guard = paths.guard()?;
    match paths.read()? {
        Some(current) if same_holder(&current, holder) => fs::remove_file(&paths.lock)
            .map_err(|e| Error::io("remove the lock file", &paths.lock, e)),
        _ => Ok(()),
    }
}

fn same_holder(a: &LockHolder, b: &LockHolder) -> bool {
    a.pid == b.pid && a.machine == b.machine && a.command_id == b.command_id
}

struct Paths {
    lock: PathBuf,
    guard: PathBuf,
    temporary: PathBuf,
}

impl Paths {
    fn new(root: &Path) -> Result<Self> {
        let dir = root.join(".hoist");
        fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
        Ok(Self {
            lock: dir.join("lock"),
            guard: dir.join("lock.guard"),
            temporary: dir.join("lock.tmp"),
        })
    }

    /// The exclusive lock on the guard file; released when the file is dropped.
    fn guard(&self) -> Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.guard)
            .map_err(|e| Error::io("open", &self.guard, e))?;
        file.lock().map_err(|e| Error::io("lock", &self.guard, e))?;
        Ok(file)
    }

    fn read(&self) -> Result<Option<LockHolder>> {
        let text = match fs::read_to_string(&self.lock) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io("read the lock file", &self.lock, error)),
        };
        serde_json::from_str(&text).map(Some).map_err(|error| {
            Error::failed(format!(
                "the lock file `{}` is unreadable",
                self.lock.display()
            ))
            .cause(error)
            .hint("if no hoist command is running against this host, delete the file")
        })
    }

    /// Writes a temporary file and renames it over the lock: never a half-written lock.
    fn write(&self, holder: &LockHolder) -> Result<()> {
        let json = serde_json::to_vec_pretty(holder)
            .map_err(|e| Error::internal("cannot serialize the lock holder").cause(e))?;
        let write = || -> io::Result<()> {
            let mut file = File::create(&self.temporary)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&self.temporary, &self.lock)
        };
        write().map_err(|e| Error::io("write the lock file", &self.lock, e))
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn holder(pid: u32, command_id: i64) -> LockHolder {
        LockHolder {
            owner: "alice@ci-7".to_owned(),
            pid,
            machine: machine_name().unwrap(),
            started_at: "2026-11-21T23:59:59Z".to_owned(),
            message: "hoist deploy prod".to_owned(),
            command_id: Some(command_id),
        }
    }

    fn me(command_id: i64) -> LockHolder {
        holder(std::process::id(), command_id)
    }

    #[test]
    fn acquires_and_holds() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(acquire(root.path(), &me(1)).unwrap(), LockOutcome::Acquired);
        let written: LockHolder =
            serde_json::from_str(&fs::read_to_string(root.path().join(".hoist/lock")).unwrap())
                .unwrap();
        assert_eq!(written, me(1));
        assert_eq!(
            acquire(root.path(), &me(2)).unwrap(),
            LockOutcome::Held { holder: me(1) }
        );
    }

    #[test]
    fn the_same_holder_acquires_again() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(acquire(root.path(), &me(1)).unwrap(), LockOutcome::Acquired);
        let later = LockHolder {
            started_at: "2026-11-22T00:00:00Z".to_owned(),
            ..me(1)
        };
        assert_eq!(acquire(root.path(), &later).unwrap(), LockOutcome::Acquired);
    }

    #[test]
    fn only_the_holder_releases() {
        let root = tempfile::tempdir().unwrap();
        acquire(root.path(), &me(1)).unwrap();
        release(root.path(), &me(2)).unwrap();
        assert!(root.path().join(".hoist/lock").exists());
        release(root.path(), &me(1)).unwrap();
        assert!(!root.path().join(".hoist/lock").exists());
        release(root.path(), &me(1)).unwrap();
        assert_eq!(acquire(root.path(), &me(2)).unwrap(), LockOutcome::Acquired);
    }

    #[test]
    fn a_dead_holder_is_reclaimed() {
        let root = tempfile::tempdir().unwrap();
        let mut dead = Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        acquire(root.path(), &holder(dead_pid, 1)).unwrap();
        assert_eq!(
            acquire(root.path(), &me(2)).unwrap(),
            LockOutcome::Reclaimed {
                stale: holder(dead_pid, 1)
            }
        );
        assert_eq!(
            acquire(root.path(), &me(3)).unwrap(),
            LockOutcome::Held { holder: me(2) }
        );
    }

    #[test]
    fn a_holder_on_another_machine_is_never_reclaimed() {
        let root = tempfile::tempdir().unwrap();
        let mut dead = Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        let remote = LockHolder {
            machine: "some-other-machine".to_owned(),
            ..holder(dead_pid, 1)
        };
        acquire(root.path(), &remote).unwrap();
        assert_eq!(
            acquire(root.path(), &me(2)).unwrap(),
            LockOutcome::Held { holder: remote }
        );
    }

    #[test]
    fn a_corrupt_lock_file_is_an_error_with_a_hint() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join(".hoist")).unwrap();
        fs::write(root.path().join(".hoist/lock"), "{ half").unwrap();
        let error = acquire(root.path(), &me(1)).unwrap_err();
        assert!(error.message.contains("unreadable"), "{error}");
        assert!(!error.hints.is_empty());
    }

    #[test]
    fn exactly_one_of_many_racers_acquires() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let outcomes: Vec<LockOutcome> = std::thread::scope(|scope| {
            let racers: Vec<_> = (0..16)
                .map(|id| scope.spawn(move || acquire(root, &me(id)).unwrap()))
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let acquired = outcomes
            .iter()
            .filter(|outcome| **outcome == LockOutcome::Acquired)
            .count();
        assert_eq!(acquired, 1, "{outcomes:?}");
        let held: Vec<_> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                LockOutcome::Held { holder } => Some(holder.command_id),
                _ => None,
            })
            .collect();
        assert_eq!(held.len(), 15);
        assert!(held.windows(2).all(|pair| pair[0] == pair[1]), "one winner");
    }
}
