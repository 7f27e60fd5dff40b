//! Rows of `webhooks`, `webhook_deliveries` and `webhook_cursor`. Claims lock rows with
//! `FOR UPDATE SKIP LOCKED`, so senders on one database share the due deliveries.

use jiff::Timestamp;
use postgres::{Client, Row};

use super::Outcome;
use super::columns::{
    at_store_precision, json, millis, number, optional_number, optional_parsed, optional_timestamp,
    parsed, sql_limit, timestamp, to_json, value,
};
use crate::ports::webhook_store::{
    Delivery, DeliveryAttempt, DeliveryFilter, HookSecret, NewWebhook, Webhook,
};

const HOOK_COLUMNS: &str = "id, url, env, kinds, secret, created_by, created_at, after_event_id";
const DELIVERY_COLUMNS: &str = "id, hook_id, event_id, status, attempts, next_attempt_at, \
     last_status, last_error, created_at, updated_at";

pub(super) fn add_webhook(client: &mut Client, hook: &NewWebhook) -> Outcome<Webhook> {
    let row = client.query_one(
        "INSERT INTO webhooks (url, env, kinds, secret, created_by, created_at, after_event_id) \
         VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(id), 0) FROM events)) \
         RETURNING id, after_event_id",
        &[
            &hook.url.to_string(),
            &hook.env.as_ref().map(|env| env.as_str()),
            &to_json("kinds", &hook.kinds)?,
            &hook.secret.expose(),
            &hook.created_by,
            &millis(hook.created_at),
        ],
    )?;
    Ok(Webhook {
        id: value(&row, "id")?,
        url: hook.url.clone(),
        env: hook.env.clone(),
        kinds: hook.kinds.clone(),
        secret: hook.secret.clone(),
        created_by: hook.created_by.clone(),
        created_at: at_store_precision(hook.created_at)?,
        after_event_id: value(&row, "after_event_id")?,
    })
}

pub(super) fn webhooks(client: &mut Client) -> Outcome<Vec<Webhook>> {
    client
        .query(
            &format!("SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY id"),
            &[],
        )?
        .iter()
        .map(hook_row)
        .collect()
}

/// The hooks whose secret an older hoist stored in clear: (id, url, secret).
pub(super) fn clear_secrets(client: &mut Client) -> Outcome<Vec<(i64, String, String)>> {
    client
        .query(
            "SELECT id, url, secret FROM webhooks WHERE secret NOT LIKE 'sealed:%' ORDER BY id",
            &[],
        )?
        .iter()
        .map(|row| Ok((value(row, "id")?, value(row, "url")?, value(row, "secret")?)))
        .collect()
}

/// Replaces hook `id`'s secret with `sealed` if it is still `clear` (another controller may
/// have sealed it meanwhile).
pub(super) fn seal_secret(client: &mut Client, id: i64, clear: &str, sealed: &str) -> Outcome<()> {
    client.execute(
        "UPDATE webhooks SET secret = $1 WHERE id = $2 AND secret = $3",
        &[&sealed, &id, &clear],
    )?;
    Ok(())
}

pub(super) fn remove_webhook(client: &mut Client, id: i64) -> Outcome<bool> {
    // The deliveries go with it (ON DELETE CASCADE).
    Ok(client.execute("DELETE FROM webhooks WHERE id = $1", &[&id])? > 0)
}

pub(super) fn webhook_cursor(client: &mut Client) -> Outcome<i64> {
    let row = client.query_one(
        "SELECT COALESCE(MAX(event_id), 0) AS event_id FROM webhook_cursor WHERE name = 'events'",
        &[],
    )?;
    value(&row, "event_id")
}

pub(super) fn enqueue_deliveries(
    client: &mut Client,
    pairs: &[(i64, i64)],
    cursor: i64,
    now: Timestamp,
) -> Outcome<usize> {
    let mut transaction = client.transaction()?;
    let insert = transaction.prepare(
        "INSERT INTO webhook_deliveries \
             (hook_id, event_id, status, attempts, next_attempt_at, created_at, updated_at) \
         SELECT $1, $2, 'pending', 0, $3, $3, $3 \
         WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = $1) \
         ON CONFLICT (hook_id, event_id) DO NOTHING",
    )?;
    let mut added = 0;
    for (hook_id, event_id) in pairs {
        added += transaction.execute(&insert, &[hook_id, event_id, &millis(now)])?;
    }
    transaction.execute(
        "INSERT INTO webhook_cursor (name, event_id) VALUES ('events', $1) \
         ON CONFLICT (name) DO UPDATE \
         SET event_id = GREATEST(webhook_cursor.event_id, excluded.event_id)",
        &[&cursor],
    )?;
    transaction.commit()?;
    Ok(usize::try_from(added).unwrap_or(usize::MAX))
}

pub(super) fn claim_due_deliveries(
    client: &mut Client,
    now: Timestamp,
    hold_until: Timestamp,
    limit: usize,
) -> Outcome<Vec<Delivery>> {
    let mut claimed = client
        .query(
            &format!(
                "UPDATE webhook_deliveries SET next_attempt_at = $1 \
                 WHERE id IN (SELECT id FROM webhook_deliveries \
                     WHERE status = 'pending' AND next_attempt_at <= $2 \
                     ORDER BY next_attempt_at, id LIMIT $3 \
                     FOR UPDATE SKIP LOCKED) \
                 RETURNING {DELIVERY_COLUMNS}"
            ),
            &[&millis(hold_until), &millis(now), &sql_limit(limit)],
        )?
        .iter()
        .map(delivery_row)
        .collect::<Outcome<Vec<_>>>()?;
    claimed.sort_by_key(|delivery| delivery.id);
    Ok(claimed)
}

pub(super) fn record_delivery_attempt(
    client: &mut Client,
    id: i64,
    attempt: &DeliveryAttempt,
) -> Outcome<Delivery> {
    let row = client.query_one(
        &format!(
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, \
                 next_attempt_at = $3, last_status = $4, last_error = $5, updated_at = $6 \
             WHERE id = $1 RETURNING {DELIVERY_COLUMNS}"
        ),
        &[
            &id,
            &attempt.status.as_str(),
            &attempt.next_attempt_at.map(millis),
            &attempt.http_status.map(i64::from),
            &attempt.error,
            &millis(attempt.at),
        ],
    )?;
    delivery_row(&row)
}

pub(super) fn deliveries(client: &mut Client, filter: &DeliveryFilter) -> Outcome<Vec<Delivery>> {
    client
        .query(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries \
                 WHERE ($1::bigint IS NULL OR hook_id = $1) \
                 ORDER BY id DESC LIMIT $2"
            ),
            &[&filter.hook_id, &sql_limit(filter.limit)],
        )?
        .iter()
        .map(delivery_row)
        .collect()
}

fn hook_row(row: &Row) -> Outcome<Webhook> {
    Ok(Webhook {
        id: value(row, "id")?,
        url: parsed(row, "url")?,
        env: optional_parsed(row, "env")?,
        kinds: json(row, "kinds")?,
        secret: HookSecret::new(value(row, "secret")?),
        created_by: value(row, "created_by")?,
        created_at: timestamp(row, "created_at")?,
        after_event_id: value(row, "after_event_id")?,
    })
}

fn delivery_row(row: &Row) -> Outcome<Delivery> {
    Ok(Delivery {
        id: value(row, "id")?,
        hook_id: value(row, "hook_id")?,
        event_id: value(row, "event_id")?,
        status: parsed(row, "status")?,
        attempts: number(row, "attempts")?,
        next_attempt_at: optional_timestamp(row, "next_attempt_at")?,
        last_status: optional_number(row, "last_status")?,
        last_error: value(row, "last_error")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}
