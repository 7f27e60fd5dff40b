//! `/api/tokens` (admin): list, create (the answer holds the secret, once), revoke.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use hoist_core::EnvName;
use hoist_core::access::{Need, Role};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::ops::tokens::{self, CreateTokenOptions, CreatedToken};
use crate::ports::token_store::TokenRecord;
use crate::server::api_error::{ApiError, ApiResult};
use crate::server::api_input::{fields, json, path};
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;

pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenRecord>>> {
    caller.require(&Need::ManageTokens)?;
    let rows = state.run(None, tokens::list).await?;
    Ok(Json(rows))
}

/// `POST /api/tokens`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// Unique among live tokens.
    #[schemars(pattern("^[a-z0-9-]{1,64}$"))]
    name: String,
    role: Role,
    /// Limit the token to these environments (default: all).
    #[serde(default)]
    envs: Vec<EnvName>,
}

pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    caller.require(&Need::ManageTokens)?;
    let body: NewTokenBody = fields(json(body)?)?;
    let options = CreateTokenOptions {
        name: body.name,
        role: body.role,
        envs: body.envs,
        created_by: Some(caller.actor()),
    };
    let created = state
        .run(Some(caller.actor()), move |ctx| {
            tokens::create(ctx, &options)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn revoke(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TokenRecord>> {
    let id: i64 = path(id, "token id")?;
    caller.require(&Need::ManageTokens)?;
    let actor = caller.actor();
    let revoked = state
        .run_raw(Some(actor.clone()), move |ctx| {
            if ctx.store.token(id)?.is_none() {
                return Err(ApiError::not_found(format!("no token with id {id}"))
                    .hint("list tokens with `GET /api/tokens`"));
            }
            tokens::revoke(ctx, id, Some(&actor))
                .map_err(|error| ApiError::from_error(&error, StatusCode::CONFLICT))
        })
        .await?;
    Ok(Json(revoked))
}
