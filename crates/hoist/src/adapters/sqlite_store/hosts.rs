//! Rows of `registered_hosts`: hosts an environment has besides the spec's.

use hoist_core::EnvName;
use rusqlite::{Connection, named_params};

use super::Outcome;
use super::columns::{millis, optional_parsed, parsed, timestamp};
use crate::ports::store::RegisteredHost;

pub(super) fn register_host(connection: &Connection, host: &RegisteredHost) -> Outcome<()> {
    connection
        .prepare_cached(
            "INSERT INTO registered_hosts (env, address, jump, source, added_at) \
             VALUES (:env, :address, :jump, :source, :added_at) \
             ON CONFLICT (env, address) DO UPDATE SET jump = excluded.jump, \
                 source = excluded.source, added_at = excluded.added_at",
        )?
        .execute(named_params! {
            ":env": host.env.as_str(),
            ":address": host.address.to_string(),
            ":jump": host.jump.as_ref().map(ToString::to_string),
            ":source": host.source,
            ":added_at": millis(host.added_at),
        })?;
    Ok(())
}

pub(super) fn registered_hosts(
    connection: &Connection,
    env: &EnvName,
) -> Outcome<Vec<RegisteredHost>> {
    let mut statement = connection.prepare_cached(
        "SELECT env, address, jump, source, added_at FROM registered_hosts \
         WHERE env = ?1 ORDER BY added_at, address",
    )?;
    let hosts = statement
        .query_map([env.as_str()], |row| {
            Ok(RegisteredHost {
                env: parsed(row, 0)?,
                address: parsed(row, 1)?,
                jump: optional_parsed(row, 2)?,
                source: row.get(3)?,
                added_at: timestamp(row, 4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(hosts)
}

pub(super) fn unregister_host(
    connection: &Connection,
    env: &EnvName,
    address: &str,
) -> Outcome<bool> {
    let removed = connection
        .prepare_cached("DELETE FROM registered_hosts WHERE env = ?1 AND address = ?2")?
        .execute([env.as_str(), address])?;
    Ok(removed > 0)
}
