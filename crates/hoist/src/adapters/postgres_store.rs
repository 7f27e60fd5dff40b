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

impl Store for PostgresStore {
    fn environment(&self, name: &EnvName) -> Result<Option<EnvironmentRecord>> {
        self.run(format_args!("load environment `{name}`"), |client| {
            environments::environment(client, name)
        })
    }

    fn environments(&self) -> Result<Vec<EnvironmentRecord>> {
        self.run("list environments", environments::environments)
    }

    fn save_environment(&self, env: &EnvironmentRecord) -> Result<()> {
        self.run(format_args!("save environment `{}`", env.name), |client| {
            environments::save_environment(client, env)
        })
    }

    fn insert_command(&self, command: &NewCommand) -> Result<CommandRecord> {
        self.run(
            format_args!("record `{}` command for `{}`", command.kind, command.env),
            |client| commands::insert_command(client, command),
        )
    }

    fn set_command_status(
        &self,
        id: i64,
        status: CommandStatus,
        runner: Option<&LockHolder>,
        error: Option<&str>,
        at: Timestamp,
    ) -> Result<CommandRecord> {
        let change = commands::StatusChange { runner, error, at };
        self.run(format_args!("mark command {id} `{status}`"), |client| {
            commands::set_command_status(client, id, status, &change)
        })
    }

    fn append_command_step(&self, id: i64, entry: &StepLogEntry) -> Result<()> {
        self.run(
            format_args!("log step `{}` of command {id}", entry.step),
            |client| commands::append_command_step(client, id, entry),
        )
    }

    fn command(&self, id: i64) -> Result<Option<CommandRecord>> {
        self.run(format_args!("load command {id}"), |client| {
            commands::command(client, id)
        })
    }

    fn commands(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>> {
        self.run("list commands", |client| commands::commands(client, filter))
    }

    fn acquire_lease(
        &self,
        env: &EnvName,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<LeaseOutcome> {
        let term = leases::Term { ttl, now };
        self.run(format_args!("take the lease on `{env}`"), |client| {
            leases::acquire_lease(client, env, holder, &term)
        })
    }

    fn take_over_lease(
        &self,
        env: &EnvName,
        stale: &LockHolder,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool> {
        let term = leases::Term { ttl, now };
        self.run(format_args!("take over the lease on `{env}`"), |client| {
            leases::take_over_lease(client, env, stale, holder, &term)
        })
    }

    fn renew_lease(
        &self,
        env: &EnvName,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool> {
        let term = leases::Term { ttl, now };
        self.run(format_args!("renew the lease on `{env}`"), |client| {
            leases::renew_lease(client, env, holder, &term)
        })
    }

    fn release_lease(&self, env: &EnvName, holder: &LockHolder) -> Result<()> {
        self.run(format_args!("release the lease on `{env}`"), |client| {
            leases::release_lease(client, env, holder)
        })
    }

    fn save_release(&self, release: &ReleaseRecord) -> Result<()> {
        self.run(
            format_args!("save release `{}` of `{}`", release.id, release.env),
            |client| environments::save_release(client, release),
        )
    }

    fn releases(&self, env: &EnvName) -> Result<Vec<ReleaseRecord>> {
        self.run(format_args!("list releases of `{env}`"), |client| {
            environments::releases(client, env)
        })
    }

    fn register_host(&self, host: &RegisteredHost) -> Result<()> {
        self.run(
            format_args!("register host `{}` in `{}`", host.address, host.env),
            |client| hosts::register_host(client, host),
        )
    }

    fn registered_hosts(&self, env: &EnvName) -> Result<Vec<RegisteredHost>> {
        self.run(
            format_args!("list the registered hosts of `{env}`"),
            |client| hosts::registered_hosts(client, env),
        )
    }

    fn unregister_host(&self, env: &EnvName, address: &HostAddress) -> Result<bool> {
        self.run(
            format_args!("unregister host `{address}` from `{env}`"),
            |client| hosts::unregister_host(client, env, &address.to_string()),
        )
    }

    fn save_live_instance(&self, instance: &LiveInstance) -> Result<()> {
        self.run(
            format_args!(
                "record the live instance of `{}` on `{}`",
                instance.env, instance.host
            ),
            |client| live_instances::save(client, instance),
        )
    }

    fn live_instances(&self, env: &EnvName) -> Result<Vec<LiveInstance>> {
        self.run(
            format_args!("list the live instances of `{env}`"),
            |client| live_instances::list(client, env),
        )
    }

    fn forget_live_instance(&self, env: &EnvName, host: Option<&str>) -> Result<bool> {
        self.run(format_args!("forget live instances of `{env}`"), |client| {
            live_instances::forget(client, env, host)
        })
    }

    fn append_event(&self, event: &NewEvent) -> Result<Event> {
        self.run(format_args!("record event `{}`", event.kind), |client| {
            events::append_event(client, event)
        })
    }

    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        self.run("list events", |client| events::events(client, filter))
    }
}

impl CommandQueue for PostgresStore {
    fn change_scheduled(
        &self,
        id: i64,
        change: ScheduledChange,
        now: Timestamp,
    ) -> Result<ChangeOutcome> {
        self.run(format_args!("change scheduled command {id}"), |client| {
            queue::change_scheduled(client, id, change, now)
        })
    }

    fn claim_due(
        &self,
        controller: &str,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<CommandRecord>> {
        self.run("claim due commands", |client| {
            queue::claim_due(client, controller, now, until, limit)
        })
    }

    fn start_claimed(
        &self,
        id: i64,
        controller: &str,
        runner: &LockHolder,
        now: Timestamp,
    ) -> Result<Option<CommandRecord>> {
        self.run(format_args!("start command {id}"), |client| {
            queue::start_claimed(client, id, controller, runner, now)
        })
    }

    fn renew_claims(&self, controller: &str, ids: &[i64], until: Timestamp) -> Result<Vec<i64>> {
        self.run("renew command claims", |client| {
            queue::renew_claims(client, controller, ids, until)
        })
    }

    fn next_due(&self) -> Result<Option<Timestamp>> {
        self.run("find the next due command", queue::next_due)
    }

    fn save_controller(&self, controller: &ControllerRecord) -> Result<()> {
        self.run("record this controller", |client| {
            queue::save_controller(client, controller)
        })
    }

    fn controllers(&self) -> Result<Vec<ControllerRecord>> {
        self.run("list controllers", queue::controllers)
    }

    fn forget_controller(&self, id: &str) -> Result<()> {
        self.run("forget a controller", |client| {
            queue::forget_controller(client, id)
        })
    }

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
}

impl WebhookStore for PostgresStore {
    fn add_webhook(&self, hook: &NewWebhook) -> Result<Webhook> {
        let sealed = self.keeper.seal_hook(hook)?;
        let mut added = self.run(format_args!("add webhook `{}`", hook.url), |client| {
            webhooks::add_webhook(client, &sealed)
        })?;
        added.secret = hook.secret.clone();
        Ok(added)
    }

    fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.run("list webhooks", webhooks::webhooks)?
            .into_iter()
            .map(|hook| self.keeper.open_hook(hook))
            .collect()
    }

    fn remove_webhook(&self, id: i64) -> Result<bool> {
        self.run(format_args!("remove webhook {id}"), |client| {
            webhooks::remove_webhook(client, id)
        })
    }

    fn webhook_cursor(&self) -> Result<i64> {
        self.run("read the webhook cursor", |client| {
            webhooks::webhook_cursor(client)
        })
    }

    fn enqueue_deliveries(
        &self,
        pairs: &[(i64, i64)],
        cursor: i64,
        now: Timestamp,
    ) -> Result<usize> {
        self.run("record webhook deliveries", |client| {
            webhooks::enqueue_deliveries(client, pairs, cursor, now)
        })
    }

    fn claim_due_deliveries(
        &self,
        now: Timestamp,
        hold_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        self.run("claim due webhook deliveries", |client| {
            webhooks::claim_due_deliveries(client, now, hold_until, limit)
        })
    }

    fn record_delivery_attempt(&self, id: i64, attempt: &DeliveryAttempt) -> Result<Delivery> {
        self.run(
            format_args!("record an attempt of webhook delivery {id}"),
            |client| webhooks::record_delivery_attempt(client, id, attempt),
        )
    }

    fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        self.run("list webhook deliveries", |client| {
            webhooks::deliveries(client, filter)
        })
    }
}

impl TokenStore for PostgresStore {
    fn create_token(&self, token: &NewToken) -> Result<TokenRecord> {
        self.run(format_args!("record token `{}`", token.name), |client| {
            tokens::create_token(client, token)
        })
    }

    fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>> {
        self.run("look a token up", |client| {
            tokens::token_by_hash(client, secret_hash)
        })
    }

    fn token(&self, id: i64) -> Result<Option<TokenRecord>> {
        self.run(format_args!("load token {id}"), |client| {
            tokens::token(client, id)
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>> {
        self.run("list tokens", tokens::tokens)
    }

    fn revoke_token(&self, id: i64, at: Timestamp) -> Result<RevokeOutcome> {
        self.run(format_args!("revoke token {id}"), |client| {
            tokens::revoke_token(client, id, at)
        })
    }

    fn touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
        self.run(format_args!("record the use of token {id}"), |client| {
            tokens::touch_token(client, id, at)
        })
    }
}
