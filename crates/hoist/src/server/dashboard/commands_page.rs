//! `GET /commands`: waiting commands with their time and countdown, running ones, and the
//! newest finished ones; `GET /commands/{id}`: one command with its step log (growing live
//! while it runs), its outcome, its error and the exact command that continues it.

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use hoist_core::access::Need;
use hoist_core::{CommandStatus, EnvName};
use serde::Deserialize;

use crate::ops::commands;
use crate::ops::continuation::Continuation;
use crate::ports::store::{CommandFilter, CommandRecord};
use crate::server::api_error::ApiError;
use crate::server::api_input::path;
use crate::server::api_state::ApiState;
use crate::server::dashboard::env_filter::env_param;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::moment::{Moment, took};
use crate::server::dashboard::overview::CommandLine;
use crate::server::dashboard::page_error::PageResult;
use crate::server::dashboard::render::render;
use crate::server::dashboard::viewer::Viewer;
use crate::server::routes::scopes;

/// How many finished commands the list shows.
const FINISHED: usize = 50;

#[derive(Template)]
#[template(path = "dashboard/commands.html")]
struct CommandsPage {
    layout: Layout,
    env: Option<EnvName>,
    waiting: Vec<Row>,
    running: Vec<Row>,
    finished: Vec<Row>,
}

struct Row {
    line: CommandLine,
    env: EnvName,
    requested_by: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    env: Option<String>,
}

pub async fn list(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> PageResult<Response> {
    let env = env_param(query.env.as_deref())?;
    let caller = viewer.caller();
    caller.require(&Need::Read { env: env.clone() })?;
    let scopes = scopes(&caller, env.clone());
    let (rows, now) = state
        .run(None, move |ctx| {
            let mut rows: Vec<CommandRecord> = Vec::new();
            for env in &scopes {
                for status in [CommandStatus::Scheduled, CommandStatus::Running] {
                    rows.extend(commands::list(
                        ctx,
                        &CommandFilter {
                            env: env.clone(),
                            status: Some(status),
                            limit: 0,
                        },
                    )?);
                }
                rows.extend(commands::list(
                    ctx,
                    &CommandFilter {
                        env: env.clone(),
                        status: None,
                        limit: FINISHED * 2,
                    },
                )?);
            }
            Ok((rows, ctx.clock.now()))
        })
        .await?;
    let mut seen = std::collections::HashSet::new();
    let mut rows: Vec<CommandRecord> = rows.into_iter().filter(|row| seen.insert(row.id)).collect();
    rows.sort_by_key(|row| std::cmp::Reverse(row.id));
    let row = |command: &CommandRecord| Row {
        line: CommandLine::of(command, now),
        env: command.env.clone(),
        requested_by: command.requested_by.clone(),
        error: command.error.clone(),
    };
    let mut waiting: Vec<&CommandRecord> = rows
        .iter()
        .filter(|command| command.status == CommandStatus::Scheduled)
        .collect();
    waiting.sort_by_key(|command| command.execute_at);
    let page = CommandsPage {
        layout: Layout::new("Commands", "commands", &viewer),
        waiting: waiting.into_iter().map(row).collect(),
        running: rows
            .iter()
            .filter(|command| command.status == CommandStatus::Running)
            .map(row)
            .collect(),
        finished: rows
            .iter()
            .filter(|command| command.status.is_terminal())
            .take(FINISHED)
            .map(row)
            .collect(),
        env,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "dashboard/command.html")]
struct CommandPage {
    layout: Layout,
    id: i64,
    kind: String,
    env: EnvName,
    status: String,
    requested_by: String,
    created: Moment,
    execute_at: Option<Moment>,
    expires_at: Option<Moment>,
    started: Option<Moment>,
    finished: Option<Moment>,
    duration: Option<String>,
    steps: Vec<StepRow>,
    error: Option<String>,
    continuation: Option<String>,
    /// Waiting, and the viewer may act on it.
    changeable: bool,
}

struct StepRow {
    step: String,
    ok: bool,
    started: Moment,
    took: String,
    detail: Option<String>,
}

pub async fn show(
    State(state): State<ApiState>,
    viewer: Viewer,
    id: Result<Path<String>, PathRejection>,
) -> PageResult<Response> {
    let id: i64 = path(id, "command id")?;
    let (command, continuation, now) = state
        .run_raw(None, move |ctx| {
            let command = commands::show(ctx, id).map_err(|_| {
                ApiError::not_found(format!("no command with id {id}"))
                    .hint("the commands page lists them")
            })?;
            let continuation = match command.status {
                CommandStatus::Failed | CommandStatus::Interrupted => {
                    Continuation::of(command.kind, &command.env)
                        .map(|continuation| ctx.continuation_line(&continuation))
                }
                _ => None,
            };
            Ok((command, continuation, ctx.clock.now()))
        })
        .await?;
    let caller = viewer.caller();
    caller.require(&Need::Read {
        env: Some(command.env.clone()),
    })?;
    let may_act = caller
        .require(&Need::Act {
            action: command.kind,
            env: command.env.clone(),
        })
        .is_ok();
    let moment = |at: Option<jiff::Timestamp>| at.map(|at| Moment::new(at, now));
    let duration = match (command.started_at, command.finished_at) {
        (Some(start), Some(end)) => Some(took(
            u64::try_from(end.duration_since(start).as_millis()).unwrap_or(0),
        )),
        _ => None,
    };
    let page = CommandPage {
        layout: Layout::new(
            format!("#{} {} {}", command.id, command.kind, command.env),
            "commands",
            &viewer,
        ),
        id: command.id,
        kind: command.kind.to_string(),
        env: command.env.clone(),
        status: command.status.to_string(),
        requested_by: command.requested_by.clone(),
        created: Moment::new(command.created_at, now),
        execute_at: moment(command.execute_at),
        expires_at: moment(command.expires_at),
        started: moment(command.started_at),
        finished: moment(command.finished_at),
        duration,
        steps: command
            .steps
            .iter()
            .map(|step| StepRow {
                step: step.step.clone(),
                ok: step.ok,
                started: Moment::new(step.started_at, now),
                took: took(step.elapsed_ms),
                detail: step.detail.clone(),
            })
            .collect(),
        error: command.error.clone(),
        continuation,
        changeable: command.status == CommandStatus::Scheduled && may_act,
    };
    Ok(render(&page))
}
