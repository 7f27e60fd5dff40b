//! Rows of `live_instances`: the instance serving each host of an environment.

use hoist_core::EnvName;
use postgres::Client;

use super::Outcome;
use super::columns::{millis, number, parsed, timestamp, value};
use crate::ports::store::LiveInstance;

pub(super) fn save(client: &mut Client, instance: &LiveInstance) -> Outcome<()> {
    client.execute(
        "INSERT INTO live_instances (env, host, slot, release, pid, port, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (env, host) DO UPDATE SET slot = excluded.slot, \
             release = excluded.release, pid = excluded.pid, port = excluded.port, \
             recorded_at = excluded.recorded_at",
        &[
            &instance.env.as_str(),
            &instance.host,
            &instance.slot.as_str(),
            &instance.release.as_str(),
            &i64::from(instance.pid),
            &i64::from(instance.port),
            &millis(instance.recorded_at),
        ],
    )?;
    Ok(())
}

pub(super) fn list(client: &mut Client, env: &EnvName) -> Outcome<Vec<LiveInstance>> {
    client
        .query(
            "SELECT env, host, slot, release, pid, port, recorded_at FROM live_instances \
             WHERE env = $1 ORDER BY host COLLATE \"C\"",
            &[&env.as_str()],
        )?
        .iter()
        .map(|row| {
            Ok(LiveInstance {
                env: parsed(row, "env")?,
                host: value(row, "host")?,
                slot: parsed(row, "slot")?,
                release: parsed(row, "release")?,
                pid: number(row, "pid")?,
                port: number(row, "port")?,
                recorded_at: timestamp(row, "recorded_at")?,
            })
        })
        .collect()
}

pub(super) fn forget(client: &mut Client, env: &EnvName, host: Option<&str>) -> Outcome<bool> {
    // `host IS NULL` in the parameter's sense: no host given forgets every host's instance.
    let removed = client.execute(
        "DELETE FROM live_instances WHERE env = $1 AND ($2::text IS NULL OR host = $2)",
        &[&env.as_str(), &host],
    )?;
    Ok(removed > 0)
}
