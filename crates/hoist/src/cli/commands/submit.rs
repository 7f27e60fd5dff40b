//! The one path of every state-changing command (`create` … `deploy`, `rollback`, `restart`,
//! `maintenance`, `releases remove|prune`, `destroy`): through the daemon when
//! `HOIST_SERVER` is set, recorded for later with `--at`/`--in`, or run here — by the same
//! `CommandRequest::execute` the daemon's scheduler runs, so both run the same code.

use crate::cli::args::{GlobalArgs, ScheduleArgs};
use crate::cli::commands::{remote, scheduled};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops::command_request::CommandRequest;

pub fn submit(
    global: &GlobalArgs,
    request: CommandRequest,
    schedule: &ScheduleArgs,
    printer: Printer,
) -> Result<()> {
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, schedule, printer);
    }
    if let Some(when) = scheduled::when(schedule)? {
        return scheduled::submit(global, request, when, schedule, printer);
    }
    let app = session::for_env(global, request.env())?;
    let outcome = request.execute(&app.context())?;
    printer.outcome(&outcome)
}
