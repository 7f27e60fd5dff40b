//! `commands list|show|cancel|reschedule`: the recorded Commands, scheduled ones included —
//! from the store, or through the daemon's API when `HOIST_SERVER` is set.

use jiff::Timestamp;

use crate::cli::args::{CommandsCommand, GlobalArgs};
use crate::cli::commands::command_source::CommandSource;
use crate::cli::commands::scheduled;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::{Error, Result};
use crate::ops::commands::{self, relative};
use crate::ports::store::{CommandFilter, CommandRecord};

pub fn exec(global: &GlobalArgs, command: &CommandsCommand, printer: Printer) -> Result<()> {
    let remote = session::remote()?;
    let local;
    let source = match &remote {
        Some(api) => CommandSource::Api(api),
        None => {
            local = session::open(global)?;
            CommandSource::Store(Box::new(local.context()))
        }
    };
    let now = Timestamp::now();
    match command {
        CommandsCommand::List { env, status, limit } => {
            let filter = CommandFilter {
                env: env.clone(),
                status: *status,
                limit: *limit,
            };
            let rows = source.list(&filter)?;
            printer.print(&rows, |rows| render_list(rows, now))
        }
        CommandsCommand::Show { id } => {
            let command = source.show(*id)?;
            printer.print(&command, |command| render_one(command, now))
        }
        CommandsCommand::Cancel { id } => {
            let command = source.cancel(*id)?;
            printer.print(&command, |command| {
                format!(
                    "cancelled command {}: {} {}",
                    command.id, command.kind, command.env
                )
            })
        }
        CommandsCommand::Reschedule { id, schedule } => {
            let when = scheduled::when(schedule)?.ok_or_else(|| {
                Error::failed("`reschedule` needs the new time").hint(format!(
                    "e.g. `hoist commands reschedule {id} --in 1h` or `--at 2026-12-04T09:00:00Z`"
                ))
            })?;
            let options = commands::RescheduleOptions {
                id: *id,
                when,
                start_within: schedule.start_within,
            };
            let command = source.reschedule(&options)?;
            printer.print(&command, |command| {
                let at = command
                    .execute_at
                    .map(|at| format!("{at} ({})", relative(at, now)));
                format!(
                    "rescheduled command {}: {} {} at {}",
                    command.id,
                    command.kind,
                    command.env,
                    at.unwrap_or_default()
                )
            })
        }
    }
}

fn render_list(rows: &[CommandRecord], now: Timestamp) -> String {
    if rows.is_empty() {
        return "no commands".to_owned();
    }
    let mut text = format!(
        "{:>5}  {:<11} {:<11} {:<14} {:<22} {}\n",
        "ID", "STATUS", "ACTION", "ENV", "WHEN", "BY"
    );
    for command in rows {
        text.push_str(&format!(
            "{:>5}  {:<11} {:<11} {:<14} {:<22} {}\n",
            command.id,
            command.status.as_str(),
            command.kind.as_str(),
            command.env.as_str(),
            when(command, now),
            command.requested_by
        ));
    }
    text
}

/// The time that matters for its status: when it runs, started or ended.
fn when(command: &CommandRecord, now: Timestamp) -> String {
    let at = match command.status {
        hoist_core::CommandStatus::Scheduled => command.execute_at,
        hoist_core::CommandStatus::Running => command.started_at,
        _ => command.finished_at.or(command.started_at),
    };
    at.or(Some(command.created_at))
        .map(|at| relative(at, now))
        .unwrap_or_default()
}

fn render_one(command: &CommandRecord, now: Timestamp) -> String {
    let mut text = format!(
        "command {}: {} {}\nstatus:       {}\nrequested by: {}\ncreated:      {}\n",
        command.id,
        command.kind,
        command.env,
        command.status,
        command.requested_by,
        command.created_at
    );
    let mut line = |label: &str, at: Option<Timestamp>| {
        if let Some(at) = at {
            text.push_str(&format!("{label:<13} {at} ({})\n", relative(at, now)));
        }
    };
    line("execute at:", command.execute_at);
    line("expires at:", command.expires_at);
    line("started:", command.started_at);
    line("finished:", command.finished_at);
    if let Some(controller) = &command.claimed_by {
        text.push_str(&format!("claimed by:   {controller}\n"));
    }
    if let Some(error) = &command.error {
        text.push_str(&format!("error:        {error}\n"));
    }
    for step in &command.steps {
        let mark = if step.ok { "✓" } else { "✗" };
        text.push_str(&format!(
            "  {mark} {:<28} {:>6.1}s{}\n",
            step.step,
            step.elapsed_ms as f64 / 1000.0,
            step.detail
                .as_deref()
                .map(|d| format!("  {d}"))
                .unwrap_or_default()
        ));
    }
    text
}
