//! Rows of `leases`: one environment, one command at a time. Every operation reads, decides
//! and writes inside one `BEGIN IMMEDIATE` transaction: SQLite then admits one writer at a
//! time across processes, so of two racing callers exactly one sees the lease free.
//! Holders are compared field by field after decoding, not as JSON text.

use std::time::Duration;

use hoist_core::EnvName;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

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

pub(super) fn acquire_lease(
    connection: &mut Connection,
    env: &EnvName,
    holder: &LockHolder,
    term: &Term,
) -> Outcome<LeaseOutcome> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if let Some((current, expires_at)) = current_lease(&transaction, env)?
        && millis(expires_at) > millis(term.now)
    {
        return Ok(LeaseOutcome::Held {
            holder: current,
            expires_at,
        });
    }
    write_lease(&transaction, env, holder, term)?;
    transaction.commit()?;
    Ok(LeaseOutcome::Acquired)
}

pub(super) fn take_over_lease(
    connection: &mut Connection,
    env: &EnvName,
    stale: &LockHolder,
    holder: &LockHolder,
    term: &Term,
) -> Outcome<bool> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !is_held_by(&transaction, env, stale)? {
        return Ok(false);
    }
    write_lease(&transaction, env, holder, term)?;
    transaction.commit()?;
    Ok(true)
}

/// Extends the lease while the row still names `holder`, even past its expiry: nobody else
/// took it, so nothing was lost.
pub(super) fn renew_lease(
    connection: &mut Connection,
    env: &EnvName,
    holder: &LockHolder,
    term: &Term,
) -> Outcome<bool> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !is_held_by(&transaction, env, holder)? {
        return Ok(false);
    }
    write_lease(&transaction, env, holder, term)?;
    transaction.commit()?;
    Ok(true)
}

pub(super) fn release_lease(
    connection: &mut Connection,
    env: &EnvName,
    holder: &LockHolder,
) -> Outcome<()> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if is_held_by(&transaction, env, holder)? {
        transaction
            .prepare_cached("DELETE FROM leases WHERE env = ?1")?
            .execute([env.as_str()])?;
        transaction.commit()?;
    }
    Ok(())
}

fn current_lease(
    transaction: &Transaction<'_>,
    env: &EnvName,
) -> Outcome<Option<(LockHolder, Timestamp)>> {
    let lease = transaction
        .prepare_cached("SELECT holder, expires_at FROM leases WHERE env = ?1")?
        .query_row([env.as_str()], |row| {
            Ok((json(row, 0)?, timestamp(row, 1)?))
        })
        .optional()?;
    Ok(lease)
}

fn is_held_by(transaction: &Transaction<'_>, env: &EnvName, holder: &LockHolder) -> Outcome<bool> {
    Ok(current_lease(transaction, env)?.is_some_and(|(current, _)| current == *holder))
}

fn write_lease(
    transaction: &Transaction<'_>,
    env: &EnvName,
    holder: &LockHolder,
    term: &Term,
) -> Outcome<()> {
    transaction
        .prepare_cached(
            "INSERT INTO leases (env, holder, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (env) DO UPDATE SET holder = excluded.holder, \
                 expires_at = excluded.expires_at",
        )?
        .execute(params![env.as_str(), to_json(holder)?, term.expires_at()?])?;
    Ok(())
}
