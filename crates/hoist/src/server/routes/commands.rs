//! `/api/commands`: list with filters, show with the step log, schedule (now or `at`),
//! cancel and reschedule while still scheduled. The caller's grant is checked before
//! anything is stored.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use hoist_core::access::Need;
use hoist_core::duration::parse_duration;
use hoist_core::schedule::{self, DEFAULT_START_WITHIN, When};
use hoist_core::{CommandStatus, EnvName};
use jiff::Timestamp;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ops::Context;
use crate::ops::command_request::CommandRequest;
use crate::ops::commands::{self, RescheduleOptions, ScheduleOptions, Scheduled};
use crate::ops::tokens;
use crate::ports::store::{CommandFilter, CommandRecord};
use crate::server::api_error::{ApiError, ApiResult};
use crate::server::api_input::{QueryParams, fields, json, path};
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::routes::scopes;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Vec<CommandRecord>>> {
    let params = QueryParams::read(query, &["env", "status", "limit"])?;
    let env: Option<EnvName> = params.get("env")?;
    let status: Option<CommandStatus> = params.get("status")?;
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    caller.require(&Need::Read { env: env.clone() })?;
    let scopes = scopes(&caller, env);
    let rows = state
        .run(None, move |ctx| {
            let mut rows = Vec::new();
            for env in scopes {
                let filter = CommandFilter { env, status, limit };
                rows.extend(commands::list(ctx, &filter)?);
            }
            rows.sort_by_key(|row| std::cmp::Reverse(row.id));
            rows.truncate(limit);
            Ok(rows)
        })
        .await?;
    Ok(Json(rows))
}

pub async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<CommandRecord>> {
    let id: i64 = path(id, "command id")?;
    let command = state.run_raw(None, move |ctx| existing(ctx, id)).await?;
    caller.require(&Need::Read {
        env: Some(command.env.clone()),
    })?;
    Ok(Json(command))
}

/// `POST /api/commands`: a `CommandRequest` (`kind`, `env` and that kind's fields) and
/// when to run it. Only its schema is used: the handler takes `at` and `start_within` out,
/// then reads the rest as a `CommandRequest`.
#[derive(Debug)]
pub enum NewCommandBody {}

impl JsonSchema for NewCommandBody {
    fn schema_name() -> Cow<'static, str> {
        "NewCommandBody".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = CommandRequest::json_schema(generator);
        let when = [
            (
                "at",
                json!({
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "RFC 3339 (default: now)",
                }),
            ),
            (
                "start_within",
                json!({
                    "type": ["string", "null"],
                    "description": "expire if not started by this long after `at`, e.g. `15m` (the default)",
                }),
            ),
        ];
        let kinds = schema.get_mut("oneOf").and_then(Value::as_array_mut);
        for kind in kinds.into_iter().flatten() {
            if let Some(properties) = kind.get_mut("properties").and_then(Value::as_object_mut) {
                for (name, property) in &when {
                    properties.insert((*name).to_owned(), property.clone());
                }
            }
        }
        schema
    }
}

pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Scheduled>)> {
    let Value::Object(mut object) = json(body)? else {
        return Err(not_an_object());
    };
    let at = text_field(object.remove("at"), "at")?
        .map(|text| timestamp(&text))
        .transpose()?;
    let start_within = text_field(object.remove("start_within"), "start_within")?
        .map(|text| window(&text))
        .transpose()?
        .unwrap_or(DEFAULT_START_WITHIN);
    let request: CommandRequest = fields(Value::Object(object))?;
    for need in tokens::needs(&request) {
        caller.require(&need)?;
    }
    let options = ScheduleOptions {
        request,
        when: at.map_or(When::In(Duration::ZERO), When::At),
        start_within,
        requested_token: Some(caller.token.id),
        requested_by: Some(caller.actor()),
    };
    let scheduled = state
        .run(Some(caller.actor()), move |ctx| {
            commands::schedule(ctx, &options)
        })
        .await?;
    Ok((StatusCode::ACCEPTED, Json(scheduled)))
}

pub async fn cancel(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<CommandRecord>> {
    let id: i64 = path(id, "command id")?;
    let actor = caller.actor();
    let cancelled = state
        .run_raw(Some(actor), move |ctx| {
            let command = existing(ctx, id)?;
            caller.require(&acting_on(&command))?;
            commands::cancel(ctx, id)
                .map_err(|error| ApiError::from_error(&error, StatusCode::CONFLICT))
        })
        .await?;
    Ok(Json(cancelled))
}

/// `POST /api/commands/{id}/reschedule`: exactly one of `at` and `in`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleBody {
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    at: Option<String>,
    /// From now, e.g. `10m`.
    #[serde(rename = "in")]
    after: Option<String>,
    /// Expire if not started by this long after its time, e.g. `15m`.
    start_within: Option<String>,
}

pub async fn reschedule(
    State(state): State<ApiState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult<Json<CommandRecord>> {
    let id: i64 = path(id, "command id")?;
    let body = json(body)?;
    if !body.is_object() {
        return Err(not_an_object());
    }
    let body: RescheduleBody = fields(body)?;
    let when = match (&body.at, &body.after) {
        (Some(at), None) => When::At(timestamp(at)?),
        (None, Some(after)) => When::In(window(after)?),
        _ => {
            return Err(ApiError::invalid("give exactly one of `at` and `in`")
                .hint(r#"e.g. {"at": "2026-12-01T09:00:00Z"} or {"in": "30m"}"#));
        }
    };
    let start_within = body.start_within.as_deref().map(window).transpose()?;
    // Refuse a past time here, so that what `reschedule` refuses below is a lost race.
    schedule::plan(
        Timestamp::now(),
        when,
        start_within.unwrap_or(DEFAULT_START_WITHIN),
    )
    .map_err(|error| ApiError::invalid(format!("cannot reschedule: {error}")).hint(error.hint()))?;
    let options = RescheduleOptions {
        id,
        when,
        start_within,
    };
    let actor = caller.actor();
    let moved = state
        .run_raw(Some(actor), move |ctx| {
            let command = existing(ctx, id)?;
            caller.require(&acting_on(&command))?;
            commands::reschedule(ctx, &options)
                .map_err(|error| ApiError::from_error(&error, StatusCode::CONFLICT))
        })
        .await?;
    Ok(Json(moved))
}

fn existing(ctx: &Context<'_>, id: i64) -> ApiResult<CommandRecord> {
    let command = ctx.store.command(id)?.ok_or_else(|| {
        ApiError::not_found(format!("no command with id {id}"))
            .hint("list commands with `GET /api/commands`")
    })?;
    // One whose runner died on this machine is answered (and recorded) `interrupted`.
    Ok(crate::ops::liveness::settled(ctx, command)?)
}

fn acting_on(command: &CommandRecord) -> Need {
    Need::Act {
        action: command.kind,
        env: command.env.clone(),
    }
}

fn not_an_object() -> ApiError {
    ApiError::invalid("the body must be a JSON object")
        .hint(r#"e.g. {"kind": "deploy", "env": "staging", "at": "2026-12-01T09:00:00Z"}"#)
}

/// A field that must be a string when present.
fn text_field(value: Option<Value>, name: &str) -> ApiResult<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(ApiError::invalid(format!(
            "`{name}` must be a string, not `{other}`"
        ))),
    }
}

fn timestamp(text: &str) -> ApiResult<Timestamp> {
    text.parse().map_err(|error| {
        ApiError::invalid(format!("`at`: `{text}` is not a time: {error}"))
            .hint("give an RFC 3339 time with its offset, e.g. `2026-12-01T09:00:00Z`")
    })
}

fn window(text: &str) -> ApiResult<Duration> {
    parse_duration(text).map_err(|error| ApiError::invalid(error.to_string()).hint(error.hint()))
}
