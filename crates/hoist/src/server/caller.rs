//! Who is calling: the token in `Authorization: Bearer hoist_…`, looked up by the hash of
//! its secret. No token, an unknown one or a revoked one is a 401; a known token whose
//! grant does not cover the request is a 403 (`Caller::require`).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use hoist_core::EnvName;
use hoist_core::access::{Grant, Need, permits};

use crate::ops::tokens;
use crate::ports::token_store::TokenRecord;
use crate::server::api_error::{ApiError, ApiResult};
use crate::server::api_state::ApiState;

#[derive(Debug, Clone)]
pub struct Caller {
    pub token: TokenRecord,
}

impl Caller {
    pub fn grant(&self) -> Grant {
        self.token.grant()
    }

    /// How the caller is recorded on commands and events.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token.name)
    }

    /// A 403 unless the caller's grant covers `need`.
    pub fn require(&self, need: &Need) -> ApiResult<()> {
        permits(&self.grant(), need).map_err(|denied| ApiError::forbidden(&denied))
    }

    /// Whether the caller may see something of environment `env` (`None`: of none).
    pub fn sees(&self, env: Option<&EnvName>) -> bool {
        self.grant().covers(env)
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> ApiResult<Self> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized("this API needs a token"));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, secret)| secret.trim().to_owned())
            .ok_or_else(|| {
                ApiError::unauthorized("the `Authorization` header is not `Bearer TOKEN`")
            })?;
        let found = state
            .run(None, move |ctx| {
                tokens::authenticate(ctx.store, &secret, ctx.clock.now())
            })
            .await?;
        match found {
            Some(token) => Ok(Self { token }),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}
