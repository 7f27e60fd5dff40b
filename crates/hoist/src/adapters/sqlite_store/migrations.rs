//! The schema's history: an ordered list of SQL scripts, never edited once released, only
//! appended to. `PRAGMA user_version` records how many have run; each runs in its own
//! transaction together with the version bump, so a crash leaves the schema at a whole step.

use rusqlite::{Connection, TransactionBehavior};

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

/// Brings the schema up to date; returns how many migrations ran.
///
/// The version is read inside each write transaction, so two processes opening a fresh file
/// at once do not both run the same script: the second waits, then sees it done.
pub(super) fn migrate(connection: &mut Connection, store: &str) -> Outcome<usize> {
    let mut applied = 0;
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = schema_version(&transaction)?;
        let Some(migration) = MIGRATIONS.get(version) else {
            if version > MIGRATIONS.len() {
                return Err(Failure::Refused(newer_schema(store, version)));
            }
            return Ok(applied);
        };
        transaction.execute_batch(migration.sql).map_err(|error| {
            Failure::Refused(
                Error::internal(format!(
                    "state store `{store}`: cannot apply migration `{}`",
                    migration.name
                ))
                .cause(error),
            )
        })?;
        let next_version = i64::try_from(version + 1)
            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
        transaction.pragma_update(None, "user_version", next_version)?;
        transaction.commit()?;
        applied += 1;
    }
}

/// How many migrations the database has run.
pub(super) fn schema_version(connection: &Connection) -> rusqlite::Result<usize> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    // A negative user_version was not written by hoist; treat it as "newer than known".
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

fn newer_schema(store: &str, version: usize) -> Error {
    Error::failed(format!(
        "state store `{store}` was written by a newer hoist (schema version {version}, this \
         hoist knows up to {})",
        MIGRATIONS.len()
    ))
    .hint("upgrade hoist to the version that wrote it, or point `--state` (or `HOIST_STATE`) at another file")
}
