//! Rows of `tokens`: API tokens by the hash of their secret.

use jiff::Timestamp;
use postgres::error::SqlState;
use postgres::{Client, Row};

use super::columns::{json, millis, optional_timestamp, parsed, timestamp, to_json, value};
use super::{Failure, Outcome};
use crate::ports::token_store::{NewToken, RevokeOutcome, TokenRecord};

const COLUMNS: &str = "id, name, role, envs, created_by, created_at, last_used_at, revoked_at";

pub(super) fn create_token(client: &mut Client, token: &NewToken) -> Outcome<TokenRecord> {
    let sql = format!(
        "INSERT INTO tokens (name, role, envs, secret_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    );
    let inserted = client.query_one(
        &sql,
        &[
            &token.name,
            &token.role.as_str(),
            &to_json("envs", &token.envs)?,
            &token.secret_hash,
            &token.created_by,
            &millis(token.created_at),
        ],
    );
    match inserted {
        Ok(row) => token_row(&row),
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(Failure::Refused(
            crate::ports::token_store::token_name_taken(&token.name),
        )),
        Err(error) => Err(error.into()),
    }
}

pub(super) fn token_by_hash(client: &mut Client, hash: &str) -> Outcome<Option<TokenRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE secret_hash = $1 AND revoked_at IS NULL");
    client
        .query_opt(&sql, &[&hash])?
        .map(|row| token_row(&row))
        .transpose()
}

pub(super) fn token(client: &mut Client, id: i64) -> Outcome<Option<TokenRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE id = $1");
    client
        .query_opt(&sql, &[&id])?
        .map(|row| token_row(&row))
        .transpose()
}

pub(super) fn tokens(client: &mut Client) -> Outcome<Vec<TokenRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM tokens ORDER BY id");
    client.query(&sql, &[])?.iter().map(token_row).collect()
}

pub(super) fn revoke_token(client: &mut Client, id: i64, at: Timestamp) -> Outcome<RevokeOutcome> {
    let mut transaction = client.transaction()?;
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE id = $1 FOR UPDATE");
    let current = transaction
        .query_opt(&sql, &[&id])?
        .map(|row| token_row(&row))
        .transpose()?;
    let outcome = match current {
        None => RevokeOutcome::Missing,
        Some(current) if current.revoked_at.is_some() => RevokeOutcome::AlreadyRevoked(current),
        Some(_) => {
            let sql =
                format!("UPDATE tokens SET revoked_at = $2 WHERE id = $1 RETURNING {COLUMNS}");
            let row = transaction.query_one(&sql, &[&id, &millis(at)])?;
            RevokeOutcome::Revoked(token_row(&row)?)
        }
    };
    transaction.commit()?;
    Ok(outcome)
}

pub(super) fn touch_token(client: &mut Client, id: i64, at: Timestamp) -> Outcome<()> {
    client.execute(
        "UPDATE tokens SET last_used_at = $2 WHERE id = $1",
        &[&id, &millis(at)],
    )?;
    Ok(())
}

fn token_row(row: &Row) -> Outcome<TokenRecord> {
    Ok(TokenRecord {
        id: value(row, "id")?,
        name: value(row, "name")?,
        role: parsed(row, "role")?,
        envs: json(row, "envs")?,
        created_by: value(row, "created_by")?,
        created_at: timestamp(row, "created_at")?,
        last_used_at: optional_timestamp(row, "last_used_at")?,
        revoked_at: optional_timestamp(row, "revoked_at")?,
    })
}
