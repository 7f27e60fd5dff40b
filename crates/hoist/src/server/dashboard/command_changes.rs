//! `POST /commands/{id}/cancel` and `POST /commands/{id}/reschedule`: the waiting-command
//! buttons, through the same ops as the API; a command that has started meanwhile is a 409
//! that says so.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hoist_core::access::Need;
use hoist_core::schedule::{self, DEFAULT_START_WITHIN, When};
use jiff::Timestamp;
use serde::Deserialize;

use crate::ops::Context;
use crate::ops::commands::{self, RescheduleOptions};
use crate::server::api_error::{ApiError, ApiResult};
use crate::server::api_input::path;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::dashboard::acting::Acting;
use crate::server::dashboard::page_error::PageResult;
use crate::server::dashboard::sign_in::redirect;
use crate::server::dashboard::when_input::parse_when;

#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// A 404 unless command `id` exists, a 403 unless `caller` may act on it.
fn may_act_on(ctx: &Context<'_>, caller: &Caller, id: i64) -> ApiResult<()> {
    let command = commands::show(ctx, id)
        .map_err(|_| ApiError::not_found(format!("no command with id {id}")))?;
    caller.require(&Need::Act {
        action: command.kind,
        env: command.env,
    })
}

pub async fn cancel(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
    acting: Acting<NoFields>,
) -> PageResult<Response> {
    let id: i64 = path(id, "command id")?;
    let caller = acting.viewer.caller();
    state
        .run_raw(Some(caller.actor()), move |ctx| {
            may_act_on(ctx, &caller, id)?;
            commands::cancel(ctx, id)
                .map_err(|error| ApiError::from_error(&error, StatusCode::CONFLICT))
        })
        .await?;
    Ok(redirect(&format!("/commands/{id}")))
}

#[derive(Debug, Deserialize)]
pub struct RescheduleForm {
    #[serde(default)]
    at: String,
    #[serde(default)]
    zone: String,
}

pub async fn reschedule(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
    acting: Acting<RescheduleForm>,
) -> PageResult<Response> {
    let id: i64 = path(id, "command id")?;
    let at = parse_when(&acting.form.at, &acting.form.zone)?;
    schedule::plan(Timestamp::now(), When::At(at), DEFAULT_START_WITHIN).map_err(|error| {
        ApiError::invalid(format!("cannot reschedule: {error}")).hint(error.hint())
    })?;
    let caller = acting.viewer.caller();
    let options = RescheduleOptions {
        id,
        when: When::At(at),
        start_within: None,
    };
    state
        .run_raw(Some(caller.actor()), move |ctx| {
            may_act_on(ctx, &caller, id)?;
            commands::reschedule(ctx, &options)
                .map_err(|error| ApiError::from_error(&error, StatusCode::CONFLICT))
        })
        .await?;
    Ok(redirect(&format!("/commands/{id}")))
}
