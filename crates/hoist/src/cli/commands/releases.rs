//! `releases list|remove|prune`.

use crate::cli::args::{GlobalArgs, ReleasesCommand};
use crate::cli::commands::submit::submit;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops::command_request::CommandRequest;
use crate::ops::{self, releases::ReleaseRow};

pub fn exec(global: &GlobalArgs, command: &ReleasesCommand, printer: Printer) -> Result<()> {
    match command {
        ReleasesCommand::List(args) => {
            let app = session::for_env(global, &args.env)?;
            let rows = ops::list_releases(
                &app.context(),
                &ops::ListReleasesOptions {
                    env: args.env.clone(),
                },
            )?;
            printer.print(&rows, |rows| render(rows))
        }
        ReleasesCommand::Remove { env, id, schedule } => {
            let request = CommandRequest::Remove {
                env: env.clone(),
                id: id.clone(),
            };
            submit(global, request, schedule, printer)
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
            submit(global, request, schedule, printer)
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
