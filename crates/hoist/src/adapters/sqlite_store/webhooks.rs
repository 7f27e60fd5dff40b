//! Rows of `webhooks`, `webhook_deliveries` and `webhook_cursor`. Changes that must not
//! interleave with another sender's (enqueue, claim) run in `BEGIN IMMEDIATE` transactions.

use jiff::Timestamp;
use rusqlite::{Connection, Row, TransactionBehavior, named_params};

use super::Outcome;
use super::columns::{
    at_store_precision, json, millis, optional_parsed, optional_timestamp, parsed, timestamp,
    to_json,
};
use super::events::sql_limit;
use crate::ports::webhook_store::{
    Delivery, DeliveryAttempt, DeliveryFilter, HookSecret, NewWebhook, Webhook,
};

const HOOK_COLUMNS: &str = "id, url, env, kinds, secret, created_by, created_at, after_event_id";
const DELIVERY_COLUMNS: &str = "id, hook_id, event_id, status, attempts, next_attempt_at, \
     last_status, last_error, created_at, updated_at";

pub(super) fn add_webhook(connection: &mut Connection, hook: &NewWebhook) -> Outcome<Webhook> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let after_event_id: i64 =
        transaction.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |row| {
            row.get(0)
        })?;
    transaction.execute(
        "INSERT INTO webhooks (url, env, kinds, secret, created_by, created_at, after_event_id) \
         VALUES (:url, :env, :kinds, :secret, :created_by, :created_at, :after_event_id)",
        named_params! {
            ":url": hook.url.to_string(),
            ":env": hook.env.as_ref().map(|env| env.as_str()),
            ":kinds": to_json(&hook.kinds)?,
            ":secret": hook.secret.expose(),
            ":created_by": hook.created_by,
            ":created_at": millis(hook.created_at),
            ":after_event_id": after_event_id,
        },
    )?;
    let id = transaction.last_insert_rowid();
    transaction.commit()?;
    Ok(Webhook {
        id,
        url: hook.url.clone(),
        env: hook.env.clone(),
        kinds: hook.kinds.clone(),
        secret: hook.secret.clone(),
        created_by: hook.created_by.clone(),
        created_at: at_store_precision(hook.created_at)?,
        after_event_id,
    })
}

pub(super) fn webhooks(connection: &Connection) -> Outcome<Vec<Webhook>> {
    let hooks = connection
        .prepare_cached(&format!("SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY id"))?
        .query_map([], hook_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(hooks)
}

/// The hooks whose secret an older hoist stored in clear: (id, url, secret).
pub(super) fn clear_secrets(connection: &Connection) -> Outcome<Vec<(i64, String, String)>> {
    let rows = connection
        .prepare_cached(
            "SELECT id, url, secret FROM webhooks WHERE secret NOT LIKE 'sealed:%' ORDER BY id",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// Replaces hook `id`'s secret with `sealed` if it is still `clear` (another process may have
/// sealed it meanwhile).
pub(super) fn seal_secret(
    connection: &Connection,
    id: i64,
    clear: &str,
    sealed: &str,
) -> Outcome<()> {
    connection.execute(
        "UPDATE webhooks SET secret = ?1 WHERE id = ?2 AND secret = ?3",
        rusqlite::params![sealed, id, clear],
    )?;
    Ok(())
}

pub(super) fn remove_webhook(connection: &Connection, id: i64) -> Outcome<bool> {
    // The deliveries go with it (ON DELETE CASCADE; foreign keys are on).
    Ok(connection.execute("DELETE FROM webhooks WHERE id = ?1", [id])? > 0)
}

pub(super) fn webhook_cursor(connection: &Connection) -> Outcome<i64> {
    Ok(connection.query_row(
        "SELECT COALESCE(MAX(event_id), 0) FROM webhook_cursor WHERE name = 'events'",
        [],
        |row| row.get(0),
    )?)
}

pub(super) fn enqueue_deliveries(
    connection: &mut Connection,
    pairs: &[(i64, i64)],
    cursor: i64,
    now: Timestamp,
) -> Outcome<usize> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut added = 0;
    {
        let mut insert = transaction.prepare_cached(
            "INSERT INTO webhook_deliveries \
                 (hook_id, event_id, status, attempts, next_attempt_at, created_at, updated_at) \
             SELECT :hook_id, :event_id, 'pending', 0, :now, :now, :now \
             WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = :hook_id) \
             ON CONFLICT (hook_id, event_id) DO NOTHING",
        )?;
        for (hook_id, event_id) in pairs {
            added += insert.execute(named_params! {
                ":hook_id": hook_id,
                ":event_id": event_id,
                ":now": millis(now),
            })?;
        }
    }
    transaction.execute(
        "INSERT INTO webhook_cursor (name, event_id) VALUES ('events', ?1) \
         ON CONFLICT (name) DO UPDATE SET event_id = MAX(event_id, excluded.event_id)",
        [cursor],
    )?;
    transaction.commit()?;
    Ok(added)
}

pub(super) fn claim_due_deliveries(
    connection: &mut Connection,
    now: Timestamp,
    hold_until: Timestamp,
    limit: usize,
) -> Outcome<Vec<Delivery>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut claimed: Vec<Delivery> = transaction
        .prepare_cached(&format!(
            "UPDATE webhook_deliveries SET next_attempt_at = :hold_until \
             WHERE id IN (SELECT id FROM webhook_deliveries \
                 WHERE status = 'pending' AND next_attempt_at <= :now \
                 ORDER BY next_attempt_at, id LIMIT :limit) \
             RETURNING {DELIVERY_COLUMNS}"
        ))?
        .query_map(
            named_params! {
                ":hold_until": millis(hold_until),
                ":now": millis(now),
                ":limit": sql_limit(limit),
            },
            delivery_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    transaction.commit()?;
    claimed.sort_by_key(|delivery| delivery.id);
    Ok(claimed)
}

pub(super) fn record_delivery_attempt(
    connection: &Connection,
    id: i64,
    attempt: &DeliveryAttempt,
) -> Outcome<Delivery> {
    Ok(connection
        .prepare_cached(&format!(
            "UPDATE webhook_deliveries SET status = :status, attempts = attempts + 1, \
                 next_attempt_at = :next, last_status = :http_status, last_error = :error, \
                 updated_at = :at \
             WHERE id = :id RETURNING {DELIVERY_COLUMNS}"
        ))?
        .query_row(
            named_params! {
                ":id": id,
                ":status": attempt.status.as_str(),
                ":next": attempt.next_attempt_at.map(millis),
                ":http_status": attempt.http_status,
                ":error": attempt.error,
                ":at": millis(attempt.at),
            },
            delivery_row,
        )?)
}

pub(super) fn deliveries(
    connection: &Connection,
    filter: &DeliveryFilter,
) -> Outcome<Vec<Delivery>> {
    let deliveries = connection
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
             WHERE (:hook_id IS NULL OR hook_id = :hook_id) \
             ORDER BY id DESC LIMIT :limit"
        ))?
        .query_map(
            named_params! {
                ":hook_id": filter.hook_id,
                ":limit": sql_limit(filter.limit),
            },
            delivery_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(deliveries)
}

fn hook_row(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    Ok(Webhook {
        id: row.get(0)?,
        url: parsed(row, 1)?,
        env: optional_parsed(row, 2)?,
        kinds: json(row, 3)?,
        secret: HookSecret::new(row.get(4)?),
        created_by: row.get(5)?,
        created_at: timestamp(row, 6)?,
        after_event_id: row.get(7)?,
    })
}

fn delivery_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: row.get(0)?,
        hook_id: row.get(1)?,
        event_id: row.get(2)?,
        status: parsed(row, 3)?,
        attempts: row.get(4)?,
        next_attempt_at: optional_timestamp(row, 5)?,
        last_status: row.get(6)?,
        last_error: row.get(7)?,
        created_at: timestamp(row, 8)?,
        updated_at: timestamp(row, 9)?,
    })
}
