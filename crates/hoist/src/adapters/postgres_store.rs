//! The PostgreSQL state store: `--state postgres://…` (or `postgresql://…`), for a team whose
//! controllers share one database. The same schema steps and behaviour as the SQLite store
//! (the contract in `store_contract` runs against both); where SQLite serialises writers with
//! `BEGIN IMMEDIATE`, this store locks rows (`FOR UPDATE`, `ON CONFLICT`) and takes an
//! advisory lock around migrations.
//!
//! The client is the `postgres` crate: tokio-postgres's own blocking wrapper, same project
//! and same types. `Store` is synchronous and ops run on plain threads, so a blocking client
//! fits without a runtime of our own to manage: each connection drives itself on a private
//! current-thread runtime. Like any blocking call, it must not be made from inside an async
//! task (a server reaches the store through `spawn_blocking`). Connections come from a small
//! pool (`connection_pool`); a later command queue claims rows with `FOR UPDATE SKIP LOCKED`
//! on one of them inside `run`, like any other operation.
//!
//! Plain connections only (no TLS; a URL asking for `sslmode=require` is refused when it
//! connects): a unix socket or a server on a network you trust. Messages name the store by
//! its URL with any password masked (`store_url`).

mod columns;
mod commands;
mod connection_pool;
mod environments;
mod events;
mod hosts;
mod leases;
mod live_instances;
mod migrations;
mod queue;
pub mod store_url;
mod tokens;
mod webhooks;

#[cfg(test)]
mod race_tests;
#[cfg(test)]
mod server_lifetime_tests;
#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use hoist_core::{CommandStatus, EnvName, HostAddress};
use jiff::Timestamp;
use postgres::error::SqlState;
use postgres::{Client, Config};

use self::connection_pool::ConnectionPool;
use crate::adapters::secret_box::SecretKeeper;
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

/// How long opening a connection may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct PostgresStore {
    pool: ConnectionPool,
    /// The URL for messages, password masked.
    label: String,
    /// The key webhook secrets are sealed with: every controller of the database is given
    /// the same (`HOIST_SECRET_KEY`); without one, webhooks cannot be added or sent.
    keeper: SecretKeeper,
}

/// Why a store operation failed: PostgreSQL (reported with the store and what was being
/// done), a stored value this binary cannot read, or an error already phrased for the user.
enum Failure {
    Postgres(postgres::Error),
    Unreadable {
        column: String,
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    Refused(Error),
}

type Outcome<T> = std::result::Result<T, Failure>;

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Self {
        Self::Postgres(error)
    }
}

impl PostgresStore {
    /// Connects to the database `url` names and brings its schema up to date. The database
    /// must exist; hoist creates its tables in it (in the connection's `search_path`).
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(url, SecretKeeper::missing())
    }

    /// `open`, with the key webhook secrets are sealed with; secrets an older hoist stored
    /// in clear are sealed now.
    pub fn open_with(url: &str, keeper: SecretKeeper) -> Result<Self> {
        let label = store_url::redacted(url);
        let mut config: Config = url
            .parse()
            .map_err(|error| unopenable(&label).cause(explained(&error)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("hoist");
        }
        let store = Self {
            pool: ConnectionPool::new(config),
            label,
            keeper,
        };
        store
            .pool
            .with(|client| migrations::migrate(client, &store.label))
            .map_err(|error| unopenable_because(&store.label, &error))?
            .map_err(|failure| report(&store.label, failure, "bring the schema up to date"))?;
        if store.keeper.has_key() {
            store.seal_clear_secrets()?;
        }
        Ok(store)
    }

    /// Seals the webhook secrets an older hoist stored in clear.
    fn seal_clear_secrets(&self) -> Result<()> {
        for (id, url, secret) in self.run(
            "find webhook secrets stored in clear",
            webhooks::clear_secrets,
        )? {
            let sealed = self.keeper.seal(&secret, &url)?;
            self.run(format_args!("seal webhook {id}'s secret"), |client| {
                webhooks::seal_secret(client, id, &secret, &sealed)
            })?;
        }
        Ok(())
    }

    /// Runs one operation on a pooled connection, reporting its failure with the store's
    /// URL and what was being done.
    fn run<T>(
        &self,
        doing: impl fmt::Display,
        operation: impl FnOnce(&mut Client) -> Outcome<T>,
    ) -> Result<T> {
        self.pool
            .with(operation)
            .map_err(Failure::Postgres)
            .and_then(|outcome| outcome)
            .map_err(|failure| report(&self.label, failure, doing))
    }
}

fn report(label: &str, failure: Failure, doing: impl fmt::Display) -> Error {
    let report = || Error::internal(format!("state store `{label}`: cannot {doing}"));
    match failure {
        Failure::Refused(error) => error,
        Failure::Unreadable { column, error } => {
            report().cause(format!("column `{column}`: {error}"))
        }
        Failure::Postgres(error) if is_connection_problem(&error) => report()
            .cause(explained(&error))
            .hint(unreachable_hint(label)),
        Failure::Postgres(error) => report().cause(explained(&error)),
    }
}

/// The error with its sources: tokio-postgres's own message is only the kind ("db error",
/// "error connecting to server"); what the server or the socket said is in the source.
fn explained(error: &postgres::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn unreachable_hint(label: &str) -> String {
    format!("check that the PostgreSQL server of `{label}` is running and reachable")
}

/// The connection is gone or could not be made (rather than a statement being refused).
fn is_connection_problem(error: &postgres::Error) -> bool {
    use std::error::Error as _;
    error.is_closed()
        || error
            .source()
            .is_some_and(|source| source.is::<std::io::Error>())
}

fn unopenable(label: &str) -> Error {
    Error::failed(format!("cannot open state store `{label}`")).hint(
        "`--state` (or `HOIST_STATE`) names the state store: a `postgres://user@host/database` \
         URL (a unix socket as `?host=/run/postgresql`), or a path for a SQLite file",
    )
}

/// The first connection failed: say what PostgreSQL said, and what usually fixes it.
fn unopenable_because(label: &str, error: &postgres::Error) -> Error {
    let report = unopenable(label).cause(explained(error));
    if is_connection_problem(error) {
        return report.hint(unreachable_hint(label));
    }
    match error.code() {
        Some(code) if *code == SqlState::INVALID_CATALOG_NAME => {
            report.hint("hoist does not create the database: create it first (`createdb NAME`)")
        }
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            report.hint("check the user and password in the URL (or `~/.pgpass`)")
        }
        _ => report,
    }
}

forward_store_ports!(PostgresStore, {
    fn watch_queue(&self, on_change: Box<dyn Fn() + Send>) -> Result<bool> {
        queue::watch(self.pool.config(), on_change).map_err(|error| {
            Error::internal(format!(
                "state store `{}`: cannot start listening",
                self.label
            ))
            .cause(error)
        })?;
        Ok(true)
    }
});
