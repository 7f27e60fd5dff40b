//! `releases list|remove|prune`.

use crate::cli::args::{GlobalArgs, ReleasesCommand};
use crate::cli::commands::{remote, scheduled};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops::command_request::CommandRequest;
use crate::ops::{self, releases::ReleaseRow};

pub fn exec(global: &GlobalArgs, command: &ReleasesCommand, printer: Printer) -> Result<()> {
    let env = match command {
        ReleasesCommand::List(args) => &args.env,
        ReleasesCommand::Remove { env, id, schedule } => {
            let request = CommandRequest::Remove {
                env: env.clone(),
                id: id.clone(),
            };
            if let Some(api) = session::remote()? {
                return remote::exec(&api, request, schedule, printer);
            }
            if let Some(when) = scheduled::when(schedule)? {
                return scheduled::submit(global, request, when, schedule, printer);
            }
            env
        }
        ReleasesCommand::Prune {
            env,
            keep,
            schedule,
        } => {
            let request = CommandRequest::Prune {
                env: env.clone(),
                keep: *keep,
            };
            if let Some(api) = session::remote()? {
                return remote::exec(&api, request, schedule, printer);
            }
            if let Some(when) = scheduled::when(schedule)? {
                return scheduled::submit(global, request, when, schedule, printer);
            }
            env
        }
    };
    let app = session::for_env(global, env)?;
    let ctx = app.context();
    match command {
        ReleasesCommand::List(args) => {
            let rows = ops::list_releases(
                &ctx,
                &ops::ListReleasesOptions {
                    env: args.env.clone(),
                },
            )?;
            printer.print(&rows, |rows| render(rows))
        }
        ReleasesCommand::Remove { env, id, .. } => {
            let options = ops::RemoveReleaseOptions {
                env: env.clone(),
                id: id.clone(),
            };
            printer.outcome(&ops::remove_release(&ctx, &options)?)
        }
        ReleasesCommand::Prune { env, keep, .. } => {
            let options = ops::PruneOptions {
                env: env.clone(),
                keep: *keep,
            };
            printer.outcome(&ops::prune(&ctx, &options)?)
        }
    }
}

fn render(rows: &[ReleaseRow]) -> String {
    if rows.is_empty() {
        return "no releases".to_owned();
    }
    let mut text = format!(
        "{:<26} {:<9} {:<26} {}\n",
        "RELEASE", "STATUS", "CREATED", "HOST"
    );
    for row in rows {
        let status = serde_json::to_value(row.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let created = row.created_at.get(..19).unwrap_or(&row.created_at);
        text.push_str(&format!(
            "{:<26} {:<9} {:<26} {}\n",
            row.id, status, created, row.host
        ));
        if let Some(error) = &row.error {
            text.push_str(&format!("{:<26} {error}\n", ""));
        }
    }
    text
}
