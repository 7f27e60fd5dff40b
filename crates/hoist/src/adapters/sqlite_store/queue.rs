//! The command queue on SQLite: claims, conditional changes and the controllers' registry.
//! Each operation reads and writes inside one `BEGIN IMMEDIATE` transaction, which SQLite
//! admits one at a time across processes: two controllers claiming at once never both get
//! a command, and a cancel racing a start is decided by whichever commits first.

use jiff::Timestamp;
use rusqlite::{Connection, TransactionBehavior, named_params, params};

use super::Outcome;
use super::columns::{millis, timestamp, to_json};
use super::commands::{command, stored_command};
use super::events::sql_limit;
use crate::ports::command_queue::{ChangeOutcome, ControllerRecord, ScheduledChange};
use crate::ports::host::LockHolder;
use crate::ports::store::CommandRecord;

pub(super) fn change_scheduled(
    connection: &mut Connection,
    id: i64,
    change: ScheduledChange,
    now: Timestamp,
) -> Outcome<ChangeOutcome> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(current) = command(&transaction, id)? else {
        return Ok(ChangeOutcome::Missing);
    };
    if current.status != hoist_core::CommandStatus::Scheduled {
        return Ok(ChangeOutcome::NotScheduled(current));
    }
    match change {
        ScheduledChange::Cancel => transaction.execute(
            "UPDATE commands SET status = 'cancelled', finished_at = ?2 WHERE id = ?1",
            params![id, millis(now)],
        )?,
        ScheduledChange::Reschedule {
            execute_at,
            expires_at,
        } => transaction.execute(
            "UPDATE commands SET execute_at = ?2, expires_at = ?3, claimed_by = NULL, \
                 claim_until = NULL WHERE id = ?1",
            params![id, millis(execute_at), millis(expires_at)],
        )?,
    };
    let changed = stored_command(&transaction, id)?;
    transaction.commit()?;
    Ok(ChangeOutcome::Changed(changed))
}

/// Scheduled commands whose time has come and that no live claim holds, and running ones
/// whose claim ran out, oldest due first.
const CLAIMABLE: &str = "(status = 'scheduled' AND execute_at IS NOT NULL AND execute_at <= :now \
      AND (claim_until IS NULL OR claim_until < :now)) \
     OR (status IN ('running', 'interrupted') AND claimed_by IS NOT NULL AND claim_until < :now)";

pub(super) fn claim_due(
    connection: &mut Connection,
    controller: &str,
    now: Timestamp,
    until: Timestamp,
    limit: usize,
) -> Outcome<Vec<CommandRecord>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let sql = format!(
        "UPDATE commands SET claimed_by = :controller, claim_until = :until \
         WHERE id IN (SELECT id FROM commands WHERE {CLAIMABLE} \
             ORDER BY execute_at, id LIMIT :limit) \
         RETURNING id"
    );
    let ids: Vec<i64> = transaction
        .prepare_cached(&sql)?
        .query_map(
            named_params! {
                ":controller": controller,
                ":until": millis(until),
                ":now": millis(now),
                ":limit": sql_limit(limit),
            },
            |row| row.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        claimed.push(stored_command(&transaction, id)?);
    }
    transaction.commit()?;
    claimed.sort_by_key(|command| (command.execute_at, command.id));
    Ok(claimed)
}

pub(super) fn start_claimed(
    connection: &mut Connection,
    id: i64,
    controller: &str,
    runner: &LockHolder,
    now: Timestamp,
) -> Outcome<Option<CommandRecord>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = transaction.execute(
        "UPDATE commands SET status = 'running', started_at = ?3, runner = ?4 \
         WHERE id = ?1 AND claimed_by = ?2 AND status IN ('scheduled', 'interrupted')",
        params![id, controller, millis(now), to_json(runner)?],
    )?;
    let started = if changed == 1 {
        Some(stored_command(&transaction, id)?)
    } else {
        None
    };
    transaction.commit()?;
    Ok(started)
}

pub(super) fn renew_claims(
    connection: &mut Connection,
    controller: &str,
    ids: &[i64],
    until: Timestamp,
) -> Outcome<Vec<i64>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut lost = Vec::new();
    for &id in ids {
        let renewed = transaction
            .prepare_cached(
                "UPDATE commands SET claim_until = ?3 WHERE id = ?1 AND claimed_by = ?2 \
                 AND status IN ('scheduled', 'running')",
            )?
            .execute(params![id, controller, millis(until)])?;
        if renewed == 0 {
            lost.push(id);
        }
    }
    transaction.commit()?;
    Ok(lost)
}

pub(super) fn next_due(connection: &Connection) -> Outcome<Option<Timestamp>> {
    let earliest: Option<i64> = connection
        .prepare_cached(
            "SELECT MIN(due) FROM ( \
                 SELECT MIN(execute_at) AS due FROM commands \
                     WHERE status = 'scheduled' AND execute_at IS NOT NULL AND claim_until IS NULL \
                 UNION ALL \
                 SELECT MIN(claim_until) FROM commands \
                     WHERE status IN ('scheduled', 'running', 'interrupted') AND claim_until IS NOT NULL)",
        )?
        .query_row([], |row| row.get(0))?;
    Ok(earliest.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
}

pub(super) fn save_controller(
    connection: &Connection,
    controller: &ControllerRecord,
) -> Outcome<()> {
    connection
        .prepare_cached(
            "INSERT INTO controllers (id, machine, pid, listen, wake, started_at, seen_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (id) DO UPDATE SET listen = excluded.listen, wake = excluded.wake, \
                 seen_at = excluded.seen_at",
        )?
        .execute(params![
            controller.id,
            controller.machine,
            controller.pid,
            controller.listen,
            controller.wake,
            millis(controller.started_at),
            millis(controller.seen_at),
        ])?;
    Ok(())
}

pub(super) fn controllers(connection: &Connection) -> Outcome<Vec<ControllerRecord>> {
    let controllers = connection
        .prepare_cached(
            "SELECT id, machine, pid, listen, wake, started_at, seen_at FROM controllers \
             ORDER BY started_at, id",
        )?
        .query_map([], |row| {
            Ok(ControllerRecord {
                id: row.get(0)?,
                machine: row.get(1)?,
                pid: row.get(2)?,
                listen: row.get(3)?,
                wake: row.get(4)?,
                started_at: timestamp(row, 5)?,
                seen_at: timestamp(row, 6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(controllers)
}

pub(super) fn forget_controller(connection: &Connection, id: &str) -> Outcome<()> {
    connection
        .prepare_cached("DELETE FROM controllers WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}
