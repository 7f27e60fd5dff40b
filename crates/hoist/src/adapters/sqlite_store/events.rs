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
    let mut statement = connection.prepare_cached(
        "SELECT id, at, env, command_id, kind, message, actor FROM (\
           SELECT id, at, env, command_id, kind, message, actor FROM events \
           WHERE (:env IS NULL OR env = :env) \
             AND (:command_id IS NULL OR command_id = :command_id) \
             AND (:after_id IS NULL OR id > :after_id) \
             AND (:before_id IS NULL OR id < :before_id) \
             AND (:since IS NULL OR at >= :since) \
           ORDER BY CASE WHEN :newest THEN -id ELSE id END LIMIT :limit\
         ) ORDER BY id",
    )?;
    let events = statement
        .query_map(
            named_params! {
                ":env": filter.env.as_ref().map(|env| env.as_str()),
                ":command_id": filter.command_id,
                ":after_id": filter.after_id,
                ":before_id": filter.before_id,
                ":limit": sql_limit(filter.limit),
                ":since": filter.since.map(millis),
                ":newest": filter.newest,
            },
            |row| {
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
            },
        )?
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
