//! A state-changing command sent to the daemon named by `HOIST_SERVER` instead of run on
//! the store: the same `CommandRequest` the local command would run or schedule. Without
//! `--at`/`--in` the daemon runs it at once and the CLI follows it to its end — its steps
//! on stderr, exit 0 or its error — as if it had run here.

use std::io::Write;
use std::time::Duration;

use hoist_core::CommandStatus;
use hoist_core::schedule::When;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::adapters::api_client::ApiClient;
use crate::cli::args::ScheduleArgs;
use crate::cli::commands::scheduled;
use crate::cli::printer::Printer;
use crate::error::{Error, Result};
use crate::ops::command_request::CommandRequest;
use crate::ops::commands::Scheduled;
use crate::ports::store::CommandRecord;

const POLL: Duration = Duration::from_millis(100);

/// `POST /api/commands`'s answer.
#[derive(Debug, Deserialize)]
struct Accepted {
    command: CommandRecord,
    served: bool,
}

/// Sends `request` (with `--at`/`--in`/`--start-within`), then prints what the local
/// command would: the scheduled command, or — run now — the command followed to its end.
pub fn exec(
    api: &ApiClient,
    request: CommandRequest,
    schedule: &ScheduleArgs,
    printer: Printer,
) -> Result<()> {
    let when = scheduled::when(schedule)?;
    let mut body = serde_json::to_value(&request)
        .map_err(|e| Error::internal("cannot encode the command").cause(e))?;
    if let Some(when) = when {
        body["at"] = serde_json::Value::String(at(when)?.to_string());
    }
    if let Some(window) = schedule.start_within {
        body["start_within"] = serde_json::Value::String(duration_text(window));
    }
    let accepted: Accepted = api.post("/api/commands", &body)?;
    if when.is_some() {
        if !accepted.served {
            progress(
                "no controller serves this store: it will run once `hoist serve` does \
                 (if that is before it expires)",
            );
        }
        let scheduled = Scheduled {
            command: accepted.command,
            served: accepted.served,
        };
        let now = Timestamp::now();
        return printer.print(&scheduled, |scheduled| scheduled::render(scheduled, now));
    }
    let command = &accepted.command;
    progress(&format!(
        "command {}: {} {} sent to {}",
        command.id, command.kind, command.env, api.server
    ));
    let last = follow(api, command.id)?;
    finish(&last, printer)
}

/// `--at` as is; `--in` from now, on this machine's clock.
fn at(when: When) -> Result<Timestamp> {
    match when {
        When::At(at) => Ok(at),
        When::In(after) => SignedDuration::try_from(after)
            .ok()
            .and_then(|after| Timestamp::now().checked_add(after).ok())
            .ok_or_else(|| {
                Error::failed("`--in` is too far in the future")
                    .hint("give a shorter duration, or a time with `--at`")
            }),
    }
}

/// A duration as the API reads it (`90s`, `1500ms`).
pub fn duration_text(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// Polls the command until it has left `scheduled` and `running`, printing each new step.
fn follow(api: &ApiClient, id: i64) -> Result<CommandRecord> {
    let path = format!("/api/commands/{id}");
    let mut printed = 0;
    loop {
        let command: CommandRecord = api.get(&path)?;
        for step in command.steps.iter().skip(printed) {
            printed += 1;
            let mark = if step.ok { "✓" } else { "✗" };
            let detail = step
                .detail
                .as_deref()
                .map(|detail| format!("  {detail}"))
                .unwrap_or_default();
            progress(&format!(
                "[{printed}] {} {mark} {:.1}s{detail}",
                step.step,
                step.elapsed_ms as f64 / 1000.0
            ));
        }
        if !matches!(
            command.status,
            CommandStatus::Scheduled | CommandStatus::Running
        ) {
            return Ok(command);
        }
        std::thread::sleep(POLL);
    }
}

/// Exit 0 with a short message on success; else the command's error (exit 1). With
/// `--json` the final record is printed either way.
fn finish(command: &CommandRecord, printer: Printer) -> Result<()> {
    let succeeded = command.status == CommandStatus::Succeeded;
    printer.print(command, |command| {
        if succeeded {
            format!(
                "{} {}: done (command {})",
                command.kind, command.env, command.id
            )
        } else {
            String::new()
        }
    })?;
    if succeeded {
        return Ok(());
    }
    let message = match &command.error {
        Some(error) => format!(
            "{} {} {}: {error}",
            command.kind, command.env, command.status
        ),
        None => format!("{} {} {}", command.kind, command.env, command.status),
    };
    let error = Error::failed(message).hint(format!(
        "see its steps with `hoist commands show {}`",
        command.id
    ));
    Err(if printer.json {
        error.answered()
    } else {
        error
    })
}

fn progress(line: &str) {
    let line = crate::known_secrets::KnownSecrets::process().mask(line);
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
