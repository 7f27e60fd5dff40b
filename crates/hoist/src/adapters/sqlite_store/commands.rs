//! Rows of `commands` and `command_steps`: what was asked, its status and its step log.
//! Status changes read, check and write in one `BEGIN IMMEDIATE` transaction, so two runners
//! racing to start the same command cannot both see it `scheduled`.

use hoist_core::CommandStatus;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, named_params};

use super::columns::{
    json, millis, optional_json, optional_millis, optional_timestamp, parsed, timestamp, to_json,
    to_optional_json, to_signed, unsigned,
};
use super::events::sql_limit;
use super::{Failure, Outcome};
use crate::error::Error;
use crate::ports::host::LockHolder;
use crate::ports::store::{CommandFilter, CommandRecord, NewCommand, StepLogEntry};

const COMMAND_COLUMNS: &str = "id, kind, env, args, requested_by, status, \
     created_at, execute_at, started_at, finished_at, error, runner, expires_at, \
     requested_token, claimed_by, claim_until";

pub(super) fn insert_command(
    connection: &Connection,
    command: &NewCommand,
) -> Outcome<CommandRecord> {
    connection
        .prepare_cached(
            "INSERT INTO commands (kind, env, args, requested_by, status, created_at, \
                 execute_at, expires_at, requested_token) \
             VALUES (:kind, :env, :args, :requested_by, :status, :created_at, :execute_at, \
                 :expires_at, :requested_token)",
        )?
        .execute(named_params! {
            ":kind": command.kind.as_str(),
            ":env": command.env.as_str(),
            ":args": to_json(&command.args)?,
            ":requested_by": command.requested_by,
            ":status": command.status.as_str(),
            ":created_at": millis(command.created_at),
            ":execute_at": optional_millis(command.execute_at),
            ":expires_at": optional_millis(command.expires_at),
            ":requested_token": command.requested_token,
        })?;
    stored_command(connection, connection.last_insert_rowid())
}

/// The arguments of a status change besides the command and its new status.
pub(super) struct StatusChange<'a> {
    pub runner: Option<&'a LockHolder>,
    pub error: Option<&'a str>,
    pub at: Timestamp,
}

/// `runner` and `error` overwrite only when given: who ran a command stays on record after
/// it ends, next to `started_at`.
pub(super) fn set_command_status(
    connection: &mut Connection,
    id: i64,
    status: CommandStatus,
    change: &StatusChange<'_>,
) -> Outcome<CommandRecord> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: CommandStatus = transaction
        .prepare_cached("SELECT status FROM commands WHERE id = ?1")?
        .query_row([id], |row| parsed(row, 0))
        .optional()?
        .ok_or_else(|| no_such_command(id))?;
    if !current.can_become(status) {
        return Err(Failure::Refused(Error::failed(format!(
            "cannot move command {id} from `{current}` to `{status}`"
        ))));
    }
    transaction
        .prepare_cached(
            "UPDATE commands SET status = :status, \
                 started_at = CASE WHEN :running THEN :at ELSE started_at END, \
                 finished_at = CASE WHEN :terminal THEN :at ELSE finished_at END, \
                 runner = COALESCE(:runner, runner), \
                 error = COALESCE(:error, error) \
             WHERE id = :id",
        )?
        .execute(named_params! {
            ":id": id,
            ":status": status.as_str(),
            ":running": status == CommandStatus::Running,
            ":terminal": status.is_terminal(),
            ":at": millis(change.at),
            ":runner": to_optional_json(change.runner)?,
            ":error": change.error,
        })?;
    let record = stored_command(&transaction, id)?;
    transaction.commit()?;
    Ok(record)
}

pub(super) fn append_command_step(
    connection: &mut Connection,
    id: i64,
    entry: &StepLogEntry,
) -> Outcome<()> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let exists = transaction
        .prepare_cached("SELECT 1 FROM commands WHERE id = ?1")?
        .exists([id])?;
    if !exists {
        return Err(no_such_command(id));
    }
    transaction
        .prepare_cached(
            "INSERT INTO command_steps (command_id, seq, step, ok, started_at, elapsed_ms, detail) \
             SELECT :id, COALESCE(MAX(seq), 0) + 1, :step, :ok, :started_at, :elapsed_ms, :detail \
             FROM command_steps WHERE command_id = :id",
        )?
        .execute(named_params! {
            ":id": id,
            ":step": entry.step,
            ":ok": entry.ok,
            ":started_at": millis(entry.started_at),
            ":elapsed_ms": to_signed(entry.elapsed_ms)?,
            ":detail": entry.detail,
        })?;
    transaction.commit()?;
    Ok(())
}

pub(super) fn command(connection: &Connection, id: i64) -> Outcome<Option<CommandRecord>> {
    let sql = format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE id = ?1");
    let record = connection
        .prepare_cached(&sql)?
        .query_row([id], command_from_row)
        .optional()?;
    let Some(mut record) = record else {
        return Ok(None);
    };
    record.steps = steps(connection, id)?;
    Ok(Some(record))
}

/// Newest first: ids grow with every insert.
pub(super) fn commands(
    connection: &Connection,
    filter: &CommandFilter,
) -> Outcome<Vec<CommandRecord>> {
    // Only the conditions that are set go into the statement, so SQLite can walk
    // `commands_by_env_id` (or `commands_by_env_status`) and stop at the limit; the generic
    // `(:env IS NULL OR env = :env)` made it read every command of the store.
    let condition = match (&filter.env, filter.status) {
        (None, None) => "",
        (Some(_), None) => "WHERE env = :env",
        (None, Some(_)) => "WHERE status = :status",
        (Some(_), Some(_)) => "WHERE env = :env AND status = :status",
    };
    let sql =
        format!("SELECT {COMMAND_COLUMNS} FROM commands {condition} ORDER BY id DESC LIMIT :limit");
    let env = filter.env.as_ref().map(|env| env.as_str());
    let status = filter.status.map(CommandStatus::as_str);
    let limit = sql_limit(filter.limit);
    let mut params: Vec<(&str, &dyn rusqlite::ToSql)> = vec![(":limit", &limit)];
    if let Some(env) = &env {
        params.push((":env", env));
    }
    if let Some(status) = &status {
        params.push((":status", status));
    }
    let mut records: Vec<CommandRecord> = connection
        .prepare_cached(&sql)?
        .query_map(params.as_slice(), command_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    attach_steps(connection, &mut records)?;
    Ok(records)
}

/// Loads the step logs of `records` with one statement (a page of a hundred commands was
/// otherwise a hundred and one).
fn attach_steps(connection: &Connection, records: &mut [CommandRecord]) -> Outcome<()> {
    if records.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = records.iter().map(|record| record.id).collect();
    let ids = serde_json::to_string(&ids).map_err(|error| {
        Failure::Refused(Error::internal("cannot list command ids").cause(error))
    })?;
    let mut by_id: std::collections::HashMap<i64, Vec<StepLogEntry>> =
        std::collections::HashMap::new();
    let mut statement = connection.prepare_cached(
        "SELECT command_id, step, ok, started_at, elapsed_ms, detail FROM command_steps \
         WHERE command_id IN (SELECT value FROM json_each(?1)) ORDER BY command_id, seq",
    )?;
    let rows = statement.query_map([ids], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            StepLogEntry {
                step: row.get(1)?,
                ok: row.get(2)?,
                started_at: timestamp(row, 3)?,
                elapsed_ms: unsigned(row, 4)?,
                detail: row.get(5)?,
            },
        ))
    })?;
    for row in rows {
        let (id, step) = row?;
        by_id.entry(id).or_default().push(step);
    }
    for record in records {
        record.steps = by_id.remove(&record.id).unwrap_or_default();
    }
    Ok(())
}

/// A command that was just written, read back with its steps.
pub(super) fn stored_command(connection: &Connection, id: i64) -> Outcome<CommandRecord> {
    command(connection, id)?.ok_or(Failure::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

fn no_such_command(id: i64) -> Failure {
    Failure::Refused(Error::failed(format!("no command with id {id}")))
}

/// The command without its steps, which `steps` loads.
fn command_from_row(row: &Row<'_>) -> rusqlite::Result<CommandRecord> {
    Ok(CommandRecord {
        id: row.get(0)?,
        kind: parsed(row, 1)?,
        env: parsed(row, 2)?,
        args: json(row, 3)?,
        requested_by: row.get(4)?,
        status: parsed(row, 5)?,
        created_at: timestamp(row, 6)?,
        execute_at: optional_timestamp(row, 7)?,
        started_at: optional_timestamp(row, 8)?,
        finished_at: optional_timestamp(row, 9)?,
        error: row.get(10)?,
        runner: optional_json(row, 11)?,
        expires_at: optional_timestamp(row, 12)?,
        requested_token: row.get(13)?,
        claimed_by: row.get(14)?,
        claim_until: optional_timestamp(row, 15)?,
        steps: Vec::new(),
    })
}

fn steps(connection: &Connection, id: i64) -> rusqlite::Result<Vec<StepLogEntry>> {
    connection
        .prepare_cached(
            "SELECT step, ok, started_at, elapsed_ms, detail FROM command_steps \
             WHERE command_id = ?1 ORDER BY seq",
        )?
        .query_map([id], |row| {
            Ok(StepLogEntry {
                step: row.get(0)?,
                ok: row.get(1)?,
                started_at: timestamp(row, 2)?,
                elapsed_ms: unsigned(row, 3)?,
                detail: row.get(4)?,
            })
        })?
        .collect()
}
