//! The command queue on PostgreSQL: claims, conditional changes and the controllers'
//! registry. Claims take due rows with `FOR UPDATE SKIP LOCKED`, so controllers claiming at
//! once split the due commands between them instead of queueing on the same rows; a changed
//! queue is announced with `NOTIFY hoist_commands` (sent at commit) to wake controllers on
//! other machines.

use jiff::Timestamp;
use postgres::{Client, GenericClient};

use super::Outcome;
use super::columns::{millis, sql_limit, timestamp, to_json, value};
use super::commands::{command, stored_command};
use crate::ports::command_queue::{ChangeOutcome, ControllerRecord, ScheduledChange};
use crate::ports::host::LockHolder;
use crate::ports::store::CommandRecord;

/// The channel controllers `LISTEN` on.
pub(super) const CHANNEL: &str = "hoist_commands";

pub(super) fn change_scheduled(
    client: &mut Client,
    id: i64,
    change: ScheduledChange,
    now: Timestamp,
) -> Outcome<ChangeOutcome> {
    let mut transaction = client.transaction()?;
    let locked = transaction.query_opt(
        "SELECT status FROM commands WHERE id = $1 FOR UPDATE",
        &[&id],
    )?;
    let Some(row) = locked else {
        return Ok(ChangeOutcome::Missing);
    };
    let status: String = value(&row, "status")?;
    if status != "scheduled" {
        let current = stored_command(&mut transaction, id)?;
        return Ok(ChangeOutcome::NotScheduled(current));
    }
    match change {
        ScheduledChange::Cancel => transaction.execute(
            "UPDATE commands SET status = 'cancelled', finished_at = $2 WHERE id = $1",
            &[&id, &millis(now)],
        )?,
        ScheduledChange::Reschedule {
            execute_at,
            expires_at,
        } => transaction.execute(
            "UPDATE commands SET execute_at = $2, expires_at = $3, claimed_by = NULL, \
                 claim_until = NULL WHERE id = $1",
            &[&id, &millis(execute_at), &millis(expires_at)],
        )?,
    };
    notify(&mut transaction)?;
    let changed = stored_command(&mut transaction, id)?;
    transaction.commit()?;
    Ok(ChangeOutcome::Changed(changed))
}

pub(super) fn claim_due(
    client: &mut Client,
    controller: &str,
    now: Timestamp,
    until: Timestamp,
    limit: usize,
) -> Outcome<Vec<CommandRecord>> {
    let mut transaction = client.transaction()?;
    let rows = transaction.query(
        "UPDATE commands SET claimed_by = $1, claim_until = $2 \
         WHERE id IN ( \
             SELECT id FROM commands \
             WHERE (status = 'scheduled' AND execute_at IS NOT NULL AND execute_at <= $3 \
                    AND (claim_until IS NULL OR claim_until < $3)) \
                OR (status IN ('running', 'interrupted') AND claimed_by IS NOT NULL AND claim_until < $3) \
             ORDER BY execute_at, id LIMIT $4 \
             FOR UPDATE SKIP LOCKED) \
         RETURNING id",
        &[&controller, &millis(until), &millis(now), &sql_limit(limit)],
    )?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in &rows {
        claimed.push(stored_command(&mut transaction, value(row, "id")?)?);
    }
    transaction.commit()?;
    claimed.sort_by_key(|command| (command.execute_at, command.id));
    Ok(claimed)
}

pub(super) fn start_claimed(
    client: &mut Client,
    id: i64,
    controller: &str,
    runner: &LockHolder,
    now: Timestamp,
) -> Outcome<Option<CommandRecord>> {
    let changed = client.execute(
        "UPDATE commands SET status = 'running', started_at = $3, runner = $4 \
         WHERE id = $1 AND claimed_by = $2 AND status IN ('scheduled', 'interrupted')",
        &[&id, &controller, &millis(now), &to_json("runner", runner)?],
    )?;
    if changed == 1 {
        Ok(command(client, id)?)
    } else {
        Ok(None)
    }
}

pub(super) fn renew_claims(
    client: &mut Client,
    controller: &str,
    ids: &[i64],
    until: Timestamp,
) -> Outcome<Vec<i64>> {
    let rows = client.query(
        "UPDATE commands SET claim_until = $3 WHERE id = ANY($1) AND claimed_by = $2 \
         AND status IN ('scheduled', 'running') RETURNING id",
        &[&ids, &controller, &millis(until)],
    )?;
    let renewed: Vec<i64> = rows
        .iter()
        .map(|row| value(row, "id"))
        .collect::<Outcome<_>>()?;
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !renewed.contains(id))
        .collect())
}

pub(super) fn next_due(client: &mut Client) -> Outcome<Option<Timestamp>> {
    let row = client.query_one(
        "SELECT LEAST( \
             (SELECT MIN(execute_at) FROM commands \
                 WHERE status = 'scheduled' AND execute_at IS NOT NULL AND claim_until IS NULL), \
             (SELECT MIN(claim_until) FROM commands \
                 WHERE status IN ('scheduled', 'running', 'interrupted') AND claim_until IS NOT NULL)) AS due",
        &[],
    )?;
    let due: Option<i64> = value(&row, "due")?;
    Ok(due.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
}

/// Tells listening controllers the queue changed; delivered when the transaction commits.
pub(super) fn notify(client: &mut impl GenericClient) -> Outcome<()> {
    client.execute(&format!("NOTIFY {CHANNEL}"), &[])?;
    Ok(())
}

pub(super) fn save_controller(client: &mut Client, controller: &ControllerRecord) -> Outcome<()> {
    client.execute(
        "INSERT INTO controllers (id, machine, pid, listen, wake, started_at, seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET listen = excluded.listen, wake = excluded.wake, \
             seen_at = excluded.seen_at",
        &[
            &controller.id,
            &controller.machine,
            &i64::from(controller.pid),
            &controller.listen,
            &controller.wake,
            &millis(controller.started_at),
            &millis(controller.seen_at),
        ],
    )?;
    Ok(())
}

pub(super) fn controllers(client: &mut Client) -> Outcome<Vec<ControllerRecord>> {
    client
        .query(
            "SELECT id, machine, pid, listen, wake, started_at, seen_at FROM controllers \
             ORDER BY started_at, id",
            &[],
        )?
        .iter()
        .map(|row| {
            let pid: i64 = value(row, "pid")?;
            Ok(ControllerRecord {
                id: value(row, "id")?,
                machine: value(row, "machine")?,
                pid: u32::try_from(pid).unwrap_or(0),
                listen: value(row, "listen")?,
                wake: value(row, "wake")?,
                started_at: timestamp(row, "started_at")?,
                seen_at: timestamp(row, "seen_at")?,
            })
        })
        .collect()
}

pub(super) fn forget_controller(client: &mut Client, id: &str) -> Outcome<()> {
    client.execute("DELETE FROM controllers WHERE id = $1", &[&id])?;
    Ok(())
}

/// Listens on the queue's channel on a connection of its own, calling `on_change` for each
/// notification (and after each reconnection, since changes may have been missed).
pub(super) fn watch(
    config: postgres::Config,
    on_change: Box<dyn Fn() + Send>,
) -> std::io::Result<()> {
    use postgres::fallible_iterator::FallibleIterator;
    std::thread::Builder::new()
        .name("queue-listener".to_owned())
        .spawn(move || {
            loop {
                if let Ok(mut client) = config.connect(postgres::NoTls)
                    && client.batch_execute(&format!("LISTEN {CHANNEL}")).is_ok()
                {
                    on_change();
                    let mut notifications = client.notifications();
                    let mut arriving = notifications.blocking_iter();
                    while let Ok(Some(_)) = arriving.next() {
                        on_change();
                    }
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        })?;
    Ok(())
}
