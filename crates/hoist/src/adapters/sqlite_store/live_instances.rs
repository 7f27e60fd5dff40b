//! Rows of `live_instances`: the instance serving each host of an environment.

use hoist_core::EnvName;
use rusqlite::{Connection, named_params};

use super::Outcome;
use super::columns::{millis, parsed, timestamp, unsigned};
use crate::ports::store::LiveInstance;

pub(super) fn save(connection: &Connection, instance: &LiveInstance) -> Outcome<()> {
    connection
        .prepare_cached(
            "INSERT INTO live_instances (env, host, slot, release, pid, port, recorded_at) \
             VALUES (:env, :host, :slot, :release, :pid, :port, :recorded_at) \
             ON CONFLICT (env, host) DO UPDATE SET slot = excluded.slot, \
                 release = excluded.release, pid = excluded.pid, port = excluded.port, \
                 recorded_at = excluded.recorded_at",
        )?
        .execute(named_params! {
            ":env": instance.env.as_str(),
            ":host": instance.host,
            ":slot": instance.slot.as_str(),
            ":release": instance.release.as_str(),
            ":pid": instance.pid,
            ":port": instance.port,
            ":recorded_at": millis(instance.recorded_at),
        })?;
    Ok(())
}

pub(super) fn list(connection: &Connection, env: &EnvName) -> Outcome<Vec<LiveInstance>> {
    let mut statement = connection.prepare_cached(
        "SELECT env, host, slot, release, pid, port, recorded_at FROM live_instances \
         WHERE env = ?1 ORDER BY host",
    )?;
    let rows = statement
        .query_map([env.as_str()], |row| {
            let number = |index| {
                unsigned(row, index).and_then(|value| {
                    u32::try_from(value).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            index,
                            rusqlite::types::Type::Integer,
                            Box::new(e),
                        )
                    })
                })
            };
            let port = number(5)?;
            Ok(LiveInstance {
                env: parsed(row, 0)?,
                host: row.get(1)?,
                slot: parsed(row, 2)?,
                release: parsed(row, 3)?,
                pid: number(4)?,
                port: u16::try_from(port).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        5,
                        rusqlite::types::Type::Integer,
                        Box::new(e),
                    )
                })?,
                recorded_at: timestamp(row, 6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub(super) fn forget(connection: &Connection, env: &EnvName, host: Option<&str>) -> Outcome<bool> {
    let removed = match host {
        Some(host) => connection
            .prepare_cached("DELETE FROM live_instances WHERE env = ?1 AND host = ?2")?
            .execute([env.as_str(), host])?,
        None => connection
            .prepare_cached("DELETE FROM live_instances WHERE env = ?1")?
            .execute([env.as_str()])?,
    };
    Ok(removed > 0)
}
