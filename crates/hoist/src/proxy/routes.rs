//! The route table: where the proxy sends requests, whether the app is in maintenance, and
//! the file that keeps it across restarts. Readers see one whole table at a time; a change
//! is written to disk (temp, fsync, rename) before it is swapped in, so what an admin was
//! told is what a restarted proxy loads.

use std::fs::{self, File};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One version of the routes. `version` goes up by one with every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routes {
    /// Where requests go; none (and no `static_root`) means every request gets a 503.
    pub upstream: Option<SocketAddr>,
    /// A directory whose files answer requests instead of an upstream (a static site). It is
    /// resolved again on every request, so it may pass through the `live` symlink. Set only
    /// when `upstream` is none.
    #[serde(default)]
    pub static_root: Option<PathBuf>,
    /// When on, every request but the health paths gets a 503 maintenance page.
    #[serde(default)]
    pub maintenance: bool,
    /// Paths still forwarded during maintenance, so health checks keep passing.
    #[serde(default = "default_health_paths")]
    pub health_paths: Vec<String>,
    #[serde(default)]
    pub version: u64,
}

fn default_health_paths() -> Vec<String> {
    vec!["/health".to_owned()]
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            upstream: None,
            static_root: None,
            maintenance: false,
            health_paths: default_health_paths(),
            version: 0,
        }
    }
}

/// The live table, shared by every connection and the admin socket.
#[derive(Debug)]
pub struct RouteTable {
    path: PathBuf,
    current: RwLock<Arc<Routes>>,
    /// `current`'s version, readable without the lock: serving threads keep a copy of the
    /// table and only look at this to know their copy is still the current one.
    version: AtomicU64,
    /// Serializes changes, so two admins never both write version N+1.
    writer: Mutex<()>,
}

impl RouteTable {
    /// Loads `path` if it exists, or starts empty (no upstream) without writing anything.
    pub fn load(path: &Path) -> Result<Self> {
        let routes = match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::failed(format!("the route table {} is not valid", path.display()))
                    .cause(e)
                    .hint("fix or delete it; the proxy starts with no upstream without it")
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Routes::default(),
            Err(error) => return Err(Error::io("read the route table", path, error)),
        };
        Ok(Self {
            path: path.to_owned(),
            version: AtomicU64::new(routes.version),
            current: RwLock::new(Arc::new(routes)),
            writer: Mutex::new(()),
        })
    }

    /// The table as it is now; holding it keeps that version alive, never blocks changes.
    pub fn current(&self) -> Arc<Routes> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies `change` to a copy, persists it, then swaps it in whole.
    pub fn update(&self, change: impl FnOnce(&mut Routes)) -> Result<Arc<Routes>> {
        let _writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = Routes::clone(&self.current());
        change(&mut next);
        next.version += 1;
        write_atomically(&self.path, &next)?;
        let next = Arc::new(next);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&next);
        // After the swap: whoever sees this version finds at least it in `current`.
        self.version.store(next.version, Ordering::SeqCst);
        Ok(next)
    }

    /// The current table's version.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }
}

fn write_atomically(path: &Path, routes: &Routes) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(routes)
        .map_err(|e| Error::internal("could not encode the route table").cause(e))?;
    bytes.push(b'\n');
    let temporary = path.with_extension("json.tmp");
    let mut file =
        File::create(&temporary).map_err(|e| Error::io("create the route table", &temporary, e))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("write the route table", &temporary, e))?;
    fs::rename(&temporary, path).map_err(|e| Error::io("replace the route table", path, e))?;
    // The rename itself is durable only once the directory is synced.
    if let Some(directory) = path.parent() {
        File::open(directory)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("sync the proxy state directory", directory, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_persisted_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        let table = RouteTable::load(&path).unwrap();
        assert_eq!(*table.current(), Routes::default());
        assert!(!path.exists(), "loading must not write");

        let before = table.current();
        let upstream: SocketAddr = "127.0.0.1:4100".parse().unwrap();
        let after = table.update(|r| r.upstream = Some(upstream)).unwrap();
        assert_eq!(after.version, 1);
        assert_eq!(before.upstream, None, "a reader's snapshot never changes");

        let reloaded = RouteTable::load(&path).unwrap();
        assert_eq!(reloaded.current(), after);
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn a_table_written_before_static_roots_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        fs::write(
            &path,
            r#"{"upstream":"127.0.0.1:4100","maintenance":false,"health_paths":["/health"],"version":3}"#,
        )
        .unwrap();
        let routes = RouteTable::load(&path).unwrap().current();
        assert_eq!(routes.static_root, None);
        assert_eq!(routes.version, 3);
    }

    #[test]
    fn a_corrupt_table_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.json");
        fs::write(&path, "{ not json").unwrap();
        let error = RouteTable::load(&path).unwrap_err();
        assert!(error.to_string().contains("not valid"), "{error}");
    }
}
