//! A deploy root's random id, `.hoist/root-id`, made on first use: what instance marks name.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The variable every instance carries: `<root id>:<slot>`, so `strays` finds instances of
/// this root that no record names, and a port's owner is told apart from another root's.
pub(crate) const INSTANCE_MARK: &str = "HOIST_INSTANCE";

/// The root's id, if it has one yet (for telling its instances from another root's).
pub(crate) fn read(root: &Path) -> Option<String> {
    let id = fs::read_to_string(root.join(".hoist").join("root-id")).ok()?;
    Some(id.trim().to_owned()).filter(|id| !id.is_empty())
}

pub(crate) fn read_or_create(root: &Path) -> Result<String> {
    let path = root.join(".hoist").join("root-id");
    if let Ok(id) = fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    let dir = root.join(".hoist");
    fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{}:{}:{nanos}", root.display(), std::process::id());
    let id = blake3::hash(seed.as_bytes()).to_hex()[..16].to_owned();
    // create_new: of two processes racing here, the first id wins and both use it.
    match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(mut file) => {
            file.write_all(id.as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io("write", &path, e))?;
            Ok(id)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let id = fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
            Ok(id.trim().to_owned())
        }
        Err(error) => Err(Error::io("create", &path, error)),
    }
}
