//! Rows of `commands` and `command_steps`: what was asked, its status and its step log.
//! A status change locks the command's row (`SELECT … FOR UPDATE`) before it checks the
//! transition, so of two runners racing to start the same command the second waits, then
//! sees it `running` and is refused. Appending a step locks the row too, which numbers the
//! steps of one command without gaps or duplicates.

use std::collections::HashMap;

use hoist_core::CommandStatus;
use jiff::Timestamp;
use postgres::{Client, GenericClient, Row};

use super::columns::{
    json, millis, number, optional_json, optional_millis, optional_timestamp, parsed, sql_limit,
    timestamp, to_json, to_optional_json, to_signed, value,
};
use super::{Failure, Outcome};
use crate::error::Error;
use crate::ports::host::LockHolder;
use crate::ports::store::{CommandFilter, CommandRecord, NewCommand, StepLogEntry};

const COMMAND_COLUMNS: &str = "id, kind, env, args, requested_by, status, created_at, \
     execute_at, started_at, finished_at, error, runner, expires_at, requested_token, \
     claimed_by, claim_until";

pub(super) fn insert_command(client: &mut Client, command: &NewCommand) -> Outcome<CommandRecord> {
    let row = client.query_one(
        "INSERT INTO commands (kind, env, args, requested_by, status, created_at, execute_at, \
             expires_at, requested_token) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        &[
            &command.kind.as_str(),
            &command.env.as_str(),
            &to_json("args", &command.args)?,
            &command.requested_by,
            &command.status.as_str(),
            &millis(command.created_at),
            &optional_millis(command.execute_at),
            &optional_millis(command.expires_at),
            &command.requested_token,
        ],
    )?;
    if command.execute_at.is_some() {
        super::queue::notify(client)?;
    }
    stored_command(client, value(&row, "id")?)
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
    client: &mut Client,
    id: i64,
    status: CommandStatus,
    change: &StatusChange<'_>,
) -> Outcome<CommandRecord> {
    let mut transaction = client.transaction()?;
    let current: CommandStatus = match transaction.query_opt(
        "SELECT status FROM commands WHERE id = $1 FOR UPDATE",
        &[&id],
    )? {
        Some(row) => parsed(&row, "status")?,
        None => return Err(no_such_command(id)),
    };
    if !current.can_become(status) {
        return Err(Failure::Refused(Error::failed(format!(
            "cannot move command {id} from `{current}` to `{status}`"
        ))));
    }
    transaction.execute(
        "UPDATE commands SET status = $2, \
             started_at = CASE WHEN $3::boolean THEN $5::bigint ELSE started_at END, \
             finished_at = CASE WHEN $4::boolean THEN $5::bigint ELSE finished_at END, \
             runner = COALESCE($6::text, runner), \
             error = COALESCE($7::text, error) \
         WHERE id = $1",
        &[
            &id,
            &status.as_str(),
            &(status == CommandStatus::Running),
            &status.is_terminal(),
            &millis(change.at),
            &to_optional_json("runner", change.runner)?,
            &change.error,
        ],
    )?;
    let record = stored_command(&mut transaction, id)?;
    transaction.commit()?;
    Ok(record)
}

pub(super) fn append_command_step(
    client: &mut Client,
    id: i64,
    entry: &StepLogEntry,
) -> Outcome<()> {
    let mut transaction = client.transaction()?;
    let exists = transaction
        .query_opt("SELECT id FROM commands WHERE id = $1 FOR UPDATE", &[&id])?
        .is_some();
    if !exists {
        return Err(no_such_command(id));
    }
    transaction.execute(
        "INSERT INTO command_steps (command_id, seq, step, ok, started_at, elapsed_ms, detail) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6 \
         FROM command_steps WHERE command_id = $1",
        &[
            &id,
            &entry.step,
            &entry.ok,
            &millis(entry.started_at),
            &to_signed("elapsed_ms", entry.elapsed_ms)?,
            &entry.detail,
        ],
    )?;
    transaction.commit()?;
    Ok(())
}

pub(super) fn command(client: &mut impl GenericClient, id: i64) -> Outcome<Option<CommandRecord>> {
    let sql = format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE id = $1");
    let Some(row) = client.query_opt(&sql, &[&id])? else {
        return Ok(None);
    };
    let mut records = with_steps(client, vec![command_from_row(&row)?])?;
    Ok(records.pop())
}

/// Newest first: ids grow with every insert.
pub(super) fn commands(client: &mut Client, filter: &CommandFilter) -> Outcome<Vec<CommandRecord>> {
    let sql = format!(
        "SELECT {COMMAND_COLUMNS} FROM commands \
         WHERE ($1::text IS NULL OR env = $1) AND ($2::text IS NULL OR status = $2) \
         ORDER BY id DESC LIMIT $3"
    );
    let records = client
        .query(
            &sql,
            &[
                &filter.env.as_ref().map(|env| env.as_str()),
                &filter.status.map(CommandStatus::as_str),
                &sql_limit(filter.limit),
            ],
        )?
        .iter()
        .map(command_from_row)
        .collect::<Outcome<Vec<_>>>()?;
    with_steps(client, records)
}

/// A command that was just written, read back with its steps.
pub(super) fn stored_command(client: &mut impl GenericClient, id: i64) -> Outcome<CommandRecord> {
    command(client, id)?.ok_or_else(|| {
        Failure::Refused(Error::internal(format!(
            "command {id} was written but cannot be read back"
        )))
    })
}

fn no_such_command(id: i64) -> Failure {
    Failure::Refused(Error::failed(format!("no command with id {id}")))
}

/// The command without its steps, which `with_steps` loads.
fn command_from_row(row: &Row) -> Outcome<CommandRecord> {
    Ok(CommandRecord {
        id: value(row, "id")?,
        kind: parsed(row, "kind")?,
        env: parsed(row, "env")?,
        args: json(row, "args")?,
        requested_by: value(row, "requested_by")?,
        status: parsed(row, "status")?,
        created_at: timestamp(row, "created_at")?,
        execute_at: optional_timestamp(row, "execute_at")?,
        started_at: optional_timestamp(row, "started_at")?,
        finished_at: optional_timestamp(row, "finished_at")?,
        error: value(row, "error")?,
        runner: optional_json(row, "runner")?,
        expires_at: optional_timestamp(row, "expires_at")?,
        requested_token: value(row, "requested_token")?,
        claimed_by: value(row, "claimed_by")?,
        claim_until: optional_timestamp(row, "claim_until")?,
        steps: Vec::new(),
    })
}

/// Fills in the step logs of `records` with one query for all of them.
fn with_steps(
    client: &mut impl GenericClient,
    mut records: Vec<CommandRecord>,
) -> Outcome<Vec<CommandRecord>> {
    if records.is_empty() {
        return Ok(records);
    }
    let ids: Vec<i64> = records.iter().map(|record| record.id).collect();
    let position: HashMap<i64, usize> = ids.iter().enumerate().map(|(at, &id)| (id, at)).collect();
    let rows = client.query(
        "SELECT command_id, step, ok, started_at, elapsed_ms, detail FROM command_steps \
         WHERE command_id = ANY($1) ORDER BY command_id, seq",
        &[&ids],
    )?;
    for row in &rows {
        let command_id: i64 = value(row, "command_id")?;
        let entry = StepLogEntry {
            step: value(row, "step")?,
            ok: value(row, "ok")?,
            started_at: timestamp(row, "started_at")?,
            elapsed_ms: number(row, "elapsed_ms")?,
            detail: value(row, "detail")?,
        };
        if let Some(record) = position
            .get(&command_id)
            .and_then(|&at| records.get_mut(at))
        {
            record.steps.push(entry);
        }
    }
    Ok(records)
}
