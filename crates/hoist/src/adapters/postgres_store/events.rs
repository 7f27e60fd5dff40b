//! Rows of `events`: the audit timeline, append only, read oldest first (or the newest
//! few, still oldest first).
//!
//! Ids come from an identity column, so they increase in the order rows are inserted. With
//! several writing processes a row can commit after one with a higher id, so a follower
//! polling with `after_id` can step over it; the shared command queue will need to account
//! for that if it follows events across controllers.

use postgres::Client;

use super::Outcome;
use super::columns::{at_store_precision, millis, optional_parsed, sql_limit, timestamp, value};
use crate::ports::store::{Event, EventFilter, NewEvent};

pub(super) fn append_event(client: &mut Client, event: &NewEvent) -> Outcome<Event> {
    let row = client.query_one(
        "INSERT INTO events (at, env, command_id, kind, message, actor) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        &[
            &millis(event.at),
            &event.env.as_ref().map(|env| env.as_str()),
            &event.command_id,
            &event.kind,
            &event.message,
            &event.actor,
        ],
    )?;
    let mut stored = event.clone();
    // Read back what a later `events` call will return, at the store's precision.
    stored.at = at_store_precision(event.at)?;
    Ok(Event {
        id: value(&row, "id")?,
        event: stored,
    })
}

pub(super) fn events(client: &mut Client, filter: &EventFilter) -> Outcome<Vec<Event>> {
    client
        .query(
            "SELECT id, at, env, command_id, kind, message, actor FROM (\
               SELECT id, at, env, command_id, kind, message, actor FROM events \
               WHERE ($1::text IS NULL OR env = $1) \
                 AND ($2::bigint IS NULL OR command_id = $2) \
                 AND ($3::bigint IS NULL OR id > $3) \
                 AND ($5::bigint IS NULL OR at >= $5) \
                 AND ($7::bigint IS NULL OR id < $7) \
               ORDER BY CASE WHEN $6 THEN -id ELSE id END LIMIT $4\
             ) AS chosen ORDER BY id",
            &[
                &filter.env.as_ref().map(|env| env.as_str()),
                &filter.command_id,
                &filter.after_id,
                &sql_limit(filter.limit),
                &filter.since.map(millis),
                &filter.newest,
                &filter.before_id,
            ],
        )?
        .iter()
        .map(|row| {
            Ok(Event {
                id: value(row, "id")?,
                event: NewEvent {
                    at: timestamp(row, "at")?,
                    env: optional_parsed(row, "env")?,
                    command_id: value(row, "command_id")?,
                    kind: value(row, "kind")?,
                    message: value(row, "message")?,
                    actor: value(row, "actor")?,
                },
            })
        })
        .collect()
}
