//! Each release keeps the configuration it was made ready with: `meta/<id>/config/`, a copy
//! of `config/` (0700, files 0600: it holds secrets). Switching `live` to a release puts its
//! copy back into `config/`, so a rollback runs with what that release was deployed with,
//! and a new instance reads its own release's copy (blue-green starts it before the switch).

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use hoist_core::ReleaseId;

use crate::error::{Error, Result};
use crate::hostside::atomic_fs::{remove_tree, sync_dir, temp_suffix};
use crate::hostside::layout::Layout;
use crate::ports::host::ConfigFile;

/// Copies `config/` into release `id`'s meta directory: written whole under a temporary
/// name, then renamed into place, so a release has its complete copy or none. Nothing to
/// copy when `config/` does not exist.
pub fn keep(layout: &Layout, id: &ReleaseId) -> Result<()> {
    let Some(files) = read_files(&layout.config_dir())? else {
        return Ok(());
    };
    let meta = layout.meta_dir(id);
    let kept = layout.kept_config_dir(id);
    let temp = meta.join(format!(".config-{}.tmp", temp_suffix(id.as_str())));
    let written = (|| -> std::io::Result<()> {
        fs::DirBuilder::new().mode(0o700).create(&temp)?;
        for file in &files {
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(temp.join(&file.name))?;
            out.write_all(&file.contents)?;
            out.sync_all()?;
        }
        fs::File::open(&temp)?.sync_all()
    })();
    if let Err(error) = written {
        let _ = remove_tree(&temp);
        return Err(Error::io("write the configuration copy", &temp, error));
    }
    // A copy from a mark_ready that was cut off before the release was linked.
    remove_tree(&kept)?;
    fs::rename(&temp, &kept).map_err(|e| Error::io("rename", &temp, e))?;
    sync_dir(&meta)
}

/// Puts release `id`'s copy back into `config/`; returns whether it had one (a release made
/// before releases kept their configuration leaves `config/` as it is).
pub fn restore(layout: &Layout, id: &ReleaseId) -> Result<bool> {
    match read_files(&layout.kept_config_dir(id))? {
        Some(files) => layout.write_config(&files).map(|()| true),
        None => Ok(false),
    }
}

/// The plain files of `dir`, or `None` when it does not exist. Temporary files a cut-off
/// write left behind are not configuration.
fn read_files(dir: &Path) -> Result<Option<Vec<ConfigFile>>> {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::io("read", dir, error)),
    };
    let mut files = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| Error::io("read", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let plain = entry.file_type().is_ok_and(|kind| kind.is_file());
        if !plain || (name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let path = entry.path();
        let contents = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        files.push(ConfigFile { name, contents });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(files))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn id() -> ReleaseId {
        "20261121T000001Z-0000abcd".parse().unwrap()
    }

    fn file(name: &str, contents: &str) -> ConfigFile {
        ConfigFile {
            name: name.to_owned(),
            contents: contents.as_bytes().to_vec(),
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_kept_copy_is_private_and_comes_back_into_config() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::open(dir.path());
        layout.ensure(false).unwrap();
        fs::create_dir_all(layout.meta_dir(&id())).unwrap();
        assert_eq!(layout.release_config_dir(&id()), layout.config_dir());
        layout
            .write_config(&[file("env", "GREETING=hello\n"), file("app.ini", "a=1\n")])
            .unwrap();
        keep(&layout, &id()).unwrap();
        let kept = layout.kept_config_dir(&id());
        assert_eq!(layout.release_config_dir(&id()), kept);
        assert_eq!(mode(&kept), 0o700);
        assert_eq!(mode(&kept.join("env")), 0o600);

        layout
            .write_config(&[file("env", "GREETING=bonjour\n")])
            .unwrap();
        assert!(restore(&layout, &id()).unwrap());
        let config = layout.config_dir();
        assert_eq!(
            fs::read_to_string(config.join("env")).unwrap(),
            "GREETING=hello\n"
        );
        assert_eq!(fs::read_to_string(config.join("app.ini")).unwrap(), "a=1\n");
        assert_eq!(mode(&config.join("app.ini")), 0o600);
        // Keeping again replaces the copy whole.
        layout.write_config(&[file("env", "X=1\n")]).unwrap();
        keep(&layout, &id()).unwrap();
        let names: Vec<_> = fs::read_dir(&kept)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["env"]);
    }

    #[test]
    fn a_release_without_a_copy_leaves_config_alone() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::open(dir.path());
        layout.ensure(false).unwrap();
        layout.write_config(&[file("env", "A=1\n")]).unwrap();
        assert!(!restore(&layout, &id()).unwrap());
        assert_eq!(
            fs::read_to_string(layout.config_dir().join("env")).unwrap(),
            "A=1\n"
        );
        // Nothing to keep without a `config/`.
        let bare = tempfile::tempdir().unwrap();
        let layout = Layout::open(bare.path());
        fs::create_dir_all(layout.meta_dir(&id())).unwrap();
        keep(&layout, &id()).unwrap();
        assert!(!layout.kept_config_dir(&id()).exists());
    }
}
