//! Rows of `environments` and `releases`: what the controller believes about each
//! environment and the releases it made. Names and ids sort with `COLLATE "C"` (byte order,
//! as SQLite sorts), whatever the database's own collation.

use hoist_core::EnvName;
use postgres::{Client, Row};

use super::Outcome;
use super::columns::{
    millis, optional_parsed, optional_timestamp, parsed, release_status, release_status_name,
    timestamp, value,
};
use crate::ports::store::{EnvironmentRecord, ReleaseRecord, StepFailure};

const ENVIRONMENT_COLUMNS: &str = "name, state, failure_step, failure_error, failure_at, \
     failure_command_id, live_release, pending_release, created_at, updated_at";

pub(super) fn environment(
    client: &mut Client,
    name: &EnvName,
) -> Outcome<Option<EnvironmentRecord>> {
    let sql = format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments WHERE name = $1");
    client
        .query_opt(&sql, &[&name.as_str()])?
        .as_ref()
        .map(environment_from_row)
        .transpose()
}

pub(super) fn environments(client: &mut Client) -> Outcome<Vec<EnvironmentRecord>> {
    let sql = format!("SELECT {ENVIRONMENT_COLUMNS} FROM environments ORDER BY name COLLATE \"C\"");
    client
        .query(&sql, &[])?
        .iter()
        .map(environment_from_row)
        .collect()
}

pub(super) fn save_environment(client: &mut Client, env: &EnvironmentRecord) -> Outcome<()> {
    let failure = env.failure.as_ref();
    client.execute(
        "INSERT INTO environments (name, state, failure_step, failure_error, failure_at, \
             failure_command_id, live_release, pending_release, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (name) DO UPDATE SET state = excluded.state, \
             failure_step = excluded.failure_step, failure_error = excluded.failure_error, \
             failure_at = excluded.failure_at, \
             failure_command_id = excluded.failure_command_id, \
             live_release = excluded.live_release, \
             pending_release = excluded.pending_release, \
             created_at = excluded.created_at, updated_at = excluded.updated_at",
        &[
            &env.name.as_str(),
            &env.state.as_str(),
            &failure.map(|failure| failure.step.as_str()),
            &failure.map(|failure| failure.error.as_str()),
            &failure.map(|failure| millis(failure.at)),
            &failure.and_then(|failure| failure.command_id),
            &env.live_release.as_ref().map(|id| id.as_str()),
            &env.pending_release.as_ref().map(|id| id.as_str()),
            &millis(env.created_at),
            &millis(env.updated_at),
        ],
    )?;
    Ok(())
}

fn environment_from_row(row: &Row) -> Outcome<EnvironmentRecord> {
    let failure = match (
        optional_parsed(row, "failure_step")?,
        value::<Option<String>>(row, "failure_error")?,
        optional_timestamp(row, "failure_at")?,
    ) {
        (Some(step), Some(error), Some(at)) => Some(StepFailure {
            step,
            error,
            at,
            command_id: value(row, "failure_command_id")?,
        }),
        _ => None,
    };
    Ok(EnvironmentRecord {
        name: parsed(row, "name")?,
        state: parsed(row, "state")?,
        failure,
        live_release: optional_parsed(row, "live_release")?,
        pending_release: optional_parsed(row, "pending_release")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

pub(super) fn save_release(client: &mut Client, release: &ReleaseRecord) -> Outcome<()> {
    client.execute(
        "INSERT INTO releases (env, id, status, content_hash, config_hash, created_at, \
             command_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (env, id) DO UPDATE SET status = excluded.status, \
             content_hash = excluded.content_hash, config_hash = excluded.config_hash, \
             created_at = excluded.created_at, command_id = excluded.command_id",
        &[
            &release.env.as_str(),
            &release.id.as_str(),
            &release_status_name(release.status)?,
            &release.content_hash,
            &release.config_hash,
            &millis(release.created_at),
            &release.command_id,
        ],
    )?;
    Ok(())
}

/// Oldest first: release ids sort by their creation time.
pub(super) fn releases(client: &mut Client, env: &EnvName) -> Outcome<Vec<ReleaseRecord>> {
    client
        .query(
            "SELECT env, id, status, content_hash, config_hash, created_at, command_id \
             FROM releases WHERE env = $1 ORDER BY id COLLATE \"C\"",
            &[&env.as_str()],
        )?
        .iter()
        .map(|row| {
            Ok(ReleaseRecord {
                env: parsed(row, "env")?,
                id: parsed(row, "id")?,
                status: release_status(row, "status")?,
                content_hash: value(row, "content_hash")?,
                config_hash: value(row, "config_hash")?,
                created_at: timestamp(row, "created_at")?,
                command_id: value(row, "command_id")?,
            })
        })
        .collect()
}
