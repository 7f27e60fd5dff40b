//! Which binary a controller installs on hosts when the spec names none: the host-only build
//! beside it (`hoist-host`, a fraction of the size: the controller's commands, the daemon, the
//! dashboard and the stores are not linked in), when that one is of the same build — else the
//! controller's own binary, which runs the host side as well. A `hoist-host` left from an
//! earlier build (`cargo run` rebuilds `hoist` alone) is passed over, not installed.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

use crate::cli::host_cli::BUILD_ID_FLAG;

/// The host-only binary's file name, beside the controller's.
pub const HOST_BUILD_NAME: &str = "hoist-host";

/// What this process already found out about each candidate, by the candidate's identity: a
/// `hoist-host` rebuilt while a daemon runs is a new file, checked again.
static CHECKED: Mutex<Option<HashMap<Identity, bool>>> = Mutex::new(None);

/// A file as the file system names it: path, device, inode, size, modification time.
type Identity = (PathBuf, u64, u64, u64, i64, i64);

/// The binary to install on hosts for the controller binary `controller`.
pub fn host_binary_for(controller: &Path) -> PathBuf {
    let candidate = controller.with_file_name(HOST_BUILD_NAME);
    let Ok(metadata) = std::fs::metadata(&candidate) else {
        return controller.to_owned();
    };
    let identity = (
        candidate.clone(),
        metadata.dev(),
        metadata.ino(),
        metadata.size(),
        metadata.mtime(),
        metadata.mtime_nsec(),
    );
    let mut checked = CHECKED.lock().unwrap_or_else(PoisonError::into_inner);
    let same_build = *checked
        .get_or_insert_with(HashMap::new)
        .entry(identity)
        .or_insert_with(|| metadata.is_file() && is_of_this_build(&candidate));
    match same_build {
        true => candidate,
        false => controller.to_owned(),
    }
}

/// Whether `candidate` is a `hoist-host` built with this very code (`crate::BUILD_ID`).
fn is_of_this_build(candidate: &Path) -> bool {
    Command::new(candidate)
        .arg(BUILD_ID_FLAG)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|output| {
            output.status.success()
                && String::from_utf8_lossy(&output.stdout).trim() == crate::BUILD_ID
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{text}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A directory with a controller and, when given, a `hoist-host` script beside it.
    fn controller_beside(host_build: Option<&str>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let controller = script(dir.path(), "hoist", "exit 1");
        if let Some(text) = host_build {
            script(dir.path(), HOST_BUILD_NAME, text);
        }
        (dir, controller)
    }

    #[test]
    fn a_host_build_of_this_build_is_chosen_and_any_other_passed_over() {
        let same_build = format!("[ \"$1\" = --build-id ] && echo {}", crate::BUILD_ID);
        let (same, controller) = controller_beside(Some(&same_build));
        assert_eq!(
            host_binary_for(&controller),
            same.path().join(HOST_BUILD_NAME)
        );

        let (stale, controller) = controller_beside(Some("echo 0.1.0-0000000000000000"));
        assert_eq!(host_binary_for(&controller), controller);

        let broken_build = format!("echo {}; exit 3", crate::BUILD_ID);
        let (_broken, controller) = controller_beside(Some(&broken_build));
        assert_eq!(host_binary_for(&controller), controller);

        let (_none, controller) = controller_beside(None);
        assert_eq!(host_binary_for(&controller), controller);

        // Rebuilt while this process runs (a daemon): the new file is checked again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        script(stale.path(), HOST_BUILD_NAME, &same_build);
        let controller = stale.path().join("hoist");
        assert_eq!(
            host_binary_for(&controller),
            stale.path().join(HOST_BUILD_NAME)
        );
    }
}
