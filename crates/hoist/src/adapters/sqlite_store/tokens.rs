//! Rows of `tokens`: API tokens by the hash of their secret.

use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, named_params, params};

use super::columns::{json, millis, optional_timestamp, parsed, timestamp, to_json};
use super::{Failure, Outcome};
use crate::ports::token_store::{NewToken, RevokeOutcome, TokenRecord};

const COLUMNS: &str = "id, name, role, envs, created_by, created_at, last_used_at, revoked_at";

pub(super) fn create_token(connection: &Connection, token: &NewToken) -> Outcome<TokenRecord> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO tokens (name, role, envs, secret_hash, created_by, created_at) \
             VALUES (:name, :role, :envs, :secret_hash, :created_by, :created_at)",
        )?
        .execute(named_params! {
            ":name": token.name,
            ":role": token.role.as_str(),
            ":envs": to_json(&token.envs)?,
            ":secret_hash": token.secret_hash,
            ":created_by": token.created_by,
            ":created_at": millis(token.created_at),
        });
    match inserted {
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            return Err(Failure::Refused(
                crate::ports::token_store::token_name_taken(&token.name),
            ));
        }
        other => other?,
    };
    let id = connection.last_insert_rowid();
    stored_token(connection, id)
}

pub(super) fn token_by_hash(connection: &Connection, hash: &str) -> Outcome<Option<TokenRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE secret_hash = ?1 AND revoked_at IS NULL");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([hash], token_row)
        .optional()?)
}

pub(super) fn token(connection: &Connection, id: i64) -> Outcome<Option<TokenRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([id], token_row)
        .optional()?)
}

fn stored_token(connection: &Connection, id: i64) -> Outcome<TokenRecord> {
    token(connection, id)?.ok_or(Failure::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

pub(super) fn tokens(connection: &Connection) -> Outcome<Vec<TokenRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM tokens ORDER BY id");
    let rows = connection
        .prepare_cached(&sql)?
        .query_map([], token_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub(super) fn revoke_token(
    connection: &mut Connection,
    id: i64,
    at: jiff::Timestamp,
) -> Outcome<RevokeOutcome> {
    let transaction = connection.transaction()?;
    let outcome = match token(&transaction, id)? {
        None => RevokeOutcome::Missing,
        Some(current) if current.revoked_at.is_some() => RevokeOutcome::AlreadyRevoked(current),
        Some(_) => {
            transaction.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1",
                params![id, millis(at)],
            )?;
            RevokeOutcome::Revoked(stored_token(&transaction, id)?)
        }
    };
    transaction.commit()?;
    Ok(outcome)
}

pub(super) fn touch_token(connection: &Connection, id: i64, at: jiff::Timestamp) -> Outcome<()> {
    connection
        .prepare_cached("UPDATE tokens SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![id, millis(at)])?;
    Ok(())
}

fn token_row(row: &Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        role: parsed(row, 2)?,
        envs: json(row, 3)?,
        created_by: row.get(4)?,
        created_at: timestamp(row, 5)?,
        last_used_at: optional_timestamp(row, 6)?,
        revoked_at: optional_timestamp(row, 7)?,
    })
}
