//! Which store `--state` (or `HOIST_STATE`) names: a `postgres://` or `postgresql://` URL is
//! a PostgreSQL database, anything else a SQLite file; by default `.hoist/state.db` beside
//! the spec.

use std::path::Path;

use crate::adapters::postgres_store::PostgresStore;
use crate::adapters::postgres_store::store_url::is_postgres_url;
use crate::adapters::secret_box::{KEY_FILE_VARIABLE, KEY_VARIABLE, SecretKeeper, SecretKey};
use crate::adapters::sqlite_store::SqliteStore;
use crate::error::Result;
use crate::ports::store::Store;

pub(super) fn open_store(state: Option<&Path>, spec_dir: &Path) -> Result<Box<dyn Store>> {
    match state {
        Some(state) => match state.to_str().filter(|state| is_postgres_url(state)) {
            Some(url) => Ok(Box::new(PostgresStore::open_with(url, shared_key()?)?)),
            None => Ok(Box::new(SqliteStore::open(state)?)),
        },
        None => Ok(Box::new(SqliteStore::open(
            &spec_dir.join(".hoist").join("state.db"),
        )?)),
    }
}

/// The key a shared (PostgreSQL) store seals webhook secrets with: `HOIST_SECRET_KEY` (64
/// hex digits), or the file `HOIST_SECRET_KEY_FILE` names; the same for every controller.
fn shared_key() -> Result<SecretKeeper> {
    let given = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    let key = match (given(KEY_VARIABLE), given(KEY_FILE_VARIABLE)) {
        (Some(hex), _) => SecretKey::from_hex(&hex)
            .map_err(|error| error.context(format!("`{KEY_VARIABLE}` is not a key")))?,
        (None, Some(path)) => SecretKey::read_file(Path::new(&path))?,
        (None, None) => return Ok(SecretKeeper::missing()),
    };
    Ok(SecretKeeper::given(key))
}
