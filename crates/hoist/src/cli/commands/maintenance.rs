//! `maintenance on|off ENV`.

use crate::cli::args::{GlobalArgs, MaintenanceArgs, Switch};
use crate::cli::commands::{remote, scheduled};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops;
use crate::ops::command_request::CommandRequest;

pub fn exec(global: &GlobalArgs, args: &MaintenanceArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Maintenance {
        env: args.env.clone(),
        on: args.switch == Switch::On,
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let options = ops::MaintenanceOptions {
        env: args.env.clone(),
        on: args.switch == Switch::On,
    };
    printer.outcome(&ops::maintenance(&app.context(), &options)?)
}
