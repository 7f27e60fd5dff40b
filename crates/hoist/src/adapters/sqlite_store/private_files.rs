//! The store's files are private to their owner: the database and its `-wal` and `-shm`
//! (and the key file beside them) are created 0600, in a directory created 0700, because
//! they hold the timeline of every deploy and the webhooks' sealed secrets. Files that
//! exist are tightened when hoist opens them, if this user owns them. A directory that
//! exists is tightened only when it is hoist's own `.hoist` (beside the spec): `--state`
//! may name a file in a shared directory (`/tmp`, `/var/lib`), whose mode is not hoist's
//! to change. SQLite gives the `-wal` and `-shm` files it creates the database file's mode.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of the store's files.
pub const FILE_MODE: u32 = 0o600;
/// The mode of the directory hoist creates for them.
pub const DIR_MODE: u32 = 0o700;
/// The directory beside the spec that holds the default store.
const OWN_DIR: &str = ".hoist";

/// Makes `path`'s directory and file private before SQLite opens it (creating both if
/// needed), and tightens its `-wal` and `-shm` files if they exist.
pub(super) fn prepare(path: &Path) -> io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        if parent.exists() {
            if parent.file_name().is_some_and(|name| name == OWN_DIR) {
                tighten(parent, DIR_MODE)?;
            }
        } else {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(parent)?;
        }
    }
    create_private(path)?;
    for companion in companions(path) {
        if companion.exists() {
            tighten(&companion, FILE_MODE)?;
        }
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 unless it exists; tightens it if it does.
pub fn create_private(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        // Not a file (a directory given as `--state`): SQLite refuses it with a better message.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && !path.is_file() => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => tighten(path, FILE_MODE),
        Err(error) => Err(error),
    }
}

/// `state.db-wal` and `state.db-shm` beside `state.db`.
fn companions(path: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Takes away every permission `mode` does not grant, if this user owns `path`.
fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let metadata = fs::metadata(path)?;
    let current = metadata.mode() & 0o7777;
    let owned = metadata.uid() == nix::unistd::geteuid().as_raw();
    if owned && current & !mode != 0 {
        fs::set_permissions(path, Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn creates_private_and_tightens_hoists_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join(".hoist");
        let path = own.join("state.db");
        prepare(&path).unwrap();
        assert_eq!((mode(&own), mode(&path)), (0o700, 0o600));

        fs::set_permissions(&own, Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        let wal = own.join("state.db-wal");
        fs::write(&wal, b"").unwrap();
        fs::set_permissions(&wal, Permissions::from_mode(0o666)).unwrap();
        prepare(&path).unwrap();
        assert_eq!((mode(&own), mode(&path), mode(&wal)), (0o700, 0o600, 0o600));
    }

    #[test]
    fn leaves_a_directory_it_did_not_make_alone() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, Permissions::from_mode(0o755)).unwrap();
        prepare(&shared.join("state.db")).unwrap();
        assert_eq!(mode(&shared), 0o755);
        assert_eq!(mode(&shared.join("state.db")), 0o600);
        let made = dir.path().join("a/b/state.db");
        prepare(&made).unwrap();
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    }
}
