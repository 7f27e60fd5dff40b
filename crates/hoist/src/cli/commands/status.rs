//! `list` and `status ENV`.

use crate::cli::args::{EnvArgs, GlobalArgs};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops::status::{EnvStatus, EnvSummary, HostStatus};
use crate::ops::{self};
use crate::ports::runtime::SupervisedStatus;

pub fn list(global: &GlobalArgs, printer: Printer) -> Result<()> {
    let app = session::open(global)?;
    let rows = ops::list(&app.context())?;
    printer.print(&rows, |rows| {
        let mut text = format!("{:<20} {:<12} {:<26} {}\n", "ENV", "STATE", "LIVE", "NOTE");
        for row in rows {
            text.push_str(&format!(
                "{:<20} {:<12} {:<26} {}\n",
                row.name,
                state(row),
                live(row),
                note(row)
            ));
        }
        text
    })
}

pub fn status(global: &GlobalArgs, args: &EnvArgs, printer: Printer) -> Result<()> {
    let app = session::for_env(global, &args.env)?;
    let report = ops::status(
        &app.context(),
        &ops::StatusOptions {
            env: args.env.clone(),
        },
    )?;
    let invocation = app.invocation.clone();
    printer.print(&report, |report| render(report, &invocation))
}

/// `invocation`: how to spell hoist in the command that continues a failed step.
fn render(status: &EnvStatus, invocation: &str) -> String {
    let summary = &status.summary;
    let mut text = format!(
        "environment: {}\nstate:       {}\nlive:        {}\n",
        summary.name,
        state(summary),
        live(summary)
    );
    if let Some(pending) = &summary.pending_release {
        text.push_str(&format!("pending:     {pending}\n"));
    }
    if let Some(failure) = &summary.failure {
        text.push_str(&format!(
            "failed step: {} at {}: {}\n",
            failure.step, failure.at, failure.error
        ));
        text.push_str(&format!(
            "continue:    {invocation} deploy {}\n",
            summary.name
        ));
    }
    if let Some(url) = &status.url {
        text.push_str(&format!("url:         {url}\n"));
    }
    for host in &status.hosts {
        text.push_str(&render_host(host));
    }
    if let Some(command) = &status.last_command {
        let error = command
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        text.push_str(&format!(
            "last:        #{} {} {} by {}{error}\n",
            command.id, command.kind, command.status, command.requested_by
        ));
    }
    text
}

fn state(row: &EnvSummary) -> String {
    row.state.map_or("(new)".to_owned(), |s| s.to_string())
}

fn live(row: &EnvSummary) -> String {
    row.live_release
        .as_ref()
        .map_or("-".to_owned(), ToString::to_string)
}

fn note(row: &EnvSummary) -> String {
    match (&row.failure, row.in_spec) {
        (Some(failure), _) => format!("failed at {}: {}", failure.step, failure.error),
        (None, false) => "not in the spec".to_owned(),
        (None, true) => String::new(),
    }
}

/// One host: what is live, the serving instance and its supervision, health now, the
/// supervisor and the boot entry; an unreachable host says so instead of "nothing".
fn render_host(host: &HostStatus) -> String {
    if !host.reachable {
        let error = host.error.as_deref().unwrap_or("unknown error");
        return format!(
            "host:        {}  UNREACHABLE (what runs there is unknown)\n             error: {error}\n",
            host.address
        );
    }
    let live = host
        .live_release
        .as_ref()
        .map_or("nothing".to_owned(), ToString::to_string);
    let mut text = format!("host:        {}  live: {live}\n", host.address);
    let instance = match &host.instance {
        Some(state) => {
            let supervision = state.supervision.as_ref();
            let status = match (state.alive, supervision.map(|s| s.status)) {
                (_, Some(SupervisedStatus::CrashLooping)) => "CRASH-LOOPING".to_owned(),
                (false, Some(SupervisedStatus::Restarting)) => format!(
                    "restarting{}",
                    supervision
                        .and_then(|s| s.next_restart_at.as_deref())
                        .map(|at| format!(" at {at}"))
                        .unwrap_or_default()
                ),
                (true, _) => "up".to_owned(),
                (false, _) => "DEAD".to_owned(),
            };
            let mut line = format!(
                "{status}, pid {}, `{}` on port {}",
                state.instance.pid, state.instance.release, state.instance.port
            );
            if state.alive {
                line.push_str(&format!(", up since {}", state.instance.started_at));
            }
            match supervision {
                Some(s) => {
                    line.push_str(&format!(", restarts {}", s.restarts));
                    if let Some(exit) = &s.last_exit {
                        line.push_str(&format!(", last exit {} at {}", exit.status, exit.at));
                    }
                }
                None => line.push_str(", not supervised"),
            }
            line
        }
        None => "none".to_owned(),
    };
    text.push_str(&format!("  instance:  {instance}\n"));
    if let Some(state) = host.instance.as_ref().filter(|s| !s.services.is_empty()) {
        let services: Vec<String> = state
            .services
            .iter()
            .map(|s| format!("{} {} ({})", s.service, s.state, s.container))
            .collect();
        text.push_str(&format!("  services:  {}\n", services.join(", ")));
    }
    if let Some(health) = &host.health {
        let health = match health {
            Ok(answer) => format!("healthy ({answer})"),
            Err(answer) => format!("FAILING ({answer})"),
        };
        text.push_str(&format!("  health:    {health}\n"));
    }
    if let Some(entry) = &host.boot_entry {
        let supervisor = match &host.supervisor {
            Some(state) if state.alive => format!("running (pid {})", state.pid),
            Some(state) => format!("NOT RUNNING (was pid {})", state.pid),
            None => "never started".to_owned(),
        };
        text.push_str(&format!("  supervisor: {supervisor}\n"));
        let boot = match entry.installed {
            true => format!("installed ({})", entry.detail),
            false => format!("MISSING ({})", entry.detail),
        };
        text.push_str(&format!("  boot entry: {boot}\n"));
    }
    if let Some(error) = &host.error {
        text.push_str(&format!("  error:     {error}\n"));
    }
    text
}
