//! Rows of `environments` and `releases`: what the controller believes about each
//! environment and the releases it made.

use hoist_core::EnvName;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use super::Outcome;
use super::columns::{
    millis, optional_parsed, optional_timestamp, parsed, release_status, release_status_name,
    timestamp,
};
use crate::ports::store::{EnvironmentRecord, ReleaseRecord, StepFailure};

const ENVIRONMENT_COLUMNS: &str = "name, state, failure_step, failure_error, failure_at, \
     failure_command_id, live_release, pending_release, created_at, updated_at";

pub(super) fn environment(
    connection: &Connection,
    name: &EnvName,
) -> Outcome<Option<EnvironmentRecord>> {
    let sql = format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE name = ?1");
    let record = connection
        .prepare_cached(&sql)?
        .query_row([name.as_str()], environment_from_row)
        .optional()?;
    Ok(record)
}

pub(super) fn environments(connection: &Connection) -> Outcome<Vec<EnvironmentRecord>> {
    let sql = format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments ORDER BY name");
    let mut statement = connection.prepare_cached(&sql)?;
    let records = statement
        .query_map([], environment_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(records)
}

pub(super) fn save_environment(connection: &Connection, env: &EnvironmentRecord) -> Outcome<()> {
    let failure = env.failure.as_ref();
    // An upsert, not `INSERT OR REPLACE`: replacing deletes the row first, which would
    // cascade to anything that ever references it.
    connection
        .prepare_cached(
            "INSERT INTO environments (name, state, failure_step, failure_error, failure_at, \
                 failure_command_id, live_release, pending_release, created_at, updated_at) \
             VALUES (:name, :state, :failure_step, :failure_error, :failure_at, \
                 :failure_command_id, :live_release, :pending_release, :created_at, :updated_at) \
             ON CONFLICT (name) DO UPDATE SET state = excluded.state, \
                 failure_step = excluded.failure_step, failure_error = excluded.failure_error, \
                 failure_at = excluded.failure_at, \
                 failure_command_id = excluded.failure_command_id, \
                 live_release = excluded.live_release, \
                 pending_release = excluded.pending_release, \
                 created_at = excluded.created_at, updated_at = excluded.updated_at",
        )?
        .execute(named_params! {
            ":name": env.name.as_str(),
            ":state": env.state.as_str(),
            ":failure_step": failure.map(|failure| failure.step.as_str()),
            ":failure_error": failure.map(|failure| failure.error.as_str()),
            ":failure_at": failure.map(|failure| millis(failure.at)),
            ":failure_command_id": failure.and_then(|failure| failure.command_id),
            ":live_release": env.live_release.as_ref().map(|id| id.as_str()),
            ":pending_release": env.pending_release.as_ref().map(|id| id.as_str()),
            ":created_at": millis(env.created_at),
            ":updated_at": millis(env.updated_at),
        })?;
    Ok(())
}

fn environment_from_row(row: &Row<'_>) -> rusqlite::Result<EnvironmentRecord> {
    let failure = match (
        optional_parsed(row, 2)?,
        row.get::<_, Option<String>>(3)?,
        optional_timestamp(row, 4)?,
    ) {
        (Some(step), Some(error), Some(at)) => Some(StepFailure {
            step,
            error,
            at,
            command_id: row.get(5)?,
        }),
        _ => None,
    };
    Ok(EnvironmentRecord {
        name: parsed(row, 0)?,
        state: parsed(row, 1)?,
        failure,
        live_release: optional_parsed(row, 6)?,
        pending_release: optional_parsed(row, 7)?,
        created_at: timestamp(row, 8)?,
        updated_at: timestamp(row, 9)?,
    })
}

pub(super) fn save_release(connection: &Connection, release: &ReleaseRecord) -> Outcome<()> {
    connection
        .prepare_cached(
            "INSERT INTO releases (env, id, status, content_hash, config_hash, created_at, \
                 command_id) \
             VALUES (:env, :id, :status, :content_hash, :config_hash, :created_at, :command_id) \
             ON CONFLICT (env, id) DO UPDATE SET status = excluded.status, \
                 content_hash = excluded.content_hash, config_hash = excluded.config_hash, \
                 created_at = excluded.created_at, command_id = excluded.command_id",
        )?
        .execute(named_params! {
            ":env": release.env.as_str(),
            ":id": release.id.as_str(),
            ":status": release_status_name(release.status)?,
            ":content_hash": release.content_hash,
            ":config_hash": release.config_hash,
            ":created_at": millis(release.created_at),
            ":command_id": release.command_id,
        })?;
    Ok(())
}

/// Oldest first: release ids sort by their creation time.
pub(super) fn releases(connection: &Connection, env: &EnvName) -> Outcome<Vec<ReleaseRecord>> {
    let mut statement = connection.prepare_cached(
        "SELECT env, id, status, content_hash, config_hash, created_at, command_id \
         FROM releases WHERE env = ?1 ORDER BY id",
    )?;
    let records = statement
        .query_map([env.as_str()], |row| {
            Ok(ReleaseRecord {
                env: parsed(row, 0)?,
                id: parsed(row, 1)?,
                status: release_status(row, 2)?,
                content_hash: row.get(3)?,
                config_hash: row.get(4)?,
                created_at: timestamp(row, 5)?,
                command_id: row.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(records)
}
