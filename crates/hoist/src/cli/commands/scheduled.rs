//! `--at`/`--in` on any state-changing command: instead of running it, record it as a
//! scheduled Command for `hoist serve` to run at its time.

use hoist_core::schedule::{DEFAULT_START_WITHIN, When};
use jiff::Timestamp;

use crate::cli::args::{GlobalArgs, ScheduleArgs};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::{Error, Result};
use crate::ops::command_request::CommandRequest;
use crate::ops::commands::{self, Scheduled, relative};

/// When the command was asked for later: `None` runs it now. `--start-within` alone is a
/// mistake worth naming.
pub fn when(schedule: &ScheduleArgs) -> Result<Option<When>> {
    match (schedule.at, schedule.after) {
        (Some(at), _) => Ok(Some(When::At(at))),
        (None, Some(after)) => Ok(Some(When::In(after))),
        (None, None) if schedule.start_within.is_some() => Err(Error::failed(
            "`--start-within` applies only to a scheduled command",
        )
        .hint("add `--at TIME` or `--in DURATION`, or leave `--start-within` out")),
        (None, None) => Ok(None),
    }
}

/// Records `request` to run `when`, and says when it will run (and whether anyone will).
pub fn submit(
    global: &GlobalArgs,
    request: CommandRequest,
    when: When,
    schedule: &ScheduleArgs,
    printer: Printer,
) -> Result<()> {
    let app = session::for_env(global, request.env())?;
    let ctx = app.context();
    let scheduled = commands::schedule(
        &ctx,
        &commands::ScheduleOptions {
            request,
            when,
            start_within: schedule.start_within.unwrap_or(DEFAULT_START_WITHIN),
            requested_token: None,
            requested_by: None,
        },
    )?;
    if !scheduled.served {
        ctx.progress.note(
            "no controller serves this store: it will run once `hoist serve` does \
             (if that is before it expires)",
        );
    }
    let now = ctx.clock.now();
    printer.print(&scheduled, |scheduled| render(scheduled, now))
}

pub fn render(scheduled: &Scheduled, now: Timestamp) -> String {
    let command = &scheduled.command;
    let at = command
        .execute_at
        .map(|at| format!("{at} ({})", relative(at, now)))
        .unwrap_or_default();
    let expires = command
        .expires_at
        .map(|at| format!("\nexpires: {at} unless it has started by then"))
        .unwrap_or_default();
    format!(
        "scheduled command {}: {} {} at {at}{expires}\ncancel with `hoist commands cancel {}`",
        command.id, command.kind, command.env, command.id
    )
}
