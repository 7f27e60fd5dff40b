//! The schema's history: the SQLite store's steps (same names, same order) as PostgreSQL
//! scripts, never edited once released, only appended to. `hoist_schema_migrations` records
//! which have run.
//!
//! Everything happens in one transaction that first takes a transaction-level advisory lock:
//! two processes opening a fresh database at once queue on the lock, and the second finds
//! the steps done. PostgreSQL's DDL is transactional, so a crash leaves the schema as it was.

use postgres::{Client, GenericClient};

use super::{Failure, Outcome};
use crate::error::Error;

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub(super) struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every schema step, oldest first. Append only.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_initial",
        sql: include_str!("0001_initial.sql"),
    },
    Migration {
        name: "0002_registered_hosts",
        sql: include_str!("0002_registered_hosts.sql"),
    },
    Migration {
        name: "0003_live_instances",
        sql: include_str!("0003_live_instances.sql"),
    },
    Migration {
        name: "0004_command_queue",
        sql: include_str!("0004_command_queue.sql"),
    },
    Migration {
        name: "0005_tokens",
        sql: include_str!("0005_tokens.sql"),
    },
    Migration {
        name: "0006_webhooks",
        sql: include_str!("0006_webhooks.sql"),
    },
    Migration {
        name: "0007_commands_by_env_id",
        sql: include_str!("0007_commands_by_env_id.sql"),
    },
];

/// The advisory lock key of schema changes ("hoist" in ASCII). Advisory locks are per
/// database, so stores in other databases of the same server do not wait on each other.
const MIGRATION_LOCK: i64 = 0x0068_6f69_7374;

/// Brings the schema up to date; returns how many migrations ran.
pub(super) fn migrate(client: &mut Client, store: &str) -> Outcome<usize> {
    let mut transaction = client.transaction()?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    transaction.batch_execute(
        "CREATE TABLE IF NOT EXISTS hoist_schema_migrations (\
             version    INTEGER PRIMARY KEY, \
             name       TEXT NOT NULL, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    let version = schema_version(&mut transaction)?;
    if version > MIGRATIONS.len() {
        return Err(Failure::Refused(newer_schema(store, version)));
    }
    let pending = &MIGRATIONS[version..];
    for (number, migration) in (version + 1..).zip(pending) {
        transaction.batch_execute(migration.sql).map_err(|error| {
            Failure::Refused(
                Error::internal(format!(
                    "state store `{store}`: cannot apply migration `{}`",
                    migration.name
                ))
                .cause(error),
            )
        })?;
        let number = i32::try_from(number).map_err(|error| Failure::Unreadable {
            column: "version".to_owned(),
            error: error.into(),
        })?;
        transaction.execute(
            "INSERT INTO hoist_schema_migrations (version, name) VALUES ($1, $2)",
            &[&number, &migration.name],
        )?;
    }
    transaction.commit()?;
    Ok(pending.len())
}

/// How many migrations the database has run (the highest recorded version).
pub(super) fn schema_version(client: &mut impl GenericClient) -> Outcome<usize> {
    let version: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM hoist_schema_migrations",
            &[],
        )?
        .try_get(0)?;
    // A negative version was not written by hoist; treat it as "newer than known".
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

fn newer_schema(store: &str, version: usize) -> Error {
    Error::failed(format!(
        "state store `{store}` was written by a newer hoist (schema version {version}, this \
         hoist knows up to {})",
        MIGRATIONS.len()
    ))
    .hint("upgrade hoist to the version that wrote it, or point `--state` (or `HOIST_STATE`) at another database")
}
