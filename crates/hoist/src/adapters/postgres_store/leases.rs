//! Rows of `leases`: one environment, one command at a time, across every process that
//! shares the database.
//!
//! Acquiring is one upsert that overwrites only an expired row; when it changes nothing, the
//! conflicting row is still locked by it (PostgreSQL locks the row `ON CONFLICT DO UPDATE`
//! found, whatever its `WHERE` said), so reading the holder in the same transaction reports
//! the lease that actually won. Takeover, renewal and release lock the row with
//! `SELECT … FOR UPDATE`, compare the holder field by field after decoding (not as JSON
//! text), then write: a second racer waits on the lock and then sees the new holder.

use std::time::Duration;

use hoist_core::EnvName;
use jiff::Timestamp;
use postgres::{Client, Transaction};

use super::columns::{json, millis, timestamp, to_json};
use super::{Failure, Outcome};
use crate::error::Error;
use crate::ports::host::LockHolder;
use crate::ports::store::LeaseOutcome;

/// How long a lease lasts and from when.
pub(super) struct Term {
    pub ttl: Duration,
    pub now: Timestamp,
}

impl Term {
    fn expires_at(&self) -> Outcome<i64> {
        let expires_at = self.now.checked_add(self.ttl).map_err(|error| {
            Failure::Refused(
                Error::failed(format!(
                    "a lease of {:?} from {} is out of range",
                    self.ttl, self.now
                ))
                .cause(error),
            )
        })?;
        Ok(millis(expires_at))
    }
}

/// Takes the lease if there is none or it expired (`expires_at <= now`).
pub(super) fn acquire_lease(
    client: &mut Client,
    env: &EnvName,
    holder: &LockHolder,
    term: &Term,
) -> Outcome<LeaseOutcome> {
    let mut transaction = client.transaction()?;
    let acquired = transaction
        .query_opt(
            "INSERT INTO leases (env, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (env) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at \
             WHERE leases.expires_at <= $4 \
             RETURNING env",
            &[
                &env.as_str(),
                &to_json("holder", holder)?,
                &term.expires_at()?,
                &millis(term.now),
            ],
        )?
        .is_some();
    if acquired {
        transaction.commit()?;
        return Ok(LeaseOutcome::Acquired);
    }
    let Some((holder, expires_at)) = current_lease(&mut transaction, env)? else {
        // The upsert neither inserted nor found a row to keep: cannot happen while it
        // holds the row's lock, so it is reported rather than guessed at.
        return Err(Failure::Refused(Error::internal(format!(
            "the lease on `{env}` was neither free nor held"
        ))));
    };
    transaction.commit()?;
    Ok(LeaseOutcome::Held { holder, expires_at })
}

pub(super) fn take_over_lease(
    client: &mut Client,
    env: &EnvName,
    stale: &LockHolder,
    holder: &LockHolder,
    term: &Term,
) -> Outcome<bool> {
    let mut transaction = client.transaction()?;
    if !is_held_by(&mut transaction, env, stale)? {
        return Ok(false);
    }
    write_lease(&mut transaction, env, holder, term)?;
    transaction.commit()?;
    Ok(true)
}

/// Extends the lease while the row still names `holder`, even past its expiry: nobody else
/// took it, so nothing was lost.
pub(super) fn renew_lease(
    client: &mut Client,
    env: &EnvName,
    holder: &LockHolder,
    term: &Term,
) -> Outcome<bool> {
    let mut transaction = client.transaction()?;
    if !is_held_by(&mut transaction, env, holder)? {
        return Ok(false);
    }
    write_lease(&mut transaction, env, holder, term)?;
    transaction.commit()?;
    Ok(true)
}

pub(super) fn release_lease(
    client: &mut Client,
    env: &EnvName,
    holder: &LockHolder,
) -> Outcome<()> {
    let mut transaction = client.transaction()?;
    if is_held_by(&mut transaction, env, holder)? {
        transaction.execute("DELETE FROM leases WHERE env = $1", &[&env.as_str()])?;
        transaction.commit()?;
    }
    Ok(())
}

/// The lease's holder and expiry, locking its row until the transaction ends.
fn current_lease(
    transaction: &mut Transaction<'_>,
    env: &EnvName,
) -> Outcome<Option<(LockHolder, Timestamp)>> {
    transaction
        .query_opt(
            "SELECT holder, expires_at FROM leases WHERE env = $1 FOR UPDATE",
            &[&env.as_str()],
        )?
        .map(|row| Ok((json(&row, "holder")?, timestamp(&row, "expires_at")?)))
        .transpose()
}

fn is_held_by(
    transaction: &mut Transaction<'_>,
    env: &EnvName,
    holder: &LockHolder,
) -> Outcome<bool> {
    Ok(current_lease(transaction, env)?.is_some_and(|(current, _)| current == *holder))
}

/// Overwrites the row `current_lease` locked.
fn write_lease(
    transaction: &mut Transaction<'_>,
    env: &EnvName,
    holder: &LockHolder,
    term: &Term,
) -> Outcome<()> {
    transaction.execute(
        "UPDATE leases SET holder = $2, expires_at = $3 WHERE env = $1",
        &[
            &env.as_str(),
            &to_json("holder", holder)?,
            &term.expires_at()?,
        ],
    )?;
    Ok(())
}
