//! API tokens: make one (its secret shown once, only its SHA-256 kept), list, revoke, and
//! find the token a presented secret belongs to.

use std::fmt::Write as _;

use hoist_core::access::{Denied, Need, Role, check_token_name, permits};
use hoist_core::{Action, EnvName};
use jiff::{SignedDuration, Timestamp};
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ops::command_request::CommandRequest;
use crate::ops::context::Context;
use crate::ports::store::{CommandRecord, NewEvent, Store};
use crate::ports::token_store::{NewToken, RevokeOutcome, TokenRecord};

/// Every secret starts with this, so a leaked one is recognisable (and scannable).
pub const SECRET_PREFIX: &str = "hoist_";

/// A token's `last_used_at` is written at most this often, so reads stay reads.
const TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(60);

#[derive(Debug, Clone)]
pub struct CreateTokenOptions {
    pub name: String,
    pub role: Role,
    /// Limit it to these environments (empty: all).
    pub envs: Vec<EnvName>,
    /// Who asks (default: the acting user).
    pub created_by: Option<String>,
}

/// A new token with its secret: the only time the secret exists outside its holder.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CreatedToken {
    pub token: TokenRecord,
    pub secret: String,
}

pub fn create(ctx: &Context<'_>, options: &CreateTokenOptions) -> Result<CreatedToken> {
    check_token_name(&options.name)
        .map_err(|error| Error::failed(error.to_string()).hint(error.hint()))?;
    for env in &options.envs {
        ctx.env_spec(env)?;
    }
    let secret = new_secret()?;
    let created_by = options
        .created_by
        .clone()
        .unwrap_or_else(|| ctx.actor.name.clone());
    let now = ctx.clock.now();
    let token = ctx.store.create_token(&NewToken {
        name: options.name.clone(),
        role: options.role,
        envs: options.envs.clone(),
        secret_hash: hash_secret(&secret),
        created_by: created_by.clone(),
        created_at: now,
    })?;
    let scope = if token.envs.is_empty() {
        "every environment".to_owned()
    } else {
        let names: Vec<&str> = token.envs.iter().map(EnvName::as_str).collect();
        names.join(", ")
    };
    ctx.store.append_event(&NewEvent {
        at: now,
        env: None,
        command_id: None,
        kind: "token.created".to_owned(),
        message: format!(
            "token {} `{}` ({}, {scope}) created by {created_by}",
            token.id, token.name, token.role
        ),
        actor: created_by,
    })?;
    Ok(CreatedToken { token, secret })
}

pub fn list(ctx: &Context<'_>) -> Result<Vec<TokenRecord>> {
    ctx.store.tokens()
}

/// Revokes token `id`; who revokes is `by` (default: the acting user).
pub fn revoke(ctx: &Context<'_>, id: i64, by: Option<&str>) -> Result<TokenRecord> {
    let now = ctx.clock.now();
    let token = match ctx.store.revoke_token(id, now)? {
        RevokeOutcome::Revoked(token) => token,
        RevokeOutcome::AlreadyRevoked(token) => {
            return Err(Error::failed(format!(
                "token {id} (`{}`) was already revoked",
                token.name
            ))
            .hint("list tokens with `hoist tokens list`"));
        }
        RevokeOutcome::Missing => return Err(missing(id)),
    };
    let by = by.unwrap_or(&ctx.actor.name).to_owned();
    ctx.store.append_event(&NewEvent {
        at: now,
        env: None,
        command_id: None,
        kind: "token.revoked".to_owned(),
        message: format!("token {id} `{}` revoked by {by}", token.name),
        actor: by,
    })?;
    Ok(token)
}

/// The live token `secret` belongs to, if any; records its use (at most once a minute).
pub fn authenticate(
    store: &dyn Store,
    secret: &str,
    now: Timestamp,
) -> Result<Option<TokenRecord>> {
    if !secret.starts_with(SECRET_PREFIX) {
        return Ok(None);
    }
    let Some(mut token) = store.token_by_hash(&hash_secret(secret))? else {
        return Ok(None);
    };
    let stale = token
        .last_used_at
        .is_none_or(|last| now.duration_since(last) >= TOUCH_EVERY);
    if stale {
        store.touch_token(token.id, now)?;
        token.last_used_at = Some(now);
    }
    Ok(Some(token))
}

/// Whether the token a command was asked with still allows it — the check a controller
/// makes again when a scheduled command's time comes. A command of the local user
/// (`requested_token` is `None`) always may; a revoked or deleted token never.
pub fn still_permitted(store: &dyn Store, command: &CommandRecord) -> Result<Result<(), Denied>> {
    let Some(id) = command.requested_token else {
        return Ok(Ok(()));
    };
    let token = match store.token(id)? {
        Some(token) if token.revoked_at.is_none() => token,
        Some(token) => {
            return Ok(Err(Denied {
                reason: format!("token `{}` it was asked with has been revoked", token.name),
            }));
        }
        None => {
            return Ok(Err(Denied {
                reason: format!("token {id} it was asked with no longer exists"),
            }));
        }
    };
    let needs = match serde_json::from_value::<CommandRequest>(command.args.clone()) {
        Ok(request) => needs(&request),
        Err(_) => vec![Need::Act {
            action: command.kind,
            env: command.env.clone(),
        }],
    };
    let grant = token.grant();
    Ok(needs.iter().try_for_each(|need| permits(&grant, need)))
}

/// What scheduling `request` needs: its own action, and `destroy` too for a deploy with a
/// time to live (it schedules the environment's destroy).
pub fn needs(request: &CommandRequest) -> Vec<Need> {
    let env = request.env().clone();
    let mut needs = vec![Need::Act {
        action: request.action(),
        env: env.clone(),
    }];
    if let CommandRequest::Deploy {
        ttl_seconds: Some(_),
        ..
    } = request
    {
        needs.push(Need::Act {
            action: Action::Destroy,
            env,
        });
    }
    needs
}

/// Lowercase hex SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// `hoist_` and 32 random bytes in hex.
fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| Error::internal("cannot draw random bytes for a token").cause(error))?;
    Ok(format!("{SECRET_PREFIX}{}", hex(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

pub fn missing(id: i64) -> Error {
    Error::failed(format!("no token with id {id}")).hint("list tokens with `hoist tokens list`")
}

#[cfg(test)]
mod tests {
    use hoist_core::{Action, CommandStatus};

    use super::*;
    use crate::adapters::sqlite_store::SqliteStore;
    use crate::ports::store::NewCommand;
    use crate::ports::token_store::TokenStore;

    #[test]
    fn a_scheduled_command_is_checked_again_against_its_token() -> Result<()> {
        let store = SqliteStore::open_in_memory()?;
        let now =
            Timestamp::from_second(1_800_000_000).map_err(|e| Error::internal(e.to_string()))?;
        let token = store.create_token(&NewToken {
            name: "ci".to_owned(),
            role: Role::Deployer,
            envs: vec!["staging".parse()?],
            secret_hash: hash_secret("hoist_x"),
            created_by: "alice@ci".to_owned(),
            created_at: now,
        })?;
        let command = |kind: Action, env: &str, token: Option<i64>| -> Result<CommandRecord> {
            store.insert_command(&NewCommand {
                kind,
                env: env.parse()?,
                args: serde_json::json!({}),
                requested_by: "token:ci".to_owned(),
                status: CommandStatus::Scheduled,
                execute_at: Some(now),
                expires_at: Some(now),
                requested_token: token,
                created_at: now,
            })
        };
        let deploy = command(Action::Deploy, "staging", Some(token.id))?;
        assert_eq!(still_permitted(&store, &deploy)?, Ok(()));
        let mut with_ttl = deploy.clone();
        with_ttl.args = serde_json::json!({"kind": "deploy", "env": "staging", "ttl_seconds": 60});
        assert!(
            still_permitted(&store, &with_ttl)?.is_err(),
            "a deploy with a time to live schedules a destroy"
        );
        let destroy = command(Action::Destroy, "staging", Some(token.id))?;
        assert!(
            still_permitted(&store, &destroy)?.is_err(),
            "deployers never destroy"
        );
        let elsewhere = command(Action::Deploy, "prod", Some(token.id))?;
        assert!(still_permitted(&store, &elsewhere)?.is_err());
        let local = command(Action::Destroy, "prod", None)?;
        assert_eq!(still_permitted(&store, &local)?, Ok(()), "the local user");
        let gone = command(Action::Deploy, "staging", Some(999))?;
        assert!(still_permitted(&store, &gone)?.is_err());

        store.revoke_token(token.id, now)?;
        let refused = still_permitted(&store, &deploy)?.map_err(|denied| denied.reason);
        assert_eq!(
            refused,
            Err("token `ci` it was asked with has been revoked".to_owned())
        );
        Ok(())
    }

    #[test]
    fn secrets_are_prefixed_random_and_hashed_as_sha256() -> Result<()> {
        let (first, second) = (new_secret()?, new_secret()?);
        assert_ne!(first, second);
        assert!(first.starts_with(SECRET_PREFIX));
        assert_eq!(first.len(), SECRET_PREFIX.len() + 64);
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        Ok(())
    }
}
