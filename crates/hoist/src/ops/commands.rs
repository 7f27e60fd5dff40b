//! The command queue as the CLI and the API see it: schedule a command for later, list and
//! show commands, cancel or reschedule one that has not started (first writer wins).

use std::time::Duration;

use hoist_core::CommandStatus;
use hoist_core::schedule::{self, DEFAULT_START_WITHIN, When};
use jiff::{SignedDuration, Timestamp};
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::command_request::CommandRequest;
use crate::ops::context::Context;
use crate::ops::liveness;
use crate::ports::command_queue::{ChangeOutcome, ControllerRecord, ScheduledChange};
use crate::ports::store::{CommandFilter, CommandRecord, NewCommand, NewEvent};

/// A controller not seen for this long is taken to be gone (they renew every 10 s).
pub const CONTROLLER_FRESH: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct ScheduleOptions {
    pub request: CommandRequest,
    pub when: When,
    pub start_within: Duration,
    /// The API token it is asked with (`None`: the local user), checked again at run time.
    pub requested_token: Option<i64>,
    /// Who asks (default: the acting user).
    pub requested_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Scheduled {
    pub command: CommandRecord,
    /// Whether a live controller serves this store (else it runs once one does).
    pub served: bool,
}

pub fn schedule(ctx: &Context<'_>, options: &ScheduleOptions) -> Result<Scheduled> {
    let env = options.request.env();
    ctx.env_spec(env)?;
    let now = ctx.clock.now();
    let planned = schedule::plan(now, options.when, options.start_within)
        .map_err(|error| Error::failed(format!("cannot schedule: {error}")).hint(error.hint()))?;
    let requested_by = options
        .requested_by
        .clone()
        .unwrap_or_else(|| ctx.actor.name.clone());
    let args = serde_json::to_value(&options.request)
        .map_err(|error| Error::internal("cannot record the command's arguments").cause(error))?;
    let command = ctx.store.insert_command(&NewCommand {
        kind: options.request.action(),
        env: env.clone(),
        args,
        requested_by: requested_by.clone(),
        status: CommandStatus::Scheduled,
        execute_at: Some(planned.execute_at),
        expires_at: Some(planned.expires_at),
        requested_token: options.requested_token,
        created_at: now,
    })?;
    event(
        ctx,
        &command,
        "command.scheduled",
        format!(
            "{} {} scheduled for {} by {requested_by}",
            command.kind, command.env, planned.execute_at
        ),
    )?;
    let served = wake_controllers(ctx)?;
    Ok(Scheduled { command, served })
}

/// The commands `filter` selects; one whose runner died on this machine shows (and is
/// recorded) `interrupted`, not `running`.
pub fn list(ctx: &Context<'_>, filter: &CommandFilter) -> Result<Vec<CommandRecord>> {
    let commands = liveness::settle_all(ctx, ctx.store.commands(filter)?)?;
    Ok(match filter.status {
        // A `--status running` list leaves out what turned out to be interrupted.
        Some(status) => commands
            .into_iter()
            .filter(|c| c.status == status)
            .collect(),
        None => commands,
    })
}

pub fn show(ctx: &Context<'_>, id: i64) -> Result<CommandRecord> {
    liveness::settled(ctx, ctx.store.command(id)?.ok_or_else(|| missing(id))?)
}

pub fn cancel(ctx: &Context<'_>, id: i64) -> Result<CommandRecord> {
    let now = ctx.clock.now();
    let cancelled = changed(
        ctx.store
            .change_scheduled(id, ScheduledChange::Cancel, now)?,
        id,
        "cancelled",
    )?;
    event(
        ctx,
        &cancelled,
        "command.cancelled",
        format!(
            "command {id} ({} {}) cancelled by {}",
            cancelled.kind, cancelled.env, ctx.actor.name
        ),
    )?;
    wake_controllers(ctx)?;
    Ok(cancelled)
}

#[derive(Debug, Clone, Copy)]
pub struct RescheduleOptions {
    pub id: i64,
    pub when: When,
    /// Default: the window it was scheduled with.
    pub start_within: Option<Duration>,
}

pub fn reschedule(ctx: &Context<'_>, options: &RescheduleOptions) -> Result<CommandRecord> {
    let id = options.id;
    let current = show(ctx, id)?;
    let window =
        options
            .start_within
            .unwrap_or_else(|| match (current.execute_at, current.expires_at) {
                (Some(execute_at), Some(expires_at)) => expires_at
                    .duration_since(execute_at)
                    .try_into()
                    .unwrap_or(DEFAULT_START_WITHIN),
                _ => DEFAULT_START_WITHIN,
            });
    let now = ctx.clock.now();
    let planned = schedule::plan(now, options.when, window).map_err(|error| {
        Error::failed(format!("cannot reschedule command {id}: {error}")).hint(error.hint())
    })?;
    let change = ScheduledChange::Reschedule {
        execute_at: planned.execute_at,
        expires_at: planned.expires_at,
    };
    let moved = changed(
        ctx.store.change_scheduled(id, change, now)?,
        id,
        "rescheduled",
    )?;
    event(
        ctx,
        &moved,
        "command.rescheduled",
        format!(
            "command {id} ({} {}) rescheduled for {} by {}",
            moved.kind, moved.env, planned.execute_at, ctx.actor.name
        ),
    )?;
    wake_controllers(ctx)?;
    Ok(moved)
}

/// The live controllers serving this store.
pub fn live_controllers(ctx: &Context<'_>) -> Result<Vec<ControllerRecord>> {
    let now = ctx.clock.now();
    let fresh = SignedDuration::try_from(CONTROLLER_FRESH).unwrap_or(SignedDuration::ZERO);
    Ok(ctx
        .store
        .controllers()?
        .into_iter()
        .filter(|controller| now.duration_since(controller.seen_at) <= fresh)
        .collect())
}

/// Wakes every live controller; true if there is one.
fn wake_controllers(ctx: &Context<'_>) -> Result<bool> {
    let live = live_controllers(ctx)?;
    ctx.wake.wake(&live);
    Ok(!live.is_empty())
}

fn changed(outcome: ChangeOutcome, id: i64, verb: &str) -> Result<CommandRecord> {
    match outcome {
        ChangeOutcome::Changed(record) => Ok(record),
        ChangeOutcome::Missing => Err(missing(id)),
        ChangeOutcome::NotScheduled(record) => Err(Error::failed(format!(
            "command {id} cannot be {verb}: it is `{}`, no longer scheduled",
            record.status
        ))
        .hint(format!("see it with `hoist commands show {id}`"))),
    }
}

fn missing(id: i64) -> Error {
    Error::failed(format!("no command with id {id}"))
        .hint("list commands with `hoist commands list`")
}

fn event(ctx: &Context<'_>, command: &CommandRecord, kind: &str, message: String) -> Result<()> {
    ctx.store.append_event(&NewEvent {
        at: ctx.clock.now(),
        env: Some(command.env.clone()),
        command_id: Some(command.id),
        kind: kind.to_owned(),
        message,
        actor: ctx.actor.name.clone(),
    })?;
    Ok(())
}

/// When a timestamp is, relative to `now`, for people: `in 2h 30m`, `5s ago`.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let seconds = at.as_second() - now.as_second();
    let magnitude = seconds.unsigned_abs();
    let text = match magnitude {
        0..60 => format!("{magnitude}s"),
        60..3600 => format!("{}m {}s", magnitude / 60, magnitude % 60),
        3600..86_400 => format!("{}h {}m", magnitude / 3600, magnitude % 3600 / 60),
        _ => format!("{}d {}h", magnitude / 86_400, magnitude % 86_400 / 3600),
    };
    if seconds >= 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}
