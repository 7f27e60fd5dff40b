//! Rows of `events`: the audit timeline, append only, read oldest first (or the newest
//! few, still oldest first).

use rusqlite::{Connection, named_params};

use super::Outcome;
use super::columns::{at_store_precision, millis, optional_parsed, timestamp};
use crate::ports::store::{Event, EventFilter, NewEvent};

pub(super) fn append_event(connection: &Connection, event: &NewEvent) -> Outcome<Event> {
    connection
        .prepare_cached(
            "INSERT INTO events (at, env, command_id, kind, message, actor) \
             VALUES (:at, :env, :command_id, :kind, :message, :actor)",
        )?
        .execute(named_params! {
            ":at": millis(event.at),
            ":env": event.env.as_ref().map(|env| env.as_str()),
            ":command_id": event.command_id,
            ":kind": event.kind,
            ":message": event.message,
            ":actor": event.actor,
        })?;
    let mut stored = event.clone();
    // Read back what a later `events` call will return, at the store's precision.
    stored.at = at_store_precision(event.at)?;
    Ok(Event {
        id: connection.last_insert_rowid(),
        event: stored,
    })
}

pub(super) fn events(connection: &Connection, filter: &EventFilter) -> Outcome<Vec<Event>> {
    // Only the conditions that are set go into the statement, and the newest are read in
    // descending id order: SQLite then walks `events_by_env` / `events_by_command` or the
    // rowid and stops at the limit, where `(:env IS NULL OR env = :env)` and an ORDER BY on
    // an expression made it read and sort every event.
    let mut conditions = Vec::new();
    let mut params: Vec<(&str, rusqlite::types::Value)> = Vec::new();
    if let Some(env) = &filter.env {
        conditions.push("env = :env");
        params.push((":env", env.as_str().to_owned().into()));
    }
    if let Some(command_id) = filter.command_id {
        conditions.push("command_id = :command_id");
        params.push((":command_id", command_id.into()));
    }
    if let Some(after_id) = filter.after_id {
        conditions.push("id > :after_id");
        params.push((":after_id", after_id.into()));
    }
    if let Some(before_id) = filter.before_id {
        conditions.push("id < :before_id");
        params.push((":before_id", before_id.into()));
    }
    if let Some(since) = filter.since {
        conditions.push("at >= :since");
        params.push((":since", millis(since).into()));
    }
    params.push((":limit", sql_limit(filter.limit).into()));
    let filter_sql = match conditions.is_empty() {
        true => String::new(),
        false => format!("WHERE {}", conditions.join(" AND ")),
    };
    let order = if filter.newest { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT id, at, env, command_id, kind, message, actor FROM (\
           SELECT id, at, env, command_id, kind, message, actor FROM events {filter_sql} \
           ORDER BY id {order} LIMIT :limit\
         ) ORDER BY id"
    );
    let bound: Vec<(&str, &dyn rusqlite::ToSql)> = params
        .iter()
        .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
        .collect();
    let events = connection
        .prepare_cached(&sql)?
        .query_map(bound.as_slice(), |row| {
            Ok(Event {
                id: row.get(0)?,
                event: NewEvent {
                    at: timestamp(row, 1)?,
                    env: optional_parsed(row, 2)?,
                    command_id: row.get(3)?,
                    kind: row.get(4)?,
                    message: row.get(5)?,
                    actor: row.get(6)?,
                },
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(events)
}

/// A filter's limit as SQLite reads `LIMIT`: 0 means no limit, which SQLite spells -1.
pub(super) fn sql_limit(limit: usize) -> i64 {
    match limit {
        0 => -1,
        limit => i64::try_from(limit).unwrap_or(i64::MAX),
    }
}
