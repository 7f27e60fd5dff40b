//! `list` and `status ENV`.

use crate::cli::args::{EnvArgs, GlobalArgs};
use crate::cli::printer::Printer;
use crate::cli::session::Session;
use crate::error::Result;
use crate::ops::status::{EnvStatus, EnvSummary};
use crate::ops::{self};

pub fn list(global: &GlobalArgs, printer: Printer) -> Result<()> {
    let session = Session::open(global)?;
    let rows = ops::list(&session.context())?;
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
    let session = Session::for_env(global, &args.env)?;
    let report = ops::status(
        &session.context(),
        &ops::StatusOptions {
            env: args.env.clone(),
        },
    )?;
    let invocation = session.invocation.clone();
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
        let instance = match &host.instance {
            Some(state) if state.alive => format!(
                "pid {} ({}) on port {}",
                state.instance.pid, state.instance.release, state.instance.port
            ),
            Some(state) => format!(
                "dead (was pid {}, {})",
                state.instance.pid, state.instance.release
            ),
            None => "none".to_owned(),
        };
        let live = host
            .live_release
            .as_ref()
            .map_or("nothing".to_owned(), ToString::to_string);
        text.push_str(&format!(
            "host:        {}  live: {live}  instance: {instance}\n",
            host.address
        ));
        if let Some(error) = &host.error {
            text.push_str(&format!("             error: {error}\n"));
        }
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
