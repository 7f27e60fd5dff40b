//! API tokens as the store keeps them: a name, a role, the environments it is limited to,
//! and a SHA-256 hash of the secret — never the secret itself, which is shown once when the
//! token is made. A revoked token stays listed (who had access, and until when) but no
//! longer authenticates.

use hoist_core::EnvName;
use hoist_core::access::{Grant, Role};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The error every store gives for a name another live token has: the store refuses it
/// atomically, so two `tokens create` at once cannot both take it.
pub fn token_name_taken(name: &str) -> Error {
    Error::failed(format!("a token named `{name}` already exists"))
        .hint("choose another name, or revoke that token first (`hoist tokens list`, `hoist tokens revoke ID`)")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    /// Empty: every environment.
    pub envs: Vec<EnvName>,
    /// Lowercase hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// A token as listed and answered: everything but its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub envs: Vec<EnvName>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenRecord {
    pub fn grant(&self) -> Grant {
        Grant {
            role: self.role,
            envs: self.envs.clone(),
        }
    }
}

/// What `revoke_token` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked(TokenRecord),
    /// It was revoked before: unchanged.
    AlreadyRevoked(TokenRecord),
    Missing,
}

pub trait TokenStore {
    /// Records a token; refused (an error naming it) while another token that is not
    /// revoked has the same name.
    fn create_token(&self, token: &NewToken) -> Result<TokenRecord>;
    /// The token whose secret hashes to `secret_hash`, unless it was revoked.
    fn token_by_hash(&self, secret_hash: &str) -> Result<Option<TokenRecord>>;
    /// Any token by id, revoked ones too.
    fn token(&self, id: i64) -> Result<Option<TokenRecord>>;
    /// Every token, revoked ones too, oldest first.
    fn tokens(&self) -> Result<Vec<TokenRecord>>;
    fn revoke_token(&self, id: i64, at: Timestamp) -> Result<RevokeOutcome>;
    /// Records that the token was used at `at`.
    fn touch_token(&self, id: i64, at: Timestamp) -> Result<()>;
}
