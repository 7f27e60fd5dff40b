//! The SQLite state store: the embedded default `Store` (`.hoist/state.db` next to
//! `Hoist.toml`). One connection behind a mutex; WAL so readers in other processes do not
//! block the writer; a 5 s busy timeout so processes sharing the file wait their turn instead
//! of failing with "database is locked".
//!
//! Timestamps are stored as INTEGER milliseconds since the Unix epoch: a `jiff::Timestamp`
//! with whole milliseconds round-trips exactly, finer parts are truncated toward zero on the
//! way in (see `columns`). Enums are stored by name, holders and arguments as JSON.

mod columns;
mod commands;
mod environments;
mod events;
mod hosts;
mod leases;
mod live_instances;
mod migrations;
pub mod private_files;
mod queue;
mod tokens;
mod webhooks;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use hoist_core::{CommandStatus, EnvName, HostAddress};
use jiff::Timestamp;
use rusqlite::{Connection, ErrorCode};

use crate::adapters::secret_box::{SecretKeeper, SecretKey};
use crate::adapters::store_forwarding::forward_store_ports;
use crate::error::{Error, Result};
use crate::ports::command_queue::{ChangeOutcome, CommandQueue, ControllerRecord, ScheduledChange};
use crate::ports::host::LockHolder;
use crate::ports::store::{
    CommandFilter, CommandRecord, EnvironmentRecord, Event, EventFilter, LeaseOutcome,
    LiveInstance, NewCommand, NewEvent, RegisteredHost, ReleaseRecord, StepLogEntry, Store,
};
use crate::ports::token_store::{NewToken, RevokeOutcome, TokenRecord, TokenStore};
use crate::ports::webhook_store::{
    Delivery, DeliveryAttempt, DeliveryFilter, NewWebhook, Webhook, WebhookStore,
};

/// How often a long-running process checkpoints the WAL (`serve_long_running`).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How long an operation waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
    /// The file's path for messages, or `:memory:`.
    label: String,
    /// The file (`None` in memory).
    path: Option<std::path::PathBuf>,
    /// The key webhook secrets are sealed with: `state.db.key` beside the file (in memory:
    /// a key of its own).
    keeper: SecretKeeper,
}

/// Why a store operation failed: SQLite (reported with the store and what was being done), or
/// an error already phrased for the user (a refused transition, an unknown command).
enum Failure {
    Sqlite(rusqlite::Error),
    Refused(Error),
}

type Outcome<T> = std::result::Result<T, Failure>;

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error)
    }
}

impl SqliteStore {
    /// Opens the store at `path`, creating its directory and the file if needed (private:
    /// `private_files`), and brings the schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let label = path.display().to_string();
        private_files::prepare(path).map_err(|error| unopenable(&label).cause(error))?;
        let connection = Connection::open(path).map_err(|error| unopenable(&label).cause(error))?;
        let mut store = Self::prepare(connection, label)?;
        store.path = Some(path.to_path_buf());
        store.keeper = SecretKeeper::key_file(key_file(path));
        store.seal_clear_secrets()?;
        Ok(store)
    }

    /// A private store that vanishes when dropped (tests).
    pub fn open_in_memory() -> Result<Self> {
        let label = ":memory:".to_owned();
        let connection =
            Connection::open_in_memory().map_err(|error| unopenable(&label).cause(error))?;
        Self::prepare(connection, label)
    }

    fn prepare(mut connection: Connection, label: String) -> Result<Self> {
        // The first statements are where a directory or a file that is not a database fails.
        configure(&connection).map_err(|error| unopenable(&label).cause(error))?;
        migrations::migrate(&mut connection, &label)
            .map_err(|failure| report(&label, failure, "bring the schema up to date"))?;
        Ok(Self {
            connection: Mutex::new(connection),
            label,
            path: None,
            keeper: SecretKeeper::given(SecretKey::generate()?),
        })
    }

    /// Seals the webhook secrets an older hoist stored in clear.
    fn seal_clear_secrets(&self) -> Result<()> {
        let clear = self.run("find webhook secrets stored in clear", |connection| {
            webhooks::clear_secrets(connection)
        })?;
        if clear.is_empty() {
            return Ok(());
        }
        for (id, url, secret) in clear {
            let sealed = self.keeper.seal(&secret, &url)?;
            self.run(format_args!("seal webhook {id}'s secret"), |connection| {
                webhooks::seal_secret(connection, id, &secret, &sealed)
            })?;
        }
        // The file's old pages held them in clear: overwritten now, not at some later
        // checkpoint.
        self.run("checkpoint after sealing", |connection| {
            connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    /// Runs one operation on the connection, reporting its failure with the store's path and
    /// what was being done.
    fn run<T>(
        &self,
        doing: impl fmt::Display,
        operation: impl FnOnce(&mut Connection) -> Outcome<T>,
    ) -> Result<T> {
        // A panic mid-operation dropped its transaction, which rolled back: the connection is
        // still sound, so a poisoned lock is recovered rather than reported.
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        operation(&mut connection).map_err(|failure| report(&self.label, failure, doing))
    }
}

fn report(label: &str, failure: Failure, doing: impl fmt::Display) -> Error {
    match failure {
        Failure::Refused(error) => error,
        Failure::Sqlite(error) => {
            let busy = error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy);
            let report =
                Error::internal(format!("state store `{label}`: cannot {doing}")).cause(error);
            if busy {
                report.hint(format!(
                    "another process kept the state store busy for over {} s; retry when it is done",
                    BUSY_TIMEOUT.as_secs()
                ))
            } else {
                report
            }
        }
    }
}

/// The key file of the store at `path`: `state.db.key` beside `state.db`.
pub fn key_file(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".key");
    std::path::PathBuf::from(name)
}

fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    use_write_ahead_log(connection)?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    // Freed space is zeroed: a secret sealed in place (an older store's) leaves no copy.
    connection.pragma_update(None, "secure_delete", true)?;
    Ok(())
}

/// Switches the file to WAL, which it then keeps. Two processes switching a fresh file at
/// once can get "database is locked" without the busy handler being asked (SQLite refuses
/// to wait there, to avoid a deadlock), so that case is retried here until the busy timeout.
fn use_write_ahead_log(connection: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let mode: String = connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        // An in-memory database answers `memory` and stays so; that is fine.
        if mode == "wal" || mode == "memory" {
            return Ok(());
        }
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(error)
                if error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                thread::sleep(Duration::from_millis(5));
            }
            outcome => return outcome,
        }
    }
}

fn unopenable(label: &str) -> Error {
    Error::failed(format!("cannot open state store `{label}`")).hint(
        "`--state` (or `HOIST_STATE`) names the state store: point it at a writable path for a SQLite file",
    )
}

forward_store_ports!(SqliteStore, {
    fn serve_long_running(&self) -> Result<()> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let checkpoints = Connection::open(&path)
            .and_then(|connection| {
                configure(&connection)?;
                Ok(connection)
            })
            .map_err(|error| unopenable(&self.label).cause(error))?;
        self.run("hand checkpoints to a thread", |connection| {
            connection.pragma_update(None, "wal_autocheckpoint", 0)?;
            Ok(())
        })?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(CHECKPOINT_EVERY);
                    // PASSIVE: copies what no reader needs, never waits for writers.
                    let _ = checkpoints.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|error| Error::internal("cannot start the checkpoint thread").cause(error))?;
        Ok(())
    }
});
