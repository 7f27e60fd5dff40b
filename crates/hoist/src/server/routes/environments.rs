//! `GET /api/environments` and `GET /api/environments/{env}` (hosts, releases, instances).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use hoist_core::EnvName;
use hoist_core::access::Need;
use schemars::JsonSchema;
use serde::Serialize;

use crate::ops::status::{EnvStatus, EnvSummary};
use crate::ops::{self, StatusOptions};
use crate::ports::store::ReleaseRecord;
use crate::server::api_error::{ApiError, ApiResult};
use crate::server::api_input::path;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;

/// One environment: its status (state, hosts with their live release and instance, last
/// command) and the releases the store recorded.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EnvironmentView {
    #[serde(flatten)]
    pub status: EnvStatus,
    pub releases: Vec<ReleaseRecord>,
}

pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<EnvSummary>>> {
    caller.require(&Need::Read { env: None })?;
    let rows = state.run(None, ops::list).await?;
    let visible = rows
        .into_iter()
        .filter(|row| caller.sees(Some(&row.name)))
        .collect();
    Ok(Json(visible))
}

pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    env: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<EnvironmentView>> {
    let env: EnvName = path(env, "environment name")?;
    caller.require(&Need::Read {
        env: Some(env.clone()),
    })?;
    let view = state
        .run_raw(None, move |ctx| {
            if ctx.spec.env(&env).is_none() {
                return Err(
                    ApiError::not_found(format!("environment `{env}` is not in the spec"))
                        .hint("list environments with `GET /api/environments`"),
                );
            }
            let status = ops::status(ctx, &StatusOptions { env: env.clone() })?;
            let releases = ctx.store.releases(&env)?;
            Ok(EnvironmentView { status, releases })
        })
        .await?;
    Ok(Json(view))
}
