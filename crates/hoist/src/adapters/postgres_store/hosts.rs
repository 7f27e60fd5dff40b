//! Rows of `registered_hosts`: hosts an environment has besides the spec's.

use hoist_core::EnvName;
use postgres::Client;

use super::Outcome;
use super::columns::{millis, optional_parsed, parsed, timestamp, value};
use crate::ports::store::RegisteredHost;

pub(super) fn register_host(client: &mut Client, host: &RegisteredHost) -> Outcome<()> {
    client.execute(
        "INSERT INTO registered_hosts (env, address, jump, source, added_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (env, address) DO UPDATE SET jump = excluded.jump, \
             source = excluded.source, added_at = excluded.added_at",
        &[
            &host.env.as_str(),
            &host.address.to_string(),
            &host.jump.as_ref().map(ToString::to_string),
            &host.source,
            &millis(host.added_at),
        ],
    )?;
    Ok(())
}

pub(super) fn registered_hosts(client: &mut Client, env: &EnvName) -> Outcome<Vec<RegisteredHost>> {
    client
        .query(
            "SELECT env, address, jump, source, added_at FROM registered_hosts \
             WHERE env = $1 ORDER BY added_at, address COLLATE \"C\"",
            &[&env.as_str()],
        )?
        .iter()
        .map(|row| {
            Ok(RegisteredHost {
                env: parsed(row, "env")?,
                address: parsed(row, "address")?,
                jump: optional_parsed(row, "jump")?,
                source: value(row, "source")?,
                added_at: timestamp(row, "added_at")?,
            })
        })
        .collect()
}

pub(super) fn unregister_host(client: &mut Client, env: &EnvName, address: &str) -> Outcome<bool> {
    let removed = client.execute(
        "DELETE FROM registered_hosts WHERE env = $1 AND address = $2",
        &[&env.as_str(), &address],
    )?;
    Ok(removed > 0)
}
